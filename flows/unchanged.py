"""Skipping a rerun that would change nothing: same files, same rules, same code as the date's last published run.

The fingerprint is the one a run records in ``pipeline_runs.inputs_sha256``: the sha256 of every file in the
submissions folder, sorted, then the BPJS export's. Settings are not part of it: after changing a setting (the
target, the PII key) rerun with ``force``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE
from sqlalchemy import create_engine, select

from cakupan.inputs import file_sha256
from tasks.ingest import submission_files
from warehouse.models import PipelineRun


@dataclass(frozen=True)
class PublishedRun:
    """The run whose outputs for the date are already exactly what this run would publish."""

    run_id: str
    finished_at: datetime


def inputs_fingerprint(submissions: Path, export_file: Path) -> str:
    """sha256 of every submission file (sorted), then of the export: as recorded in pipeline_runs.inputs_sha256."""
    return ",".join([*sorted(file_sha256(p) for p in submission_files(submissions)), file_sha256(export_file)])


@task(name="check-inputs-changed", retries=2, retry_delay_seconds=[5, 30], cache_policy=NO_CACHE)
def published_with_same_inputs(
    db_url: str, run_date: date, submissions: Path, export_file: Path, rules_version: str, code_version: str
) -> PublishedRun | None:
    """The date's latest completed run, if it read these very files with these rules and this code."""
    fingerprint = inputs_fingerprint(submissions, export_file)
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            # The latest run is the one whose outputs are in place: an older run with the same inputs is not.
            last = conn.execute(
                select(
                    PipelineRun.run_id,
                    PipelineRun.finished_at,
                    PipelineRun.inputs_sha256,
                    PipelineRun.rules_version,
                    PipelineRun.code_version,
                )
                .where(PipelineRun.run_date == run_date)
                .order_by(PipelineRun.finished_at.desc())
                .limit(1)
            ).first()
    finally:
        engine.dispose()
    if last is None or (last.inputs_sha256, last.rules_version, last.code_version) != (
        fingerprint,
        rules_version,
        code_version,
    ):
        return None
    return PublishedRun(run_id=last.run_id, finished_at=last.finished_at)
