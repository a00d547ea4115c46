"""Writing dataset partitions so that no reader ever sees half of one.

A run writes every partition under a private staging folder; ``swap_in`` then renames each into place, keeping the
previous partition aside until the run has committed. Rerunning a date therefore replaces that partition exactly,
and a failed run leaves the previous outputs as they were.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import polars as pl

ROW_GROUP_SIZE = 128 * 1024


def partition_dir(root: Path, dataset: str, run_date: date) -> Path:
    """``root/<dataset>/run_date=YYYY-MM-DD``: hive-style, so polars, DuckDB and pandas read the date as a column."""
    return root / dataset / f"run_date={run_date.isoformat()}"


def write_partition(frame: pl.DataFrame, root: Path, dataset: str, run_date: date) -> Path:
    """Write one partition (zstd Parquet) under ``root``; the run_date column lives in the folder name."""
    folder = partition_dir(root, dataset, run_date)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "part-0.parquet"
    frame.drop("run_date", strict=False).write_parquet(
        path, compression="zstd", row_group_size=ROW_GROUP_SIZE, statistics=True
    )
    return path


def staged_outputs(staging: Path, run_date: date) -> list[Path]:
    """Everything a run staged, relative to the staging root: its ``run_date=`` partitions and its report entries.

    A stage adds an output by writing it under staging; publishing moves whatever is there.
    """
    partitions = {p.relative_to(staging) for p in staging.rglob(f"run_date={run_date.isoformat()}") if p.is_dir()}
    reports = staging / "reports"
    entries = {p.relative_to(staging) for p in reports.iterdir()} if reports.is_dir() else set()
    return sorted(partitions | entries)


@contextmanager
def swap_in(staging: Path, data_dir: Path, partitions: list[Path]) -> Iterator[None]:
    """Move staged partitions (paths relative to ``staging``) into ``data_dir``; undo if the block fails.

    The old partitions wait in a trash folder until the block (the warehouse commit) succeeds.
    """
    trash = data_dir / ".trash" / uuid.uuid4().hex
    moved: list[tuple[Path, Path | None]] = []
    try:
        for relative in partitions:
            target = data_dir / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            backup: Path | None = None
            if target.exists():
                backup = trash / relative
                backup.parent.mkdir(parents=True, exist_ok=True)
                target.rename(backup)
            moved.append((target, backup))
            (staging / relative).rename(target)
        yield
    except BaseException:
        for target, backup in reversed(moved):
            _remove(target)
            if backup is not None:
                backup.rename(target)
        raise
    finally:
        shutil.rmtree(trash, ignore_errors=True)


def _remove(path: Path) -> None:
    """Remove a swapped-in entry: a partition folder, or a single file such as reports/coverage_YYYY-MM-DD.html."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
