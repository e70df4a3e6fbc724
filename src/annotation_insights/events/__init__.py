"""Events: the SPEC §3 schema, its validation, and ingestion into the store."""
