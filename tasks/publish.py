"""Publish: move the run's partitions into place and replace its warehouse rows, all or nothing."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import polars as pl
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks.summaries import RunPaths
from warehouse.parquet import staged_outputs, swap_in
from warehouse.store import connect, replace_run


@task(name="publish-outputs", retries=2, retry_delay_seconds=[10, 60], cache_policy=NO_CACHE)
def publish_outputs(
    run_date: date, coverage: Path, run_record: dict[str, object], db_url: str, paths: RunPaths
) -> dict[str, str]:
    """Swap the staged partitions in and commit the warehouse rows; either both happen or neither does."""
    metrics = pl.read_parquet(coverage)
    engine = connect(db_url)
    outputs = staged_outputs(paths.staging, run_date)
    try:
        # Files first, then the commit inside the swap: a failed commit puts the previous partitions back.
        with swap_in(paths.staging, paths.data_dir, outputs):
            replace_run(engine, run_date, metrics, run_record)
    finally:
        engine.dispose()
    shutil.rmtree(paths.staging.parent, ignore_errors=True)
    get_run_logger().info("published %d coverage rows for %s", metrics.height, run_date)
    return {str(p.parent if p.name.startswith("run_date=") else p): str(paths.data_dir / p) for p in outputs}
