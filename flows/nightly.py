"""The nightly run: village files in, validated, reconciled with the BPJS export, coverage published.

One run is a pure function of its inputs and its run date: rerunning a date gives the same outputs and replaces
that date's partitions and warehouse rows. Nothing becomes visible until the last step has succeeded.
"""

from __future__ import annotations

# First: importing cakupan sets polars' memory allocator, which polars reads once, when it loads (cakupan/__init__.py).
# Prefect loads this file by its path, as the flow run's first module.
import cakupan  # noqa: F401

# isort: split

import contextlib
import shutil
import subprocess
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl
from prefect import Task, flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.client.schemas.objects import TaskRun
from prefect.states import State
from prefect.task_runners import TaskRunner
from prefect.utilities.annotations import unmapped

from cakupan.errors import InputError
from cakupan.partitions import choose_partitions, estimated_rows, near_partitions, remove
from cakupan.reconcile import latest_decisions
from cakupan.settings import Settings
from flows.config import load_settings
from flows.parameters import InputFolders, KodeDesa, RunRequest, check_request, scheduled_run_date
from flows.runners import check_dask, task_runner_for, usable_cores
from flows.unchanged import published_with_same_inputs
from flows.villages import report_villages
from tasks.ingest import collect_village_files, first_file_ids, list_village_files, read_village_files
from tasks.publish import complete_coverage, publish_artifacts, publish_outputs, write_coverage_report
from tasks.reconcile import (
    check_members_partition,
    compute_coverage,
    gate_bpjs_export,
    load_bpjs_export,
    match_exact_partition,
    match_near_partition,
    reconcile_persons,
    route_near_matches,
    write_worklists,
)
from tasks.summaries import RunPaths, RunSummary
from tasks.validate import check_rows_partition, split_rows, validate_village_rows, write_village_feedback
from warehouse.lock import Holder, RunDateLock, hold_run_date
from warehouse.store import connect


