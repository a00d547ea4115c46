"""Validate: run the submission suite over every row, decide each file's status and each row's outcome, and tell
the villages what to fix (feedback workbooks) and the Dinas what the rules found (GX Data Docs)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from cakupan.feedback import feedback_files, feedback_rows, write_feedback
from cakupan.rules import SUBMISSION_CHECK_COLUMNS, prepare_rows
from cakupan.settings import Rules
from cakupan.submissions import decide
from expectations.gx import SuiteResult, build_data_docs, suite_definition, validate, validation_page
from tasks.summaries import IngestSummary, RunPaths, ValidationSummary
from warehouse.parquet import partition_dir, write_partition

# Where a run's Data Docs site lives, relative to the data dir (and to the run's staging folder).
DATA_DOCS = ("reports", "data_docs")

# The row ledger: the values as given, where each row came from, and what became of it.
LEDGER_COLUMNS = [
    "source_file",
    "source_row",
    "kode_desa",
    pl.col("nik_given").alias("nik"),
    pl.col("nama_given").alias("nama"),
    "tempat_lahir",
    pl.col("tanggal_lahir_given").alias("tanggal_lahir"),
    pl.col("ttl_given").alias("ttl"),
    pl.col("jenis_kelamin_given").alias("jenis_kelamin"),
    pl.col("desa_given").alias("desa"),
    pl.col("kecamatan_given").alias("kecamatan"),
    "pekerjaan",
    "no_hp",
    "alamat",
    "extra",
    "nik_from_number",
    "outcome",
    "reasons",
]


def check_rows(
    raw: pl.DataFrame, files: pl.DataFrame, villages: pl.DataFrame, run_date: date, rules: Rules
) -> tuple[pl.DataFrame, pl.DataFrame, SuiteResult]:
    """Parse, validate (one GX call for all files) and decide: (files, rows, the suite's result).

    raw and files as `tasks.ingest.read_folder` returns them; rows come back with their outcome and reasons.
    """
    # A code in a file name names the file's village only when it is a village on the list; otherwise its rows
    # must name theirs (else the file's village is unknown), and rows without one are village_unknown.
    known = pl.col("file_kode_desa").is_in(villages["kode_desa"].implode())
    files = files.with_columns(pl.when(known).then(pl.col("file_kode_desa")).alias("file_kode_desa"))
    raw = raw.join(files.select("file_id", "file_kode_desa", "source_file"), on="file_id", how="left")
    # row_id runs 0..n-1, so after this sort GX's row positions are row ids.
    prepared = prepare_rows(raw, villages, run_date).sort("row_id")
    result = validate(
        "submission_rows",
        prepared.select(SUBMISSION_CHECK_COLUMNS),
        {"age_min": rules.age_min, "age_max": rules.age_max},
    )
    files, rows = decide(files, prepared, result.failures, max_rejected_share=rules.max_rejected_share)
    return files, rows, result


@task(name="validate-village-rows", cache_policy=NO_CACHE)
def validate_village_rows(
    ingest: IngestSummary, villages: pl.DataFrame, run_date: date, rules: Rules, paths: RunPaths
) -> ValidationSummary:
    """Apply expectations/suites/submission_rows.json, record one outcome per row read, write the villages'
    feedback and the run's Data Docs."""
    logger = get_run_logger()
    files, rows, result = check_rows(
        pl.read_parquet(ingest.raw_rows), pl.read_parquet(ingest.files), villages, run_date, rules
    )
    if rows.height != ingest.rows_read:
        raise RuntimeError(f"row ledger holds {rows.height} rows but {ingest.rows_read} were read")

    write_partition(
        rows.sort("source_file", "source_row").select(LEDGER_COLUMNS),
        paths.staging / "restricted",
        "submission_rows",
        run_date,
    )
    registry = files.select(
        pl.col("source_file").alias("path"),
        "sha256",
        "kode_desa",
        "submitted_at",
        "status",
        "reason",
        pl.col("read_detail").alias("detail"),
        pl.col("rejected_share"),
    ).sort("path")
    write_partition(registry, paths.staging / "restricted", "files", run_date)

    persons = (
        rows.filter(pl.col("outcome") == "accepted")
        .join(villages.select("kode_desa", "kode_kecamatan"), on="kode_desa", how="left")
        .select(
            "nik",
            "nama",
            "birth_date",
            "sex",
            "kode_desa",
            "kode_kecamatan",
            pl.col("pekerjaan").str.strip_chars().str.to_uppercase(),
            "alamat",
            "no_hp",
            "source_file",
            "source_row",
            "birth_place",
        )
    )
    persons.write_parquet(paths.work / "persons.parquet")

    # Always staged, even empty: a rerun with nothing left to fix must replace the date's earlier feedback.
    feedback_folder = partition_dir(paths.staging / "restricted", "feedback", run_date)
    feedback_folder.mkdir(parents=True, exist_ok=True)
    written = write_feedback(
        feedback_rows(rows, files, result.failures), feedback_files(files), villages, feedback_folder, run_date
    )
    docs_site = paths.staging.joinpath(*DATA_DOCS)
    docs_index = build_data_docs(
        [result], docs_site, run_name=run_date.isoformat(), previous=paths.data_dir.joinpath(*DATA_DOCS)
    )
    docs_page = validation_page(docs_site, result, run_date.isoformat())

    def published(path: Path) -> Path:
        return paths.data_dir / path.relative_to(paths.staging)

    outcomes = dict(rows.group_by("outcome").len().iter_rows())
    statuses = dict(files.group_by("status").len().iter_rows())
    rejected = [
        (r["source_file"], r["reason"]) for r in files.filter(pl.col("status") == "rejected").iter_rows(named=True)
    ]
    for name, reason in rejected:
        logger.warning("file rejected: %s (%s)", name, reason)
    logger.info("rows: %s; files: %s", outcomes, statuses)
    logger.info("feedback for %d villages in %s; Data Docs %s", len(written), feedback_folder.name, docs_index)
    return ValidationSummary(
        rows_read=rows.height,
        outcomes={str(k): int(v) for k, v in outcomes.items()},
        file_statuses={str(k): int(v) for k, v in statuses.items()},
        rejected_files=rejected,
        persons=paths.work / "persons.parquet",
        rules_version=rules.version,
        suite_version=str(suite_definition("submission_rows")["meta"]["version"]),
        data_docs=published(docs_index),
        data_docs_page=None if docs_page is None else published(docs_page),
        feedback=published(feedback_folder),
        feedback_villages=len(written),
    )
