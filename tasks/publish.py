"""Publish: complete and check the coverage table, stage the report, swap everything in, tell people.

Order in a run: ``complete_coverage`` (premium, changes since the previous run, invariants: a table that breaks an
invariant stops the run before anything is published) -> ``write_coverage_report`` (staged under reports/) ->
``publish_outputs`` (partitions, reports and warehouse rows, all or nothing) -> ``publish_artifacts`` (Prefect UI).
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import polars as pl
from prefect import get_run_logger, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from cakupan.errors import InputError
from cakupan.metrics import PREMIUM_PERSON_COLUMNS, invariant_checks, with_changes, with_premium
from cakupan.premium import PREMIUM_RATES_FILE, load_premium_rates
from cakupan.report import coverage_report_html, desa_rows, kecamatan_rows, summary_markdown
from cakupan.settings import Settings
from expectations.gx import validate
from tasks.summaries import RunPaths, RunSummary
from warehouse.parquet import partition_dir, recover_interrupted_swaps, staged_outputs, swap_in, write_partition
from warehouse.store import connect, kabupaten_history, previous_metrics, replace_run, run_committed

REPORTS = "reports"
DATA_DOCS_INDEX = Path(REPORTS) / "data_docs" / "index.html"
_EXAMPLES = 3


@dataclass(frozen=True)
class CoverageOutcome:
    """The completed coverage table of a run (a Parquet file in the work folder) and what it was computed with."""

    path: Path
    premium_rates_version: str
    premium_period: str
    warnings: list[str] = field(default_factory=list)


def report_name(run_date: date) -> str:
    return f"coverage_{run_date.isoformat()}.html"


@task(name="complete-coverage", cache_policy=NO_CACHE)
def complete_coverage(
    run_date: date, coverage: Path, settings: Settings, paths: RunPaths, rates_file: Path = PREMIUM_RATES_FILE
) -> CoverageOutcome:
    """Add the monthly premium and each count's change since the previous run, then check the invariants.

    Rewrites ``coverage`` and the staged analytics/coverage partition in place. A table that breaks an invariant of
    expectations/suites/coverage_metrics.json raises InputError: nothing is published, the previous outputs stay.
    """
    logger = get_run_logger()
    rates = load_premium_rates(rates_file)
    rate_rp, period = rates.rate_on(run_date)
    persons = pl.read_parquet(
        partition_dir(paths.staging / "restricted", "persons", run_date) / "part-0.parquet",
        columns=list(PREMIUM_PERSON_COLUMNS),
    )
    engine = connect(settings.warehouse_url)
    try:
        previous = previous_metrics(engine, run_date)
    finally:
        engine.dispose()
    metrics = with_changes(with_premium(pl.read_parquet(coverage), persons, rate_rp=rate_rp), previous)
    warnings = check_invariants(metrics)
    for warning in warnings:
        logger.warning(warning)
    write_partition(metrics, paths.staging / "analytics", "coverage", run_date)
    metrics.write_parquet(coverage)
    logger.info(
        "premium Rp%d/month per member (%s, rates %s); compared with %s",
        rate_rp,
        period,
        rates.version,
        "nothing (first run)" if previous is None else previous["run_date"].max(),
    )
    return CoverageOutcome(coverage, rates.version, period, warnings)


def check_invariants(metrics: pl.DataFrame) -> list[str]:
    """Validate the table with expectations/suites/coverage_metrics.json; the warnings (level W) it raises.

    Raises InputError naming every broken E-level invariant, its column and a few of the rows that break it.
    """
    checks = invariant_checks(metrics)
    result = validate("coverage_metrics", checks, detail="failed")  # 38 expectations that nearly always pass
    keys = checks.select(pl.concat_str("level", pl.lit(" "), "kode").alias("row")).with_row_index("row_id")
    examples = (
        result.failures.join(keys.with_columns(pl.col("row_id").cast(pl.Int64)), on="row_id", how="left")
        .group_by("reason", maintain_order=True)
        .agg(pl.col("row").head(_EXAMPLES))
    )
    rows_of = {reason: ", ".join(rows) for reason, rows in examples.iter_rows()}
    errors = [
        f"{o.reason} ({o.column}) on {o.unexpected_count} row(s), e.g. {rows_of.get(o.reason, '?')}"
        for o in result.failed()
        if o.level == "E"
    ]
    if errors:
        raise InputError("coverage metrics break their invariants: " + "; ".join(errors) + "; nothing was published")
    return [
        f"{o.reason} on {o.unexpected_count} row(s), e.g. {rows_of.get(o.reason, '?')}"
        for o in result.failed()
        if o.level != "E"
    ]


@task(name="write-coverage-report", cache_policy=NO_CACHE)
def write_coverage_report(run_date: date, coverage: CoverageOutcome, settings: Settings, paths: RunPaths) -> Path:
    """Stage reports/coverage_YYYY-MM-DD.html (publishing swaps it in); returns where it will be once published."""
    metrics = pl.read_parquet(coverage.path)
    engine = connect(settings.warehouse_url)
    try:
        history = kabupaten_history(engine, run_date)
    finally:
        engine.dispose()
    # Relative links, so the report still finds its neighbours when the data folder is copied or shared.
    links = {
        "Data Docs (Great Expectations)": "data_docs/index.html",
        "analytics/coverage": f"../analytics/coverage/run_date={run_date}/",
        "analytics/reconciliation": f"../analytics/reconciliation/run_date={run_date}/",
    }
    if not any((root / DATA_DOCS_INDEX).exists() for root in (paths.staging, paths.data_dir)):
        del links["Data Docs (Great Expectations)"]
    html = coverage_report_html(
        metrics,
        history,
        premium_period=coverage.premium_period,
        premium_rates_version=coverage.premium_rates_version,
        links=links,
    )
    staged = paths.staging / REPORTS / report_name(run_date)
    staged.parent.mkdir(parents=True, exist_ok=True)
    staged.write_text(html, encoding="utf-8")
    get_run_logger().info("coverage report staged: %s (%d KB)", staged.name, len(html) // 1024)
    return paths.data_dir / REPORTS / report_name(run_date)


@task(name="publish-outputs", retries=2, retry_delay_seconds=[10, 60], cache_policy=NO_CACHE)
def publish_outputs(
    run_date: date, coverage: Path, run_record: dict[str, object], db_url: str, paths: RunPaths
) -> dict[str, str]:
    """Swap the staged partitions and reports in and commit the warehouse rows; either both happen or neither does.

    The warehouse rows are the coverage table, the run's submission files (from the staged restricted/files
    partition) and the run's record, in one transaction.
    """
    metrics = pl.read_parquet(coverage)
    staged_files = partition_dir(paths.staging / "restricted", "files", run_date)
    files = pl.read_parquet(staged_files / "part-0.parquet") if staged_files.is_dir() else None
    engine = connect(db_url)
    outputs = staged_outputs(paths.staging, run_date)
    run_id = str(run_record["run_id"])
    try:
        # A run of this date killed while swapping left a journal: finish or undo its swap before this one.
        for killed in recover_interrupted_swaps(paths.data_dir, run_date, lambda rid: run_committed(engine, rid)):
            get_run_logger().warning("cleaned up the interrupted publish of run %s", killed)
        # Files first, then the commit inside the swap: a failed commit puts the previous partitions back.
        with swap_in(paths.staging, paths.data_dir, outputs, run_id=run_id, run_date=run_date):
            replace_run(engine, run_date, metrics, run_record, files)
    finally:
        engine.dispose()
    shutil.rmtree(paths.staging.parent, ignore_errors=True)
    get_run_logger().info("published %d coverage rows for %s", metrics.height, run_date)
    return {str(p.parent if p.name.startswith("run_date=") else p): str(paths.data_dir / p) for p in outputs}


@task(name="publish-artifacts", cache_policy=NO_CACHE)
def publish_artifacts(
    summary: RunSummary,
    metrics: pl.DataFrame,
    coverage: CoverageOutcome,
    data_dir: Path,
    preview_of: Sequence[str] | None = None,
) -> None:
    """What a person sees in the Prefect UI after a run.

    cakupan-run-summary (markdown: headline, changes since the last run, rejected files, people to review, links),
    cakupan-kecamatan (one row per kecamatan), cakupan-kecamatan-<kode> (the desa of each kecamatan) and
    cakupan-report (a link to the HTML report). A preview publishes nothing, so it links nothing either.
    """
    run_date = summary.run_date
    links = {} if preview_of else artifact_links(summary, data_dir)
    markdown = summary_markdown(
        metrics,
        rows_read=summary.rows_read,
        outcomes=summary.outcomes,
        file_statuses=summary.file_statuses,
        rejected_files=summary.rejected_files,
        export_file=summary.export_file,
        links=links,
        warnings=coverage.warnings,
    )
    if preview_of:
        markdown = f"**Preview of {', '.join(preview_of)}: nothing was published.**\n\n{markdown}"
    create_markdown_artifact(key="cakupan-run-summary", markdown=markdown, description=f"cakupan {run_date}")
    create_table_artifact(
        key="cakupan-kecamatan", table=kecamatan_rows(metrics), description=f"Cakupan per kecamatan, {run_date}"
    )
    for kecamatan in metrics.filter(pl.col("level") == "kecamatan").iter_rows(named=True):
        create_table_artifact(
            key=artifact_key(f"cakupan-kecamatan-{kecamatan['kode']}"),
            table=desa_rows(metrics, kecamatan["kode"]),
            description=f"Kecamatan {kecamatan['nama']}: cakupan per desa, {run_date}",
        )
    report = links.get("Laporan cakupan (HTML report)")
    if report:
        create_link_artifact(
            key="cakupan-report", link=report, link_text=report_name(run_date), description=f"cakupan {run_date}"
        )


def artifact_links(summary: RunSummary, data_dir: Path) -> dict[str, str]:
    """Label -> file URI of the published report, the Data Docs when built, and every output folder of the run."""
    data_dir = data_dir.resolve()
    links: dict[str, str] = {}
    report = data_dir / REPORTS / report_name(summary.run_date)
    if report.exists():
        links["Laporan cakupan (HTML report)"] = report.as_uri()
    if (data_dir / DATA_DOCS_INDEX).exists():
        links["Data Docs (Great Expectations)"] = (data_dir / DATA_DOCS_INDEX).as_uri()
    for name, path in sorted(summary.outputs.items()):
        if not name.startswith(REPORTS):
            links[name] = Path(path).resolve().as_uri()
    return links


def artifact_key(text: str) -> str:
    """Prefect artifact keys allow lowercase letters, digits and dashes: '62.03.01' becomes '62-03-01'."""
    return "".join(c if c.isalnum() else "-" for c in text.lower())
