"""The hub's HTTP side: one blueprint module per page group, plus the JSON API."""
