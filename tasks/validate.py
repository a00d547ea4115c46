"""Validate: run the submission suite over every row, then decide each file's status and each row's outcome."""

from __future__ import annotations

from datetime import date

import polars as pl
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from cakupan.rules import SUBMISSION_CHECK_COLUMNS, prepare_rows
from cakupan.settings import Rules
from cakupan.submissions import decide
from expectations.gx import suite_definition, validate
from tasks.summaries import IngestSummary, RunPaths, ValidationSummary
from warehouse.parquet import write_partition

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


@task(name="validate-village-rows", cache_policy=NO_CACHE)
def validate_village_rows(
    ingest: IngestSummary, villages: pl.DataFrame, run_date: date, rules: Rules, paths: RunPaths
) -> ValidationSummary:
    """Apply expectations/suites/submission_rows.json and record one outcome per row read."""
    logger = get_run_logger()
    raw = pl.read_parquet(ingest.raw_rows)
    files = pl.read_parquet(ingest.files)
    raw = raw.join(files.select("file_id", "file_kode_desa", "source_file"), on="file_id", how="left")
    # row_id runs 0..n-1, so after this sort GX's row positions are row ids.
    prepared = prepare_rows(raw, villages, run_date).sort("row_id")
    result = validate(
        "submission_rows",
        prepared.select(SUBMISSION_CHECK_COLUMNS),
        {"age_min": rules.age_min, "age_max": rules.age_max},
    )
    files, rows = decide(files, prepared, result.failures, max_rejected_share=rules.max_rejected_share)
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
        )
    )
    persons.write_parquet(paths.work / "persons.parquet")

    outcomes = dict(rows.group_by("outcome").len().iter_rows())
    statuses = dict(files.group_by("status").len().iter_rows())
    rejected = [
        (r["source_file"], r["reason"]) for r in files.filter(pl.col("status") == "rejected").iter_rows(named=True)
    ]
    for name, reason in rejected:
        logger.warning("file rejected: %s (%s)", name, reason)
    logger.info("rows: %s; files: %s", outcomes, statuses)
    return ValidationSummary(
        rows_read=rows.height,
        outcomes={str(k): int(v) for k, v in outcomes.items()},
        file_statuses={str(k): int(v) for k, v in statuses.items()},
        rejected_files=rejected,
        persons=paths.work / "persons.parquet",
        rules_version=rules.version,
        suite_version=str(suite_definition("submission_rows")["meta"]["version"]),
    )
