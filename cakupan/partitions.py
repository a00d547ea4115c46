"""Splitting a run into partitions that can be processed independently and give the one-pass answer.

Two keys, because the reconciliation asks two kinds of question:
- every question about one NIK (its rows' duplicates, its names, its exact match in the export, its member
  duplicates) is answered inside the partition of ``nik_partition``: the range of NIKs it falls in
  (``nik_ranges``, cut where the run's listed NIKs divide evenly);
- the near-match question (same birth date, NIKs one typo apart) is answered inside the partition of
  ``birth_date_partition``: a near pair always shares its birth date, whatever digit the typo hit.

Both keys are plain arithmetic on the values and the run's inputs, so a partition holds the same rows on every
machine and polars version; the outputs never depend on the number of partitions (the final tables are sorted by
their keys). NIK ranges, not a hash, because the result is ordered by NIK: the rows of one status come out of the
partitions one after another already in order, and the finish need not sort them again.

Partitions live in a run's scratch location, a folder or an fsspec URL (``file://``, ``s3://``, ...) that every
process of the run reaches: polars reads and writes the files (natively for cloud stores), fsspec lists them.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from upath import UPath

from cakupan.nik import NIK_PATTERN

# Below this many list rows plus export rows one pass is quicker than the bookkeeping of partitions.
ROWS_PER_PARTITION = 2_000_000
# Scratch is written once and read back once or twice within the run, so it is written for speed. On this
# machine's disk the CPU is what a run waits for: no compression, which writes in three quarters of lz4's time and
# reads in two thirds, for files twice as large (a national run's matched rows). Across a network (an fsspec URL
# that is not a local path) the bytes are: lz4, which writes a quarter faster than zstd. No statistics either: no
# reader skips a scratch row group (their rows are in no useful order), and computing them cost a tenth of a write.
_LOCAL_PROTOCOLS = ("", "file", "local")


def _scratch_parquet(folder: UPath) -> dict[str, Any]:
    compression = "uncompressed" if folder.protocol in _LOCAL_PROTOCOLS else "lz4"
    return {"compression": compression, "statistics": False}


@dataclass(frozen=True)
class NikRanges:
    """A run's NIK partitions: partition ``i`` holds the 16-digit NIKs from ``cuts[i - 1]`` up to below ``cuts[i]``
    (read as numbers); a NIK that is not 16 digits goes by its hash."""

    partitions: int
    cuts: tuple[int, ...] = ()


def nik_ranges(niks: pl.LazyFrame | pl.DataFrame, partitions: int) -> NikRanges:
    """``partitions`` ranges that hold about as many of ``niks`` (a frame with a ``nik`` column, as cleaned) each.

    Cut at the listed NIKs, not at fixed region codes: a country's provinces differ thirtyfold in people. The
    export's members fall into the same ranges, and live where the listed people do (a national run's thirty
    partitions held 1.65-1.67 million members each).
    """
    if partitions <= 1:
        return NikRanges(max(partitions, 1))
    numbers = niks.lazy().select(_nik_number(pl.col("nik")).drop_nulls().sort()).collect().to_series()
    if numbers.is_empty():
        return NikRanges(partitions)
    return NikRanges(partitions, tuple(int(numbers[numbers.len() * i // partitions]) for i in range(1, partitions)))


def _nik_number(nik: pl.Expr) -> pl.Expr:
    return pl.when(nik.str.contains(NIK_PATTERN)).then(nik.cast(pl.UInt64, strict=False))


def nik_partition(nik: pl.Expr, ranges: NikRanges) -> pl.Expr:
    """Partition of a NIK: the range of ``ranges`` its 16 digits fall in, read as a number.

    A value that is not 16 digits (rows that will be rejected) is keyed by polars' hash of its characters, so equal
    values still meet; a null goes to partition 0.
    """
    cuts = np.array(ranges.cuts, dtype=np.uint64)

    # A batch at a time, the NIK worked out once per row (a cleaned NIK is dear: tested, read as a number and hashed
    # as three expressions, it was cleaned three times), its range found by numpy's binary search. polars'
    # search_sorted is not row by row, so the streaming engine held a national export whole to split it (13 GiB);
    # a comparison per cut cleaned the NIK once per cut (a national list's rows split in 336 s instead of 68).
    def partition_of(niks: pl.Series) -> pl.Series:
        numbers = niks.to_frame("nik").select(_nik_number(pl.col("nik"))).to_series()
        found = pl.Series(np.searchsorted(cuts, numbers.fill_null(0).to_numpy(), side="right"), dtype=pl.UInt64)
        partition = pl.when(numbers.is_not_null()).then(found).when(niks.is_not_null())
        return pl.select(partition.then(niks.hash() % ranges.partitions).otherwise(0)).to_series().cast(pl.UInt32)

    return nik.map_batches(partition_of, return_dtype=pl.UInt32, is_elementwise=True)


def birth_date_partition(birth_date: pl.Expr, partitions: int) -> pl.Expr:
    """Partition of a birth date: days since 1970 modulo ``partitions``; no date goes to partition 0."""
    days = birth_date.cast(pl.Int32).cast(pl.Int64)
    return (days % partitions).fill_null(0).cast(pl.UInt32)


def choose_partitions(configured: int, rows: int) -> int:
    """The configured number, or (0) one partition per ``ROWS_PER_PARTITION`` rows of input."""
    if configured > 0:
        return configured
    return max(1, math.ceil(rows / ROWS_PER_PARTITION))


def near_partitions(partitions: int) -> int:
    """Birth-date partitions of the near pass in a run of ``partitions`` NIK partitions: a quarter as many.

    The near pass holds only the persons not found under their NIK and the few members they may pair with (a
    national run: 9 of its 60 million rows), and every exact task writes one piece of each near partition: as many
    near partitions as NIK partitions made 900 small files, and a national reconciliation took 1.2 s longer.
    """
    return max(1, math.ceil(partitions / 4))


def estimated_rows(export_file: Path) -> int:
    """Rows of an export judged by its size (a BPJS export row is about 100 bytes), to size partitions early."""
    return export_file.stat().st_size // 100


def location(path: str | os.PathLike[str] | UPath) -> UPath:
    """A folder or file of a run's scratch: a local path or an fsspec URL, joined with ``/`` either way."""
    return path if isinstance(path, UPath) else UPath(path)


