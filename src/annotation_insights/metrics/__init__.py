"""Metrics: SPEC §4–§5 defined once (`definitions`) and the staged stats query (`query`)."""
