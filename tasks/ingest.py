"""Ingest: find the villages' files, fingerprint them and read their rows as given."""

from __future__ import annotations

import itertools
import math
from datetime import datetime
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

import polars as pl
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from upath import UPath

from cakupan.inputs import file_sha256
from cakupan.partitions import scan_all, write_part
from cakupan.readers import empty_submission_rows, read_submission
from cakupan.submissions import code_in_name, date_in_name
from tasks.summaries import IngestSummary, RunPaths

Frame = TypeVar("Frame", pl.DataFrame, pl.LazyFrame)

SUBMISSION_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".csv", ".txt"}


def submission_files(folder: Path) -> list[Path]:
    """Every file a village could have sent, in a stable order; office clutter (~$ lock files, dotfiles) is skipped."""
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and not p.name.startswith((".", "~$"))
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


FILES_SCHEMA = pl.Schema(
    {
        "file_id": pl.Int64(),
        "source_file": pl.String(),
        "sha256": pl.String(),
        "submitted_at": pl.Datetime("us"),
        "read_error": pl.String(),
        "read_detail": pl.String(),
        "file_kode_desa": pl.String(),
        "headers": pl.String(),
    }
)


def read_files(
    submissions: Path, files: list[Path], first_file_id: int, timezone: str
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Some files of the folder and their data rows, as given: ``read_folder`` for a slice of its files.

    Returns (files, rows): files as FILES_SCHEMA with file_id counting from ``first_file_id``; rows with the
    reader's columns plus file_id, in file order, without row_id.
    """
    tz = ZoneInfo(timezone)
    file_records = []
    row_frames, read_ids = [], []
    for file_id, path in enumerate(files, start=first_file_id):
        relative = path.relative_to(submissions).as_posix()
        table = read_submission(path) if path.suffix.lower() in SUBMISSION_SUFFIXES else None
        mtime = datetime.fromtimestamp(path.stat().st_mtime, tz).replace(tzinfo=None)
        file_records.append(
            {
                "file_id": file_id,
                "source_file": relative,
                "sha256": file_sha256(path),
                "submitted_at": date_in_name(path.name) or mtime,
                "read_error": "file_unreadable" if table is None else table.error,
                "read_detail": f"unsupported file type {path.suffix!r}" if table is None else table.error_detail,
                "file_kode_desa": code_in_name(path.name),
                "headers": None if table is None else ", ".join(f"{k}={v}" for k, v in table.headers.items()),
            }
        )
        if table is not None and table.rows.height:
            row_frames.append(table.rows)
            read_ids.append(file_id)
    found = pl.DataFrame(file_records, schema=FILES_SCHEMA)
    if not row_frames:
        return found, empty_submission_rows().with_columns(pl.lit(None, pl.Int64).alias("file_id"))
    # Numbered once for all the files: a query per file cost more than its rows (a national inbox has 85,000).
    counts = pl.DataFrame(
        {"file_id": read_ids, "rows": [frame.height for frame in row_frames]},
        schema={"file_id": pl.Int64, "rows": pl.UInt32},
    )
    file_ids = counts.select(pl.col("file_id").repeat_by("rows").explode()).to_series()
    return found, pl.concat(row_frames, how="diagonal_relaxed").with_columns(file_ids)


def read_folder(submissions: Path, timezone: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Every file of the folder and every data row in them, as given.

    Returns (files, rows). files: one row per file (FILES_SCHEMA): its sha256, when it was submitted (the date in
    its name, else its modification time in ``timezone``), the reader's error and the village code in its name.
    rows: the reader's columns plus file_id and row_id (0..n-1). A file that cannot be read is a file row with
    its error, never skipped.
    """
    files, rows = read_files(submissions, submission_files(submissions), 0, timezone)
    return files, with_row_ids(rows)


def with_row_ids(rows: Frame) -> Frame:
    """Number the rows of the folder 0..n-1 in file order (file_id, then the order within a file)."""
    return rows.with_row_index("row_id").with_columns(pl.col("row_id").cast(pl.Int64))


# Files per mapped reading task: at most FILES_PER_TASK, so that a national inbox is spread over the workers and a
# retry reads little again; and, where an inbox is cut to give every worker a slice, at least MIN_FILES_PER_TASK,
# below which a task's own cost shows.
FILES_PER_TASK = 2_000
MIN_FILES_PER_TASK = 25


@task(name="list-village-files", retries=2, retry_delay_seconds=[5, 30], cache_policy=NO_CACHE)
def list_village_files(submissions: Path, workers: int = 1) -> list[list[Path]]:
    """The inbox's files in reading order, in slices for the reading tasks (``file_slices``)."""
    return file_slices(submissions, workers)


def file_slices(submissions: Path, workers: int = 1) -> list[list[Path]]:
    """``submission_files`` in slices of at most ``FILES_PER_TASK`` files, and in at least ``workers`` slices where
    the inbox holds ``MIN_FILES_PER_TASK`` files for each (one empty slice for an empty inbox).

    A regency's few hundred files made one slice, read by one task while the other cores waited.
    """
    files = submission_files(submissions)
    size = min(FILES_PER_TASK, max(MIN_FILES_PER_TASK, math.ceil(len(files) / max(workers, 1))))
    return [files[start : start + size] for start in range(0, len(files), size)] or [[]]


def first_file_ids(slices: list[list[Path]]) -> list[int]:
    """The file_id of each slice's first file: files are numbered across the slices in reading order."""
    return [0, *itertools.accumulate(len(s) for s in slices[:-1])]


def slice_rows(folder: UPath) -> pl.LazyFrame:
    """The rows of every slice read into ``folder`` (part files by slice), numbered in file order."""
    parts = sorted(folder.glob("part-*.parquet"), key=lambda p: p.name)
    return with_row_ids(pl.concat([pl.scan_parquet(str(p)) for p in parts], how="diagonal_relaxed"))


@task(name="read-village-files", retries=2, retry_delay_seconds=[5, 30], cache_policy=NO_CACHE)
def read_village_files(
    submissions: Path, files: list[Path], first_file_id: int, index: int, timezone: str, paths: RunPaths
) -> None:
    """Read one slice of the inbox; a file that cannot be read is recorded with its reason, never skipped."""
    logger = get_run_logger()
    found, rows = read_files(submissions, files, first_file_id, timezone)
    for name, error, detail in (
        found.filter(pl.col("read_error").is_not_null()).select("source_file", "read_error", "read_detail").iter_rows()
    ):
        logger.warning("%s: %s (%s)", name, error, detail)
    write_part(found, paths.work / "inbox_files", index)
    write_part(rows, paths.work / "inbox_rows", index)


@task(name="collect-village-files", cache_policy=NO_CACHE)
def collect_village_files(paths: RunPaths) -> IngestSummary:
    """The slices read, as the folder's files and rows (row ids in file order)."""
    files = scan_all(paths.work / "inbox_files").collect()
    rows = slice_rows(paths.work / "inbox_rows")
    raw_rows, files_path = paths.work / "raw_rows.parquet", paths.work / "files.parquet"
    rows.sink_parquet(str(raw_rows))
    files.write_parquet(str(files_path))
    rows_read = pl.scan_parquet(str(raw_rows)).select(pl.len()).collect().item()
    get_run_logger().info("read %d files, %d rows", files.height, rows_read)
    return IngestSummary(
        files_seen=files.height,
        rows_read=rows_read,
        raw_rows=raw_rows,
        files=files_path,
    )
