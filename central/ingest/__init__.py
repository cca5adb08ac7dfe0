"""Hub ingest: MQTT subscriber, total decode, validation, idempotent storage or quarantine."""
