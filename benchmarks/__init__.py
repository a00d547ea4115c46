"""`make bench`: deterministic inputs at three sizes, each stage timed against DuckDB and the I/O floor."""
