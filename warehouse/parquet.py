"""Writing dataset partitions so that no reader ever sees half of one.

A run writes every partition under a private staging folder; ``swap_in`` then renames each into place, keeping the
previous partition aside until the run has committed. Rerunning a date therefore replaces that partition exactly,
and a failed run leaves the previous outputs as they were.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
from polars.io.plugins import register_io_source

ROW_GROUP_SIZE = 128 * 1024
# How every published file is written: zstd, in row groups a reader skips by their statistics.
PUBLISHED_PARQUET: dict[str, Any] = {"compression": "zstd", "row_group_size": ROW_GROUP_SIZE, "statistics": True}
# Rows a sorted write holds at once (about 0.7 GiB of persons with their evidence, sorted). Runs of a million sort
# and write faster than runs of three million: a national run's persons in 14.4-15.5 s against 17.3-17.9 s,
# holding 2.9 GiB at the most instead of 6.3 (their pages are used again while in cache, not faulted in fresh for
# each run).
SORT_CHUNK_ROWS = 1_000_000
# What a sorted write takes: a frame, or the parts it is the union of, each with the same columns (``same_columns``).
# A run reads only the parts that hold rows of it: a national run's persons come from three parts, by status
# mostly one per run, and reading each part for every run cost a national reconciliation 1.1-1.6 s of its 24.
Rows = pl.LazyFrame | Sequence[pl.LazyFrame]


def partition_dir(root: Path, dataset: str, run_date: date) -> Path:
    """``root/<dataset>/run_date=YYYY-MM-DD``: hive-style, so polars, DuckDB and pandas read the date as a column."""
    return root / dataset / f"run_date={run_date.isoformat()}"


@dataclass(frozen=True, eq=False)
class Order:
    """How ``sink_sorted`` orders a frame: by ``by``, in chunks of ``chunk``, a coarse key ``by`` orders first.

    ``first_distinct`` says the first of ``by`` is distinct on (nearly) every row, the later keys only breaking its
    rare ties: a run is then sorted by it alone, and by all of ``by`` only when it holds a tie. A sort on one
    integer took under half the time of one on the integer and a text (a national run's persons: 5.9 s against
    13.4 s), whose row encoding polars builds for every row.
    """

    by: tuple[str | pl.Expr, ...]
    chunk: pl.Expr
    first_distinct: bool = False
    # Columns there only to order the rows (a sort key worked out before the write): left out of the file.
    drop: tuple[str, ...] = ()
    # A coarser key of the chunk's values (an expression of pl.col("chunk")): a run never spans two of its values.
    runs_within: pl.Expr | None = None


def write_partition(
    frame: pl.DataFrame | Rows, root: Path, dataset: str, run_date: date, *, order: Order | None = None
) -> Path:
    """Write one partition (zstd Parquet) under ``root``; the run_date column lives in the folder name.

    A lazy frame is streamed into the file (a national reconciliation need not be held in memory to be written);
    with an ``order`` it is written sorted, a chunk at a time (``sink_sorted``), and may be given as its parts.
    """
    folder = partition_dir(root, dataset, run_date)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "part-0.parquet"
    if order is not None:
        parts = _parts(frame.lazy() if isinstance(frame, pl.DataFrame) else frame)
        sink_sorted([part.drop("run_date", strict=False) for part in parts], path, order)
    elif isinstance(frame, pl.LazyFrame):
        frame.drop("run_date", strict=False).sink_parquet(path, **PUBLISHED_PARQUET)
    elif isinstance(frame, pl.DataFrame):
        frame.drop("run_date", strict=False).write_parquet(path, **PUBLISHED_PARQUET)
    else:
        raise ValueError("parts of a frame are written sorted only: give the order")
    return path


def sink_sorted(frame: Rows, path: Path, order: Order, max_rows: int | None = None) -> None:
    """Write ``frame`` (or its parts) sorted by ``order.by`` into one Parquet file, holding about ``max_rows`` rows
    at a time (``SORT_CHUNK_ROWS`` unless given): the runs of ``sorted_runs``, one after another.

    A national reconciliation sorted whole took twice its size in memory. polars writes the runs into the file as
    they come (a quarter faster than pyarrow's writer, which also needed each run copied to Arrow first: 7 s of a
    national run's 35).
    """

    parts = _parts(frame)

    def source(
        columns: list[str] | None, predicate: pl.Expr | None, n_rows: int | None, batch_size: int | None
    ) -> Iterator[pl.DataFrame]:
        for run in sorted_runs(parts, order, max_rows):
            run = run.drop(order.drop)
            run = run.select(columns) if columns is not None else run
            yield run.filter(predicate) if predicate is not None else run

    schema = {name: dtype for name, dtype in parts[0].collect_schema().items() if name not in order.drop}
    register_io_source(source, schema=schema).sink_parquet(path, **PUBLISHED_PARQUET)


def same_columns(parts: Sequence[pl.LazyFrame]) -> list[pl.LazyFrame]:
    """``parts`` with the columns of their relaxed diagonal union, in its order and types: a part lacking a column
    has it null."""
    union = pl.concat(parts, how="diagonal_relaxed").collect_schema()

    def conformed(part: pl.LazyFrame) -> pl.LazyFrame:
        # Only what differs is cast: a cast of the column a run is filtered by kept the filter out of the scan.
        have = part.collect_schema()
        return part.select(
            (pl.col(name) if have[name] == dtype else pl.col(name).cast(dtype))
            if name in have
            else pl.lit(None, dtype).alias(name)
            for name, dtype in union.items()
        )

    return [conformed(part) for part in parts]


def _parts(frame: Rows) -> list[pl.LazyFrame]:
    return [frame] if isinstance(frame, pl.LazyFrame) else list(frame)


def sorted_runs(frame: Rows, order: Order, max_rows: int | None = None) -> Iterator[pl.DataFrame]:
    """``frame`` (or the union of its parts) sorted by ``order.by``, in runs of about ``max_rows`` rows
    (``SORT_CHUNK_ROWS`` unless given).

    ``order.chunk`` is a coarse key the sort orders first (the status, a key's first characters, the file): the rows
    are counted by it and cut into runs of consecutive values of at most ``max_rows`` rows (a value holding more is
    a run of its own), and never across two values of ``order.runs_within``; each run is read and sorted when the
    one before it has been taken, from the parts holding rows of it, in their order (a run already in order is not
    sorted again: ``_sort``).
    """
    parts, chunk, max_rows = _parts(frame), order.chunk, max_rows or SORT_CHUNK_ROWS
    held_by = pl.collect_all([part.select(chunk.alias("chunk")).group_by("chunk").len() for part in parts])
    counts = pl.concat(held_by).group_by("chunk").agg(pl.col("len").sum()).sort("chunk")
    within = None if order.runs_within is None else counts.select(order.runs_within).to_series()
    runs: list[pl.Series] = []
    start, held = 0, 0
    for end, rows in enumerate(counts["len"]):
        if held and (held + rows > max_rows or (within is not None and within[end] != within[start])):
            runs.append(counts["chunk"][start:end])
            start, held = end, 0
        held += rows
    runs.append(counts["chunk"][start:])
    # Each run is read by the streaming engine, then sorted as a frame: the streaming engine's sort took half as
    # long again, and the in-memory engine read the whole frame to filter one run out of it.
    for values in runs:
        wanted = values.implode()
        in_run = chunk.is_in(wanted, nulls_equal=True)
        reads = [
            part.filter(in_run)
            for part, its in zip(parts, held_by, strict=True)
            if its["chunk"].is_in(wanted, nulls_equal=True).any()
        ]
        # No part holds a row only when there are no rows at all: one empty run, with the columns.
        yield _sort(pl.concat(reads or [parts[0].filter(in_run)]).collect(engine="streaming"), order)


def _sort(run: pl.DataFrame, order: Order) -> pl.DataFrame:
    """``run`` sorted by ``order.by`` (see ``Order.first_distinct``); as it is when its first key already rises
    from row to row: the parts of a partitioned run may give a run's rows in order, and sorting them would still
    have copied every column."""
    by = list(order.by)
    first = run.select(pl.col(by[0]) if isinstance(by[0], str) else by[0]).to_series()
    if first.null_count() == 0 and first.head(-1).lt(first.tail(-1)).all():
        return run
    if not order.first_distinct or len(by) == 1:
        return run.sort(by)
    keyed = run.with_columns(first.alias("_first")).sort("_first")
    key = keyed["_first"]
    # Sorted, a tie is two neighbours equal (two nulls included); the first key is then not worked out again.
    tied = key.head(-1).eq_missing(key.tail(-1)).any()
    return (keyed.sort("_first", *by[1:]) if tied else keyed).drop("_first")


def staged_outputs(staging: Path, run_date: date) -> list[Path]:
    """Everything a run staged, relative to the staging root: its ``run_date=`` partitions and its report entries.

    A stage adds an output by writing it under staging; publishing moves whatever is there.
    """
    partitions = {p.relative_to(staging) for p in staging.rglob(f"run_date={run_date.isoformat()}") if p.is_dir()}
    reports = staging / "reports"
    entries = {p.relative_to(staging) for p in reports.iterdir()} if reports.is_dir() else set()
    return sorted(partitions | entries)


JOURNAL = "journal.json"


@contextmanager
def swap_in(staging: Path, data_dir: Path, partitions: list[Path], *, run_id: str, run_date: date) -> Iterator[None]:
    """Move staged partitions (paths relative to ``staging``) into ``data_dir``; undo if the block fails.

    The old partitions wait in a trash folder until the block (the warehouse commit) succeeds. The plan is written
    to a journal there first, so a process killed half-way can be undone by ``recover_interrupted_swaps``.
    """
    trash = data_dir / ".trash" / f"{run_date.isoformat()}_{run_id}"
    trash.mkdir(parents=True, exist_ok=True)
    plan = [{"path": str(relative), "had_previous": os.path.lexists(data_dir / relative)} for relative in partitions]
    (trash / JOURNAL).write_text(json.dumps({"run_id": run_id, "run_date": run_date.isoformat(), "moves": plan}))
    try:
        for relative in partitions:
            target = data_dir / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            if os.path.lexists(target):
                backup = trash / relative
                backup.parent.mkdir(parents=True, exist_ok=True)
                target.rename(backup)
            (staging / relative).rename(target)
        yield
    except BaseException:
        _undo(data_dir, trash, plan)
        raise
    finally:
        shutil.rmtree(trash, ignore_errors=True)


def recover_interrupted_swaps(data_dir: Path, run_date: date, committed: Callable[[str], bool]) -> list[str]:
    """Finish what a killed run of ``run_date`` left: undo its swap unless its warehouse commit happened.

    Call it while holding the date's lock, before publishing. Returns the run ids it cleaned up.
    """
    cleaned = []
    for journal in sorted((data_dir / ".trash").glob(f"{run_date.isoformat()}_*/{JOURNAL}")):
        info = json.loads(journal.read_text())
        if not committed(info["run_id"]):
            _undo(data_dir, journal.parent, info["moves"])
        shutil.rmtree(journal.parent, ignore_errors=True)
        cleaned.append(str(info["run_id"]))
    return cleaned


def _undo(data_dir: Path, trash: Path, plan: list[dict[str, Any]]) -> None:
    """Put back what a swap replaced. An entry whose old version was never moved aside is left alone."""
    for move in reversed(plan):
        target, backup = data_dir / move["path"], trash / move["path"]
        if move["had_previous"]:
            if os.path.lexists(backup):
                _remove(target)
                backup.rename(target)
        else:
            _remove(target)


def _remove(path: Path) -> None:
    """Remove a swapped-in entry: a partition folder, or a single file such as reports/coverage_YYYY-MM-DD.html."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
