"""cakupan: village lists of pekerja rentan reconciled with BPJS Ketenagakerjaan membership, and the coverage they give.

Importing the package sets how polars' memory allocator returns memory (``ALLOCATOR``), so every entry point (the
``cakupan`` command, the flows Prefect loads, the benchmarks) imports it before polars.
"""

from __future__ import annotations

import os

# polars allocates through jemalloc and has it hand freed pages back to the system after half a second
# (dirty_decay_ms:500, for a notebook that should not hold memory it no longer uses), and every buffer over 8 MiB
# (a column of a large frame) the moment it is freed: jemalloc serves those from an arena of their own whose pages
# are never kept. A run frees gigabytes and allocates as much again a second later, and each page handed back is
# faulted in and zeroed again. Ten seconds, jemalloc's own default, for both kinds of freed page: a national
# reconciliation took 42-46 s with polars' setting and 38-39.5 s with ten seconds for the small buffers alone; its
# sorted write then took 22.4 s with the large buffers kept as well, against 25.5 s (medians of 3, taken in turn),
# for a quarter of a GiB more at its peak. jemalloc reads it once, when polars loads; a value already in the environment
# is the operator's and is kept (polars writes its own there when it loads first, so this then changes nothing).
ALLOCATOR_VARIABLE = "_RJEM_MALLOC_CONF"
ALLOCATOR = "oversize_threshold:0,dirty_decay_ms:10000,muzzy_decay_ms:10000"

os.environ.setdefault(ALLOCATOR_VARIABLE, ALLOCATOR)
