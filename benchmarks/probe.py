"""How quick one core of the machine is now: ``python -m benchmarks.probe`` prints the seconds of fixed work as JSON.

benchmarks/run.py runs it in a fresh process (polars on one thread) before and after each group of measurements.
Cloud machines of the same name and size took from one to three times as long for the same measurements from one
session to the next, and one machine's speed moved by a third within an evening: the seconds of two tables compare
only beside their probes. It imports polars alone, so a probe costs a second or two.
"""

from __future__ import annotations

import io
import json
import statistics
import time

import polars as pl

# The fixed work: a few tenths of a second each on a 2-core cloud machine.
LOOP = 3_000_000
ROWS = 1_000_000


def speed_probe(rounds: int = 3) -> dict[str, float]:
    """Seconds for a fixed pure-Python loop and a fixed Parquet round trip (zstd, in memory), medians of ``rounds``;
    with POLARS_MAX_THREADS=1 both are one core's."""
    frame = pl.DataFrame({"n": pl.int_range(ROWS, eager=True)}).with_columns(
        pl.col("n").cast(pl.String).alias("text"), (pl.col("n") * 7919 % 1_000_003).alias("mixed")
    )
    loops, trips = [], []
    for _ in range(rounds):
        started = time.perf_counter()
        total = 0
        for i in range(LOOP):
            total += i
        loops.append(time.perf_counter() - started)
        started = time.perf_counter()
        buffer = io.BytesIO()
        frame.write_parquet(buffer, compression="zstd")
        buffer.seek(0)
        pl.read_parquet(buffer)
        trips.append(time.perf_counter() - started)
    return {"python_loop_s": round(statistics.median(loops), 3), "parquet_s": round(statistics.median(trips), 3)}


if __name__ == "__main__":
    print(json.dumps(speed_probe()))
