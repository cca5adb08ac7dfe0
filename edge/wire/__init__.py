"""What box and hub share: the wire contract (messages, keys, ledger entries) and process conventions."""
