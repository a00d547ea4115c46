"""The nightly run: village files in, validated, reconciled with the BPJS export, coverage published.

One run is a pure function of its inputs and its run date: rerunning a date gives the same outputs and replaces
that date's partitions and warehouse rows. Nothing becomes visible until the last step has succeeded.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from cakupan.inputs import choose_export, submissions_folder
from cakupan.reference import load_villages, load_workforce
from cakupan.settings import Settings
from tasks.ingest import read_village_files
from tasks.publish import publish_outputs
from tasks.reconcile import compute_coverage, load_bpjs_export, reconcile_persons
from tasks.summaries import RunPaths, RunSummary
from tasks.validate import validate_village_rows
from warehouse.store import connect


def scheduled_run_date(timezone: str) -> date:
    """The calendar day in the office's time zone at which this run was scheduled to start.

    A 01:30 WIB schedule starts at 18:30 UTC the day before, so the UTC date would be a day early.
    """
    from zoneinfo import ZoneInfo

    from prefect.runtime import flow_run

    start = flow_run.scheduled_start_time
    return start.astimezone(ZoneInfo(timezone)).date()


def _code_version() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).parent,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


@flow(name="cakupan-nightly", flow_run_name="cakupan-{run_date}")
def nightly(
    submissions: Path,
    bpjs: Path,
    reference: Path,
    run_date: date | None = None,
    data_dir: Path | None = None,
    db_url: str | None = None,
) -> RunSummary:
    """Run the whole pipeline once for ``run_date``.

    submissions: folder of village files; bpjs: an export file or a folder of dated exports; reference: folder
    with villages.csv (and optional workforce.csv); data_dir and db_url override the settings.
    """
    settings = Settings()
    run_date = run_date or scheduled_run_date(settings.timezone)
    if data_dir is not None:
        settings.data_dir = Path(data_dir)
    if db_url is not None:
        settings.db_url = db_url
    logger = get_run_logger()
    started_at = datetime.now(UTC)
    run_id = str(uuid.uuid4())

    submissions = submissions_folder(Path(submissions))
    export_file = choose_export(Path(bpjs), run_date)
    villages = load_villages(Path(reference))
    workforce = load_workforce(Path(reference))
    connect(settings.warehouse_url).dispose()

    run_root = settings.data_dir / ".runs" / run_id
    paths = RunPaths(data_dir=settings.data_dir, staging=run_root / "staging", work=run_root / "work")
    paths.work.mkdir(parents=True, exist_ok=True)
    try:
        ingest = read_village_files(submissions, paths, settings.timezone)
        validation = validate_village_rows(ingest, villages, run_date, settings.rules, paths)
        export = load_bpjs_export(export_file, run_date, settings, paths)
        reconciled = reconcile_persons(validation, export, run_date, settings, paths)
        coverage_path = compute_coverage(run_date, villages, workforce, export, settings, paths)
        metrics = pl.read_parquet(coverage_path)
        kab = metrics.filter(pl.col("level") == "kabupaten").row(0, named=True)
        summary = RunSummary(
            run_id=run_id,
            run_date=run_date,
            rows_read=validation.rows_read,
            outcomes=validation.outcomes,
            file_statuses=validation.file_statuses,
            rejected_files=validation.rejected_files,
            statuses=reconciled.statuses,
            kuota_total=int(kab["kuota"]),
            active=int(kab["active"]),
            target_attainment=kab["target_attainment"],
            members_active_total=export.members_active_total,
            penduduk_bekerja=kab["penduduk_bekerja"],
            workforce_coverage=kab["workforce_coverage"],
            export_file=export_file.name,
        )
        inputs = [*sorted(pl.read_parquet(ingest.files)["sha256"].to_list()), export.export_sha256]
        record = {
            "run_id": run_id,
            "run_date": run_date,
            "started_at": started_at,
            "finished_at": datetime.now(UTC),
            "status": "completed",
            "rows_read": validation.rows_read,
            "persons": sum(reconciled.statuses.values()),
            "inputs_sha256": ",".join(inputs),
            "code_version": _code_version(),
            "rules_version": validation.rules_version,
        }
        outputs = publish_outputs(run_date, coverage_path, record, settings.warehouse_url, paths)
    finally:
        shutil.rmtree(run_root, ignore_errors=True)
    summary.outputs.update(outputs)
    create_markdown_artifact(
        key="cakupan-run-summary", markdown=summary_markdown(summary), description=f"cakupan {run_date}"
    )
    logger.info(
        "run %s for %s completed: %d active of %d target", run_id, run_date, summary.active, summary.kuota_total
    )
    return summary


def summary_markdown(s: RunSummary) -> str:
    """The headline of a run for the Prefect UI, in the words the Dinas uses."""
    attainment = "-" if s.target_attainment is None else f"{s.target_attainment:.1%}"
    workforce = "-" if s.workforce_coverage is None else f"{s.workforce_coverage:.1%}"
    lines = [
        f"# cakupan {s.run_date}",
        "",
        f"**{s.active:,}** pekerja rentan aktif dari target **{s.kuota_total:,}** ({attainment}); "
        f"cakupan angkatan kerja {workforce} ({s.members_active_total:,} peserta aktif).",
        "",
        "| status | persons |",
        "|---|---|",
        *(f"| {k} | {v:,} |" for k, v in sorted(s.statuses.items())),
        "",
        f"Rows read: {s.rows_read:,} — " + ", ".join(f"{k} {v:,}" for k, v in sorted(s.outcomes.items())),
        "Files: " + ", ".join(f"{k} {v}" for k, v in sorted(s.file_statuses.items())),
        f"BPJS export: {s.export_file}",
    ]
    if s.rejected_files:
        lines += ["", "Rejected files:", *(f"- {name}: {reason}" for name, reason in s.rejected_files)]
    return "\n".join(lines)
