"""cakupan: village lists of pekerja rentan reconciled with BPJS Ketenagakerjaan membership, and the coverage they give.

Importing the package sets how polars' memory allocator returns memory (``ALLOCATOR``), so every entry point (the
``cakupan`` command, the flows Prefect loads, the benchmarks) imports it before polars.
"""

from __future__ import annotations

import os

# polars allocates through jemalloc and has it hand freed pages back to the system after half a second
# (dirty_decay_ms:500, for a notebook that should not hold memory it no longer uses). A run frees gigabytes and
# allocates as much again a second later, and each page handed back is faulted in again: a national
# reconciliation took 42-46 s with polars' setting and 38-39.5 s with jemalloc's own default, ten seconds, for a
# quarter of a GiB more at its peak. jemalloc reads it once, when polars loads; a value already in the environment
# is the operator's and is kept (polars writes its own there when it loads first, so this then changes nothing).
ALLOCATOR_VARIABLE = "_RJEM_MALLOC_CONF"
ALLOCATOR = "dirty_decay_ms:10000"

os.environ.setdefault(ALLOCATOR_VARIABLE, ALLOCATOR)
