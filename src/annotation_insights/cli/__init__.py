"""The `annotation-insights` command line."""
