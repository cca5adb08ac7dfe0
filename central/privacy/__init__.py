"""The privacy officer's side: egress verification, inventory, register, retention, subject access."""
