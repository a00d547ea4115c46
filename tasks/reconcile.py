"""Reconcile: gate the BPJS export, then give every person a status and compute coverage."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from cakupan.errors import InputError
from cakupan.inputs import file_sha256
from cakupan.metrics import coverage_metrics
from cakupan.pii import person_key
from cakupan.readers import read_bpjs_export
from cakupan.reconcile import DECISIONS, member_states, reconcile, resolve_member_duplicates
from cakupan.rules import prepare_members
from cakupan.settings import Settings
from cakupan.worklists import (
    grace_list,
    grace_notes,
    registration_list,
    registration_notes,
    review_notes,
    review_queue,
    write_csv,
    write_xlsx,
)
from expectations.gx import validate
from tasks.summaries import ExportSummary, ReconcileSummary, RunPaths, ValidationSummary
from warehouse.parquet import partition_dir, write_partition

ANALYST_COLUMNS = (
    "person_key",
    "kode_desa",
    "kode_kecamatan",
    "status",
    "match_method",
    "name_similarity",
    "sex",
    "birth_year",
    "pekerjaan",
    "paid_by_regency",
    "paid_through",
)


@task(name="load-bpjs-export", retries=2, retry_delay_seconds=[5, 30], cache_policy=NO_CACHE)
def load_bpjs_export(export_file: Path, run_date: date, settings: Settings, paths: RunPaths) -> ExportSummary:
    """Read the export and pass it through expectations/suites/bpjs_export.json; a failed gate stops the run."""
    logger = get_run_logger()
    table = read_bpjs_export(export_file)
    if table.error:
        raise InputError(f"BPJS export {export_file.name} {table.error}: {table.error_detail}")
    members = prepare_members(table.rows, run_date)
    result = validate("bpjs_export", members)
    if not result.success:
        failed = "; ".join(f"{o.reason} in {o.unexpected_count} of {o.element_count} rows" for o in result.failed())
        raise InputError(f"BPJS export {export_file.name} failed its checks ({failed}); nothing was published")
    # Within the tolerated share, damaged rows are left out and counted rather than guessed at.
    bad = result.failures.select("row_id").unique()
    kept = (
        members.with_row_index("row_id")
        .with_columns(pl.col("row_id").cast(pl.Int64))
        .join(bad, on="row_id", how="anti")
    )
    rules = settings.rules
    states = member_states(
        kept.drop("row_id"),
        run_date,
        grace_months=rules.grace_months,
        regency_payer=settings.regency_payer,
        regency_segment=settings.regency_segment,
    )
    unique, duplicates = resolve_member_duplicates(states)
    unique.write_parquet(paths.work / "members.parquet")
    active_total = int((unique["state"] == "covered").sum())
    logger.info(
        "export %s: %d rows, %d duplicate NIKs resolved, %d rows left out, %d members covered",
        export_file.name,
        members.height,
        duplicates,
        bad.height,
        active_total,
    )
    return ExportSummary(
        export_file=export_file,
        export_sha256=file_sha256(export_file),
        rows=members.height,
        duplicate_niks=duplicates,
        dropped_rows=bad.height,
        members_active_total=active_total,
        members=paths.work / "members.parquet",
    )


@task(name="reconcile-persons", cache_policy=NO_CACHE)
def reconcile_persons(
    validation: ValidationSummary,
    export: ExportSummary,
    run_date: date,
    settings: Settings,
    paths: RunPaths,
    decisions: pl.DataFrame | None = None,
) -> ReconcileSummary:
    """Status of every accepted person; the analyst partition carries person_key instead of any NIK or name.

    ``decisions`` are the reviewers' verdicts from reference/review_decisions.csv (None when there are none).
    """
    persons = pl.read_parquet(validation.persons)
    members = pl.read_parquet(export.members)
    result = reconcile(persons, members, settings.rules, decisions)
    result = result.with_columns(person_key(result["nik"], settings.person_key_secret).alias("person_key"))
    write_partition(result, paths.staging / "restricted", "persons", run_date)
    if decisions is not None:
        applied = result.filter(pl.col("decision").is_not_null()).height
        get_run_logger().info("review decisions: %d applied of %d on file", applied, decisions.height)
    analyst = (
        result.with_columns(pl.col("birth_date").dt.year().cast(pl.Int32).alias("birth_year"))
        .select(ANALYST_COLUMNS)
        .sort("person_key")
    )
    write_partition(analyst, paths.staging / "analytics", "reconciliation", run_date)
    statuses = {str(k): int(v) for k, v in result.group_by("status").len().iter_rows()}
    get_run_logger().info("person statuses: %s", statuses)
    return ReconcileSummary(statuses=statuses, persons=paths.staging / "restricted")


@task(name="compute-coverage", cache_policy=NO_CACHE)
def compute_coverage(
    run_date: date,
    villages: pl.DataFrame,
    workforce: pl.DataFrame | None,
    export: ExportSummary,
    settings: Settings,
    paths: RunPaths,
) -> Path:
    """Coverage per desa, kecamatan and kabupaten, staged for analysts and kept for the warehouse."""
    rows = pl.read_parquet(partition_dir(paths.staging / "restricted", "submission_rows", run_date) / "part-0.parquet")
    persons = pl.read_parquet(partition_dir(paths.staging / "restricted", "persons", run_date) / "part-0.parquet")
    metrics = coverage_metrics(
        run_date=run_date,
        rows=rows,
        persons=persons,
        villages=villages,
        members_active_total=export.members_active_total,
        workforce=workforce,
        region_code=settings.region_code,
        region_name=settings.region_name,
        target_total=settings.target_total,
    )
    write_partition(metrics, paths.staging / "analytics", "coverage", run_date)
    metrics.write_parquet(paths.work / "coverage.parquet")
    return paths.work / "coverage.parquet"


@task(name="write-worklists", cache_policy=NO_CACHE)
def write_worklists(run_date: date, villages: pl.DataFrame, settings: Settings, paths: RunPaths) -> dict[str, int]:
    """The lists people work from, staged under restricted/: review queue, registration list, grace list."""
    persons = pl.read_parquet(partition_dir(paths.staging / "restricted", "persons", run_date) / "part-0.parquet")
    restricted = paths.staging / "restricted"
    review = review_queue(persons, villages, name_match_min=settings.rules.name_match_min)
    write_xlsx(
        review,
        partition_dir(restricted, "review", run_date) / "review.xlsx",
        sheet="review",
        run_date=run_date,
        choices={"decision": DECISIONS},
        notes=review_notes(run_date),
    )
    registration = registration_list(persons, villages, region_name=settings.region_name)
    folder = partition_dir(restricted, "registration", run_date)
    write_xlsx(
        registration,
        folder / "registration.xlsx",
        sheet="pendaftaran",
        run_date=run_date,
        notes=registration_notes(run_date, settings.region_name),
    )
    write_csv(registration, folder / "registration.csv")
    grace = grace_list(persons, villages, run_date)
    folder = partition_dir(restricted, "grace", run_date)
    write_xlsx(grace, folder / "grace.xlsx", sheet="grace", run_date=run_date, notes=grace_notes(run_date))
    write_csv(grace, folder / "grace.csv")
    counts = {"review": review.height, "registration": registration.height, "grace": grace.height}
    get_run_logger().info("work lists: %s", counts)
    return counts
