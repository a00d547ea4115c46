"""Publish: move the run's partitions into place and replace its warehouse rows, all or nothing."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import polars as pl
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks.summaries import RunPaths
from warehouse.parquet import partition_dir, swap_in
from warehouse.store import connect, replace_run

DATASETS = (
    ("analytics", "reconciliation"),
    ("analytics", "coverage"),
    ("restricted", "submission_rows"),
    ("restricted", "files"),
    ("restricted", "persons"),
)


@task(name="publish-outputs", retries=2, retry_delay_seconds=[10, 60], cache_policy=NO_CACHE)
def publish_outputs(
    run_date: date, coverage: Path, run_record: dict[str, object], db_url: str, paths: RunPaths
) -> dict[str, str]:
    """Swap the staged partitions in and commit the warehouse rows; either both happen or neither does."""
    metrics = pl.read_parquet(coverage)
    engine = connect(db_url)
    partitions = [partition_dir(Path(zone), dataset, run_date) for zone, dataset in DATASETS]
    try:
        # Files first, then the commit inside the swap: a failed commit puts the previous partitions back.
        with swap_in(paths.staging, paths.data_dir, partitions):
            replace_run(engine, run_date, metrics, run_record)
    finally:
        engine.dispose()
    shutil.rmtree(paths.staging.parent, ignore_errors=True)
    get_run_logger().info("published %d coverage rows for %s", metrics.height, run_date)
    return {
        f"{zone}/{dataset}": str(paths.data_dir / partition_dir(Path(zone), dataset, run_date))
        for zone, dataset in DATASETS
    }
