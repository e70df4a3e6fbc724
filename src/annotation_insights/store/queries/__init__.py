"""Every SQL statement the product runs, with bound `:name` parameters only, one module
per part of the product: `tenancy` (workspaces, keys, names), `batch` (the batch
engine's validation and session facts), `ingest` (storing batches and merging their
rollups), `stats` (SPEC §5's answers and time series) and `connectors`.

Optional filters are written as `(CAST(:x AS TEXT) IS NULL OR col = :x)` so one text
serves every combination of filters on both backends.
"""