def code_version(root: Path = Path(__file__).parent) -> str:
    """The commit checked out at ``root``, as its short hash; "unknown" outside a git checkout or without git."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=root,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def run_name() -> str:
    """Flow-run names carry the run date: ``cakupan-2026-11-27``, ``cakupan-2026-11-27-preview`` when limited."""
    from prefect.runtime import flow_run

    parameters = flow_run.parameters
    run_date = parameters.get("run_date") or scheduled_run_date(Settings().timezone)
    return f"cakupan-{run_date}" + ("-preview" if parameters.get("kode_desa") else "")


@flow(name="cakupan-nightly", flow_run_name=run_name)
def nightly(
    run_date: date | None = None,
    kode_desa: list[KodeDesa] | None = None,
    force: bool = False,
    inputs: InputFolders = InputFolders(),  # noqa: B008 (a frozen model: the default is never mutated)
) -> RunSummary | None:
    """Run the pipeline once for one run date: village files in, validated, reconciled, coverage published.

    Paths, the warehouse and the PII key come from the settings (environment, .env, Prefect Variables and Secret
    blocks; see flows/config.py). Two runs of one run_date never overlap, from the schedule, the UI or
    ``cakupan run`` alike: the second waits for the first, up to ``lock_timeout_seconds``.

    Args:
        run_date: The day the run reports on, YYYY-MM-DD. Empty: the day the run was scheduled for, in
            Asia/Jakarta (a 01:30 WIB run starts at 18:30 UTC the day before).
        kode_desa: Limit the run to these villages (e.g. 62.03.01.2001). A limited run is a preview: it reads every
            file (cross-village duplicates and regency totals need them all), reports these villages and publishes
            nothing. Empty: every village, published.
        force: Reprocess even when the files, rules and code are exactly those of the date's last published run,
            which is otherwise skipped because it would change nothing.
        inputs: Where to read the village files, the BPJS export and the reference files. Empty fields use the
            configured inbox.
    """
    settings = load_settings()
    logger = get_run_logger()
    request = check_request(run_date or scheduled_run_date(settings.timezone), inputs, kode_desa, settings)
    connect(settings.warehouse_url).dispose()
    if settings.task_runner == "dask":
        check_dask(settings)  # before taking the date: a cluster that cannot run the tasks fails the run at once

    def waiting(holder: Holder) -> None:
        logger.info(
            "run_date %s is being processed by %s: waiting for it (at most %.0f s)",
            request.run_date,
            holder.describe(),
            settings.lock_timeout_seconds,
        )

    with hold_run_date(
        settings.warehouse_url,
        request.run_date,
        flow_run=_this_flow_run(),
        timeout_seconds=settings.lock_timeout_seconds,
        on_wait=waiting,
    ) as lock:
        if lock.took_over is not None:
            logger.warning(
                "took over run_date %s from %s: it is no longer running", request.run_date, lock.took_over.describe()
            )
        if not force and not request.preview:
            published = published_with_same_inputs.with_options(**_io_retries(settings))(
                settings.warehouse_url,
                request.run_date,
                request.submissions,
                request.export_file,
                settings.rules.version,
                code_version(),
            )
            if published is not None:
                message = (
                    f"{request.run_date} unchanged: run {published.run_id} (finished {published.finished_at}) "
                    "read these very files with these rules and this code; nothing to do. Rerun with force to "
                    "reprocess anyway."
                )
                logger.info(message)
                create_markdown_artifact(
                    key="cakupan-run-summary", markdown=f"# cakupan {request.run_date}\n\n{message}"
                )
                return None
        return _process_date(request, settings, lock)


def _this_flow_run() -> str:
    from prefect.runtime import flow_run

    return f"flow run {flow_run.name or '?'} ({flow_run.id or 'no id'})"


def _io_retries(settings: Settings) -> dict[str, Any]:
    """Reading the inbox and writing the warehouse may pass on a second try; the waits are a setting."""
    delays = list(settings.io_retry_delays_seconds)
    return {"retries": len(delays), "retry_delay_seconds": delays or 0}


def _map(runner: TaskRunner[Any], task: Task[..., Any], **parameters: Any) -> list[Any]:
    """Run ``task`` once per partition on ``runner`` and wait for all: a ``range`` or a ``list`` is mapped over,
    everything else is passed whole (a frame or the settings would otherwise be iterated)."""
    mapped = {k: v if isinstance(v, range | list) else unmapped(v) for k, v in parameters.items()}
    return list(runner.map(task, mapped).result())  # type: ignore[arg-type]  # Prefect types tasks as maybe-async


def _worth_retrying(task: Task[Any, Any], task_run: TaskRun, state: State[Any]) -> bool:
    """A rejected input (an export that fails its gate) fails the same way on every try: do not wait for it."""
    try:
        state.result()
    except InputError:
        return False
    except BaseException:
        return True
    return True


def _process_date(request: RunRequest, settings: Settings, lock: RunDateLock) -> RunSummary:
    """The pipeline for one checked request, run while this run holds its run_date."""
    run_date, submissions, export_file = request.run_date, request.submissions, request.export_file
    villages, workforce, decisions = request.villages, request.workforce, request.decisions
    logger = get_run_logger()
    started_at = datetime.now(UTC)
    run_id = str(uuid.uuid4())
    list_inbox = list_village_files.with_options(**_io_retries(settings))
    read_inbox = read_village_files.with_options(**_io_retries(settings))
    read_export = load_bpjs_export.with_options(**_io_retries(settings), retry_condition_fn=_worth_retrying)
    publish = publish_outputs.with_options(**_io_retries(settings))

    # Staging and the flow's own files on this machine; the partitions in the scratch every process reaches (by
    # default the same folder).
    date_root = settings.data_dir / ".runs" / run_date.isoformat()
    date_scratch = settings.scratch_root / run_date.isoformat()
    leftovers: list[str] = [str(p) for p in date_root.glob("*")] + [str(p) for p in date_scratch.glob("*")]
    for leftover in leftovers:  # scratch of a run of this date that was killed: it holds no lock now
        remove(leftover)
    run_root = date_root / run_id
    paths = RunPaths(data_dir=settings.data_dir, staging=run_root / "staging", work=date_scratch / run_id / "work")
    paths.work.mkdir(parents=True, exist_ok=True)
    run_root.mkdir(parents=True, exist_ok=True)
    try:
        with task_runner_for(settings) as runner:
            slices = list_inbox(submissions, usable_cores())
            _map(
                runner,
                read_inbox,
                submissions=submissions,
                files=slices,
                first_file_id=first_file_ids(slices),
                index=range(len(slices)),
                timezone=settings.timezone,
                paths=paths,
            )
            ingest = collect_village_files(paths)
            partitions = choose_partitions(settings.partitions, ingest.rows_read + estimated_rows(export_file))
            decided = latest_decisions(decisions).collect()
            raw_rows, ranges = split_rows(ingest, partitions, paths)
            export_parts = read_export(export_file, run_date, ranges, paths)
            each = range(partitions)
            checked = _map(
                runner,
                check_rows_partition,
                raw_rows=raw_rows,
                index=each,
                files=ingest.files,
                villages=villages,
                run_date=run_date,
                rules=settings.rules,
            )
            members = _map(
                runner, check_members_partition, export=export_parts, index=each, run_date=run_date, settings=settings
            )
            validation = validate_village_rows(ingest, checked, villages, run_date, settings.rules, paths)
            export = gate_bpjs_export(export_file, export_parts, members)
            # The workbooks are Python from start to end: each is written in a process of its own, beside the
            # flow's work. The feedback needs only the validation, so it starts now, beside the reconciliation
            # (national size: its child 1.7 GiB beside a reconciliation of 3 GiB); after the export's gate, as a
            # run the gate stops publishes nothing and would wait for a national feedback's minutes to end.
            feedback = runner.submit(
                write_village_feedback, {"villages": villages, "run_date": run_date, "paths": paths}
            )
            near = near_partitions(partitions)
            _map(
                runner,
                match_exact_partition,
                persons=validation.persons,
                members=export.members,
                index=each,
                near_partitions=near,
                rules=settings.rules,
                decided=decided,
                work=paths.work,
            )
            confirmed = route_near_matches(paths.work, export.members, near, decided)
            _map(
                runner,
                match_near_partition,
                work=paths.work,
                index=range(near),
                rules=settings.rules,
                decided=decided,
                confirmed=confirmed,
            )
            logger.info(
                "reconciled in %d NIK and %d birth-date partition(s) with %s in %s",
                partitions,
                near,
                type(runner).__name__,
                paths.work,
            )
            reconciled = reconcile_persons(validation, paths.work, run_date, settings, paths, decisions)
            # The work lists need the persons. A partitioned (large) run writes them only once the feedback is
            # done: at national size the two children at once (1.7 and 5.0 GiB) took the run to 8.1 GiB.
            worklists = runner.submit(
                write_worklists,
                {"run_date": run_date, "villages": villages, "settings": settings, "paths": paths},
                wait_for=[feedback] if partitions > 1 else None,
            )
            coverage_path = compute_coverage(run_date, villages, workforce, export, settings, paths)
            coverage = complete_coverage(run_date, coverage_path, settings, paths)  # premium, changes, invariants
            write_coverage_report(run_date, coverage, settings, paths)
            report_villages(run_date, coverage_path, paths.staging, request.kode_desa)
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
            # Both are staged before anything is published; a workbook that failed fails the run.
            feedback.result()
            worklists.result()
            inputs = [*sorted(pl.read_parquet(str(ingest.files))["sha256"].to_list()), export.export_sha256]
            record = {
                "run_id": run_id,
                "run_date": run_date,
                "started_at": started_at,
                "finished_at": datetime.now(UTC),
                "status": "completed",
                "rows_read": validation.rows_read,
                "persons": sum(reconciled.statuses.values()),
                "inputs_sha256": ",".join(inputs),
                "code_version": code_version(),
                "rules_version": validation.rules_version,
                "premium_rates_version": coverage.premium_rates_version,
            }
            if request.preview:
                outputs: dict[str, str] = {}
            else:
                lock.check()
                outputs = publish(run_date, coverage_path, record, settings.warehouse_url, paths)
    finally:
        shutil.rmtree(run_root, ignore_errors=True)
        remove(paths.work.parent)
        with contextlib.suppress(OSError):
            date_root.rmdir()  # only when empty
    summary.outputs.update(outputs)
    publish_artifacts(summary, metrics, coverage, settings.data_dir, request.kode_desa)
    logger.info(
        "run %s for %s %s: %d active of %d target",
        run_id,
        run_date,
        "previewed, nothing published" if request.preview else "completed",
        summary.active,
        summary.kuota_total,
    )
    return summary
