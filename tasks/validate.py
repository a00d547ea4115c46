"""Validate: run the submission suite over every row, decide each file's status and each row's outcome, and tell
the villages what to fix (feedback workbooks) and the Dinas what the rules found (GX Data Docs)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import polars as pl
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from upath import UPath

from cakupan import values
from cakupan.feedback import LISTED, feedback_columns, feedback_files, feedback_rows, write_feedback_from
from cakupan.names import NAME_KEY
from cakupan.partitions import NikRanges, nik_partition, nik_ranges, scan_all, scan_part, split, write_part
from cakupan.rules import SUBMISSION_CHECK_COLUMNS, prepare_rows
from cakupan.settings import Rules
from cakupan.submissions import decide
from expectations.combine import combine_results
from expectations.gx import SuiteResult, build_data_docs, suite_definition, validate, validation_page
from tasks.processes import in_own_process
from tasks.summaries import IngestSummary, RunPaths, ValidationSummary
from warehouse.parquet import Order, partition_dir, write_partition

# What validate-village-rows leaves in the run's work folder for write-feedback.
FEEDBACK_ROWS, FEEDBACK_FILES = "feedback_rows.parquet", "feedback_files.parquet"

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


# What the person-level steps carry of an accepted row.
PERSON_COLUMNS = [
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
    NAME_KEY,
]
# The row ledger by file and row, written a chunk of files at a time (a national ledger is ten million rows).
LEDGER_ORDER = Order(("source_file", "source_row"), pl.col("source_file"))
# What ``decide`` reads of a row; the rest of a checked row waits on disk until the outcome is known.
DECIDE_COLUMNS = ["row_id", "file_id", "source_row", "nik", "kode_desa"]


def file_registry(files: pl.DataFrame) -> pl.DataFrame:
    """The restricted ``files`` dataset: one row per file seen, by path, with what became of it."""
    return files.select(
        pl.col("source_file").alias("path"),
        "sha256",
        "kode_desa",
        "submitted_at",
        "status",
        "reason",
        pl.col("read_detail").alias("detail"),
        "rejected_share",
    ).sort("path")


def known_village_files(files: pl.DataFrame, villages: pl.DataFrame) -> pl.DataFrame:
    """A code in a file name names the file's village only when it is a village on the list; otherwise its rows
    must name theirs (else the file's village is unknown), and rows without one are village_unknown."""
    known = pl.col("file_kode_desa").is_in(villages["kode_desa"].implode())
    return files.with_columns(pl.when(known).then(pl.col("file_kode_desa")).alias("file_kode_desa"))


def check_partition(
    raw: pl.DataFrame, files: pl.DataFrame, villages: pl.DataFrame, run_date: date, rules: Rules
) -> tuple[pl.DataFrame, SuiteResult]:
    """Parse and validate some rows (all, or one NIK partition): (prepared rows by row_id, the suite's result with
    failures keyed by row_id). ``files`` as ``known_village_files`` returns them."""
    raw = raw.join(files.select("file_id", "file_kode_desa", "source_file"), on="file_id", how="left")
    prepared = prepare_rows(raw, villages, run_date).sort("row_id")
    result = validate(
        "submission_rows",
        prepared.select(SUBMISSION_CHECK_COLUMNS),
        {"age_min": rules.age_min, "age_max": rules.age_max},
    )
    # GX names failing rows by position in the frame it was given.
    row_ids = prepared["row_id"]
    failures = result.failures.with_columns(row_ids.gather(result.failures["row_id"]).alias("row_id"))
    return prepared, replace(result, failures=failures)


def check_rows(
    raw: pl.DataFrame, files: pl.DataFrame, villages: pl.DataFrame, run_date: date, rules: Rules
) -> tuple[pl.DataFrame, pl.DataFrame, SuiteResult]:
    """Parse, validate (one GX call for all files) and decide in one pass: (files, rows, the suite's result).

    raw and files as `tasks.ingest.read_folder` returns them; rows come back with their outcome and reasons.
    """
    files = known_village_files(files, villages)
    prepared, result = check_partition(raw, files, villages, run_date, rules)
    files, rows = decide(files, prepared, result.failures, max_rejected_share=rules.max_rejected_share)
    return files, rows, result


def decide_checked(
    checked: UPath, failures: pl.DataFrame, files: UPath, villages: pl.DataFrame, rules: Rules
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Every file's status and every row's outcome (``decide``) from the checked partitions in ``checked``, their
    ``failures`` and the ``files`` read."""
    return decide(
        known_village_files(pl.read_parquet(str(files)), villages),
        scan_all(checked).select(DECIDE_COLUMNS).collect(),
        failures,
        max_rejected_share=rules.max_rejected_share,
    )


def with_outcomes(rows: pl.LazyFrame, decided: pl.DataFrame) -> pl.LazyFrame:
    """Checked rows with the village, outcome and reasons ``decide`` gave them."""
    outcomes = decided.select("row_id", "kode_desa", "outcome", "reasons").lazy()
    return rows.drop("kode_desa").join(outcomes, on="row_id", how="inner")


def ledger_rows(checked: UPath, decided: pl.DataFrame) -> pl.LazyFrame:
    """The row ledger, one row per row read with its outcome (unsorted: written in ``LEDGER_ORDER``)."""
    return with_outcomes(scan_all(checked), decided).select(LEDGER_COLUMNS)


def write_persons(
    checked: UPath, decided: pl.DataFrame, villages: pl.DataFrame, partitions: int, folder: UPath
) -> None:
    """The accepted persons, in the NIK partitions they were checked in: reconciliation runs on those.

    Each partition in NIK order, as the export's members are (``resolve_member_duplicates``): matching by NIK then
    merges the two instead of hashing them (``cakupan.reconcile.match_exact``).
    """
    kecamatan_of = villages.select("kode_desa", "kode_kecamatan").lazy()
    for index in range(partitions):
        accepted = with_outcomes(scan_part(checked, index), decided).filter(pl.col("outcome") == "accepted")
        persons = accepted.join(kecamatan_of, on="kode_desa", how="left").select(PERSON_COLUMNS).sort("nik")
        write_part(persons, folder, index)


def split_by_nik(raw_rows: pl.LazyFrame, partitions: int, folder: UPath) -> tuple[UPath, NikRanges]:
    """``raw_rows`` split into ``folder`` by the range of their cleaned NIK (rows of one NIK meet in one partition),
    with the ranges, which the export's members are split by too."""
    cleaned = values.clean_nik(pl.col("nik"))
    ranges = nik_ranges(raw_rows.select(cleaned.alias("nik")), partitions)
    return split(raw_rows, nik_partition(cleaned, ranges), partitions, folder), ranges


@task(name="split-rows", cache_policy=NO_CACHE)
def split_rows(ingest: IngestSummary, partitions: int, paths: RunPaths) -> tuple[UPath, NikRanges]:
    """The rows read, split by NIK range (``split_by_nik``); and the ranges."""
    return split_by_nik(pl.scan_parquet(str(ingest.raw_rows)), partitions, paths.work / "raw_rows")


@task(name="check-rows", cache_policy=NO_CACHE)
def check_rows_partition(
    raw_rows: UPath, index: int, files: UPath, villages: pl.DataFrame, run_date: date, rules: Rules
) -> SuiteResult:
    """Parse and validate one partition of rows: checked rows and failures are written beside its rows."""
    decided_files = known_village_files(pl.read_parquet(str(files)), villages)
    prepared, result = check_partition(scan_part(raw_rows, index).collect(), decided_files, villages, run_date, rules)
    write_part(prepared, raw_rows.parent / "checked", index)
    write_part(result.failures, raw_rows.parent / "failures", index)
    return replace(result, failures=result.failures.clear())


@task(name="validate-village-rows", cache_policy=NO_CACHE)
def validate_village_rows(
    ingest: IngestSummary,
    checked: list[SuiteResult],
    villages: pl.DataFrame,
    run_date: date,
    rules: Rules,
    paths: RunPaths,
) -> ValidationSummary:
    """Decide every file's status and every row's outcome from the checked partitions, record one outcome per row
    read, and write the run's Data Docs, the accepted persons (by NIK partition) and what the villages' feedback
    shows (written by ``write_village_feedback``)."""
    logger = get_run_logger()
    checked_rows = paths.work / "checked"
    failures = scan_all(paths.work / "failures").collect()
    result = combine_results(checked, failures)
    files, decided = decide_checked(checked_rows, failures, ingest.files, villages, rules)
    if decided.height != ingest.rows_read:
        raise RuntimeError(f"row ledger holds {decided.height} rows but {ingest.rows_read} were read")
    ledger = ledger_rows(checked_rows, decided)
    write_partition(ledger, paths.staging / "restricted", "submission_rows", run_date, order=LEDGER_ORDER)
    write_partition(file_registry(files), paths.staging / "restricted", "files", run_date)
    persons_folder = paths.work / "persons"
    write_persons(checked_rows, decided, villages, len(checked), persons_folder)

    # Only the rows a village must look at, and only what its feedback shows of them, are read: joining every
    # checked row took 5.8 GiB at a national run, for a million rows to show.
    to_look_at = decided.filter(LISTED)
    rows = scan_all(checked_rows)
    flagged = (
        with_outcomes(rows.filter(pl.col("row_id").is_in(to_look_at["row_id"].implode())), to_look_at)
        .select(feedback_columns(rows.collect_schema().names()))
        .collect()
    )
    # write-feedback writes the workbooks from these, beside the reconciliation.
    feedback_rows(flagged, files, result.failures).write_parquet(str(paths.work / FEEDBACK_ROWS))
    feedback_files(files).write_parquet(str(paths.work / FEEDBACK_FILES))
    docs_site = paths.staging.joinpath(*DATA_DOCS)
    docs_index = build_data_docs(
        [result], docs_site, run_name=run_date.isoformat(), previous=paths.data_dir.joinpath(*DATA_DOCS)
    )
    docs_page = validation_page(docs_site, result, run_date.isoformat())

    def published(path: Path) -> Path:
        return paths.data_dir / path.relative_to(paths.staging)

    outcomes = dict(decided.group_by("outcome").len().iter_rows())
    statuses = dict(files.group_by("status").len().iter_rows())
    rejected = [
        (r["source_file"], r["reason"]) for r in files.filter(pl.col("status") == "rejected").iter_rows(named=True)
    ]
    for name, reason in rejected:
        logger.warning("file rejected: %s (%s)", name, reason)
    logger.info("rows: %s; files: %s", outcomes, statuses)
    logger.info("Data Docs %s", docs_index)
    return ValidationSummary(
        rows_read=decided.height,
        outcomes={str(k): int(v) for k, v in outcomes.items()},
        file_statuses={str(k): int(v) for k, v in statuses.items()},
        rejected_files=rejected,
        persons=persons_folder,
        rules_version=rules.version,
        suite_version=str(suite_definition("submission_rows")["meta"]["version"]),
        data_docs=published(docs_index),
        data_docs_page=None if docs_page is None else published(docs_page),
        feedback=published(feedback_path(paths, run_date)),
    )


def feedback_path(paths: RunPaths, run_date: date) -> Path:
    """Where a run stages the villages' feedback workbooks."""
    return partition_dir(paths.staging / "restricted", "feedback", run_date)


@task(name="write-feedback", cache_policy=NO_CACHE)
def write_village_feedback(villages: pl.DataFrame, run_date: date, paths: RunPaths) -> list[Path]:
    """Write a workbook for every village with something to fix, from what validate-village-rows found.

    The workbooks are written cell by cell in Python (a regency's 229: 0.7 s), so in a process of their own, which
    reads what it shows itself. Returns the workbooks written.
    """
    # Always staged, even empty: a rerun with nothing left to fix must replace the date's earlier feedback.
    folder = feedback_path(paths, run_date)
    folder.mkdir(parents=True, exist_ok=True)
    rows, files = str(paths.work / FEEDBACK_ROWS), str(paths.work / FEEDBACK_FILES)
    written = in_own_process(write_feedback_from, rows, files, villages, folder, run_date)
    get_run_logger().info("feedback for %d villages in %s", len(written), folder.name)
    return written
