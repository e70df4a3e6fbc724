"""Demo data: a realistic synthetic workspace for trying the product and benchmarking it."""
