"""Dashboard tests: the time-series and CSV endpoints, the page, and the page in Chromium."""
