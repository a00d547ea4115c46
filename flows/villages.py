"""What a run did per village, said once per village in the run's log and as a table in the Prefect UI.

Counts only: no NIK, name or phone number reaches the log or the artifact.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from cakupan.reconcile import STATUSES
from warehouse.parquet import partition_dir

TABLE_COLUMNS = ("kode", "nama", "files", "submitted_rows", "accepted", "rejected", "duplicates", "persons", *STATUSES)


def village_outcomes(coverage: pl.DataFrame, files: pl.DataFrame, only: tuple[str, ...] | None) -> pl.DataFrame:
    """One row per village: its files by status and its rows and persons by outcome, from the run's own outputs."""
    per_file = (
        files.filter(pl.col("kode_desa").is_not_null())
        .group_by("kode_desa", "status")
        .len()
        .sort("status")
        .group_by("kode_desa")
        .agg(
            pl.col("len").sum().alias("files"),
            pl.format("{} {}", "len", "status").str.join(", ").alias("file_statuses"),
        )
    )
    desa = coverage.filter(pl.col("level") == "desa")
    if only is not None:
        desa = desa.filter(pl.col("kode").is_in(only))
    return (
        desa.join(per_file, left_on="kode", right_on="kode_desa", how="left")
        .with_columns(pl.col("files").fill_null(0))
        .sort("kode")
    )


def describe(village: dict[str, object]) -> str:
    """One line for one village: files, rows and persons, counts only."""
    if not village["files"] and not village["submitted_rows"]:
        return f"{village['kode']} {village['nama']}: no file received"
    statuses = ", ".join(f"{village[s]} {s}" for s in STATUSES if village[s])
    files = f"{village['files']} file(s) ({village['file_statuses'] or 'none placed here'})"
    return (
        f"{village['kode']} {village['nama']}: {files}; "
        f"{village['submitted_rows']} rows: {village['accepted']} accepted, {village['rejected']} rejected, "
        f"{village['duplicates']} duplicates, {village['superseded']} superseded; "
        f"{village['persons']} persons" + (f": {statuses}" if statuses else "")
    )


@task(name="report-villages", cache_policy=NO_CACHE)
def report_villages(run_date: date, coverage: Path, staging: Path, only: tuple[str, ...] | None) -> int:
    """Log each village's outcome once and show them as a table artifact; returns the number of villages."""
    logger = get_run_logger()
    files = pl.read_parquet(partition_dir(staging / "restricted", "files", run_date) / "*.parquet")
    outcomes = village_outcomes(pl.read_parquet(coverage), files, only)
    # One entry with a line per village: a few hundred entries of their own cost a millisecond or two each to
    # print and send, and flood the run's log in the UI.
    lines = [describe(village) for village in outcomes.iter_rows(named=True)]
    logger.info("%d villages:\n%s", len(lines), "\n".join(lines))
    create_table_artifact(
        key="cakupan-villages",
        table=outcomes.select(TABLE_COLUMNS).to_dicts(),
        description=f"cakupan {run_date}: per village" + (" (preview, not published)" if only else ""),
    )
    return outcomes.height
