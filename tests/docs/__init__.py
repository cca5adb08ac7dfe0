"""The documentation stays true to the code: topics, rules, commands, links."""