def remove(folder: str | os.PathLike[str] | UPath) -> None:
    """Delete a scratch folder and all in it; nothing when it is not there."""
    folder = location(folder)
    with contextlib.suppress(FileNotFoundError):
        if folder.exists():
            folder.fs.rm(folder.path, recursive=True)


def split(
    frame: pl.LazyFrame | pl.DataFrame, key: pl.Expr, partitions: int, folder: str | os.PathLike[str] | UPath
) -> UPath:
    """Write ``frame`` into ``folder`` as Parquet files by partition ``key``, streaming; rows keep their order.

    Read a partition back with ``scan_part``; a partition no row fell into has no file.
    """
    folder = location(folder)
    _sink_by_partition(frame.lazy().with_columns(key.alias("_partition")), folder, lambda index, n: (index, n))
    frame.lazy().head(0).sink_parquet(str(folder / "_schema.parquet"))
    return folder


def _sink_by_partition(keyed: pl.LazyFrame, folder: UPath, numbered: Callable[[int, int], tuple[int, int]]) -> None:
    """Stream ``keyed`` into ``folder``, a file per value of its ``_partition`` column (left out of the files):
    ``part-<partition>.<n>.parquet``, the two numbers ``numbered`` gives for a partition and the index of the
    file within it."""
    folder.mkdir(parents=True, exist_ok=True)

    def name(args: pl.io.partition.FileProviderArgs) -> str:
        return _part_name(*numbered(int(args.partition_keys["_partition"][0]), args.index_in_partition))

    keyed.sink_parquet(
        pl.PartitionBy(
            str(folder), key="_partition", include_key=False, file_path_provider=name, approximate_bytes_per_file=None
        ),
        mkdir=True,
        **_scratch_parquet(folder),
    )


def _part_name(index: int, n: int) -> str:
    return f"part-{index:04d}.{n:04d}.parquet"


def part_path(folder: str | os.PathLike[str] | UPath, index: int, *, mkdir: bool = False) -> str:
    """Where a per-partition writer puts partition ``index`` of ``folder`` (read back by ``scan_part``)."""
    folder = location(folder)
    if mkdir:
        folder.mkdir(parents=True, exist_ok=True)
    return str(folder / _part_name(index, 0))


def write_part(frame: pl.DataFrame | pl.LazyFrame, folder: str | os.PathLike[str] | UPath, index: int) -> None:
    """Write partition ``index`` of ``folder`` from a per-partition task (read back by ``scan_part``); a lazy frame
    is streamed."""
    folder = location(folder)
    path, settings = part_path(folder, index, mkdir=True), _scratch_parquet(folder)
    if isinstance(frame, pl.LazyFrame):
        frame.sink_parquet(path, **settings)
    else:
        frame.write_parquet(path, **settings)


def write_pieces(
    frame: pl.DataFrame, key: pl.Expr, partitions: int, folder: str | os.PathLike[str] | UPath, piece: int
) -> None:
    """Write a per-partition task's rows into ``folder`` by partition ``key``, as its piece ``piece`` of each
    partition (every partition gets one, empty or not): the task re-splits its own rows, so that no other task
    has to read them all again. ``scan_part`` reads a partition's pieces together."""
    folder = location(folder)
    keyed = frame.with_columns(key.alias("_partition"))
    # One streaming write for all the pieces: one file after another took half as long again (a national run's
    # task writes thirty).
    _sink_by_partition(keyed.lazy(), folder, lambda index, _: (index, piece))
    for index in set(range(partitions)) - set(keyed["_partition"].unique().to_list()):
        frame.head(0).write_parquet(str(folder / _part_name(index, piece)), **_scratch_parquet(folder))


def _files(folder: UPath, pattern: str) -> list[str]:
    return [str(f) for f in sorted(folder.glob(pattern), key=lambda f: f.name)] or [str(folder / "_schema.parquet")]


def scan_part(folder: str | os.PathLike[str] | UPath, index: int) -> pl.LazyFrame:
    """Partition ``index`` of a folder written by ``split`` (empty, with the right columns, when no row fell in)."""
    return pl.scan_parquet(_files(location(folder), f"part-{index:04d}.*.parquet"))


def scan_each(folder: str | os.PathLike[str] | UPath) -> list[pl.LazyFrame]:
    """Every file of a folder written by ``split`` (or by per-partition writers), each on its own, in partition
    order: a reader filtering by a range of keys can then leave out the files that hold none of it."""
    return [pl.scan_parquet(file) for file in _files(location(folder), "part-*.parquet")]


def scan_all(folder: str | os.PathLike[str] | UPath) -> pl.LazyFrame:
    """Every partition of a folder written by ``split`` (or by per-partition writers), in partition order."""
    return pl.scan_parquet(_files(location(folder), "part-*.parquet"))
