"""Connectors: labeling tools and files in, SPEC §3 events out (see docs/connectors.md)."""
