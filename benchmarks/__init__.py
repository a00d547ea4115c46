"""`make bench`: deterministic inputs at three sizes, each stage timed against DuckDB and the I/O floor."""

# Every measurement runs with the allocator setting cakupan's own processes use (cakupan/__init__.py): this package is
# imported before any of its modules, and so before polars.
import cakupan  # noqa: F401
