"""What leaves the box: the outbox, the sender, egress (the only way out), the ledger and its digests."""
