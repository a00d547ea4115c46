"""The pipeline's stages as `make bench` times them: each reads the previous stage's Parquet and writes its own.

Every stage calls the project's own pure code through the adapters in the first section below, and nothing else
of the project: to benchmark another implementation (partitioned by NIK hash, say) repoint those adapters and
keep the file contract. Files under a size's work folder ``WORK`` (one row per ...):

============  ====================================  ===========================================================
stage         reads                                 writes
============  ====================================  ===========================================================
read          inputs/submissions/, the export       files.parquet (file read: tasks.ingest.FILES_SCHEMA),
                                                    raw_rows.parquet (data row as read, + file_id, row_id),
                                                    export_rows.parquet (export row as read)
validate      raw_rows, files, export_rows,         ledger.parquet (data row: tasks.validate.LEDGER_COLUMNS,
              reference/villages.csv                sorted by source_file, source_row), file_status.parquet
                                                    (file: path, sha256, kode_desa, status, reason, ...),
                                                    persons.parquet (accepted NIK: the columns reconcile
                                                    reads), members.parquet (NIK of the export: gated by
                                                    bpjs_export.json, with state, one KPJ per NIK)
reconcile     persons, members                      reconciliation.parquet (person: cakupan.reconcile's result
                                                    + person_key)
metrics       ledger, reconciliation, members,      coverage.parquet (run_date, level, kode)
              reference/villages.csv
write         ledger, file_status, reconciliation,  WORK/out/restricted/{submission_rows,files,persons}/ and
              coverage                              WORK/out/analytics/{reconciliation,coverage}/, each
                                                    run_date=YYYY-MM-DD/part-0.parquet as the run publishes them
============  ====================================  ===========================================================

A stage function returns its phases' seconds ({"read_folder": 61.2, ...}) so a slow stage names its slow call.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from benchmarks.generate import RUN_DATE, Inputs
from cakupan import readers
from cakupan.metrics import coverage_metrics
from cakupan.pii import person_key
from cakupan.readers import read_bpjs_export, scan_bpjs_export
from cakupan.reconcile import member_states, resolve_member_duplicates
from cakupan.reconcile import reconcile as reconcile_core
from cakupan.reference import load_villages as load_reference_villages
from cakupan.rules import prepare_members, prepare_rows
from cakupan.settings import Settings, load_rules
from expectations.gx import validate as gx_validate
from tasks.ingest import read_folder
from tasks.reconcile import ANALYST_COLUMNS
from tasks.validate import LEDGER_COLUMNS, PERSON_COLUMNS, check_rows, file_registry
from warehouse.parquet import ROW_GROUP_SIZE, write_partition

# The person_key secret of benchmark runs (the data is synthetic).
BENCH_PII_KEY = b"cakupan-benchmark-key"
TIMEZONE = "Asia/Jakarta"
Phases = dict[str, float]


@contextmanager
def phase(phases: Phases, name: str) -> Iterator[None]:
    """Add the seconds the block takes to ``phases[name]``."""
    started = time.perf_counter()
    try:
        yield
    finally:
        phases[name] = phases.get(name, 0.0) + time.perf_counter() - started


# ---------------------------------------------------------------------------------------------- adapters
# With the imports above, the only code that knows the project's API. Frames in, frames out, no I/O of their own.


def warm_up() -> None:
    """Pay the one-off costs before a stage's clock starts: Great Expectations' import and context (seconds)."""
    from expectations.gx import _context

    _context()


def read_submissions(folder: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(files, raw rows) of a folder of village lists."""
    return read_folder(folder, TIMEZONE)


def read_export(path: Path) -> pl.DataFrame | pl.LazyFrame:
    """The rows of a BPJS export as read (reader contract); a large CSV as a stream, as load_bpjs_export reads it."""
    table = (scan_bpjs_export(path) if path.stat().st_size > readers.STREAM_CSV_BYTES else None) or read_bpjs_export(
        path
    )
    if table.error:
        raise RuntimeError(f"{path.name}: {table.error}: {table.error_detail}")
    return table.rows


def load_villages(inputs: Inputs) -> pl.DataFrame:
    return load_reference_villages(inputs.reference)


def check_submissions(
    raw: pl.DataFrame, files: pl.DataFrame, villages: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(ledger, file registry, accepted persons, the suite's failures), as tasks/validate.py derives them."""
    files, rows, result = check_rows(raw, files, villages, RUN_DATE, load_rules())
    ledger = rows.sort("source_file", "source_row").select(LEDGER_COLUMNS)
    registry = file_registry(files)
    persons = (
        rows.filter(pl.col("outcome") == "accepted")
        .join(villages.select("kode_desa", "kode_kecamatan"), on="kode_desa", how="left")
        .select(PERSON_COLUMNS)
    )
    return ledger, registry, persons, result.failures


def prepared_submission_rows(raw: pl.DataFrame, files: pl.DataFrame, villages: pl.DataFrame) -> pl.DataFrame:
    """The frame check_rows hands to Great Expectations (its first steps, repeated here to time GX alone)."""
    known = pl.col("file_kode_desa").is_in(villages["kode_desa"].implode())
    files = files.with_columns(pl.when(known).then(pl.col("file_kode_desa")).alias("file_kode_desa"))
    raw = raw.join(files.select("file_id", "file_kode_desa", "source_file"), on="file_id", how="left")
    return prepare_rows(raw, villages, RUN_DATE).sort("row_id")


def gate_export(export_rows: pl.DataFrame, phases: Phases) -> pl.DataFrame:
    """Gated, state-annotated, one-KPJ-per-NIK members, as tasks/reconcile.load_bpjs_export makes them."""
    settings = Settings()
    with phase(phases, "prepare_members"):
        members = prepare_members(export_rows, RUN_DATE)
    with phase(phases, "gx_bpjs_export"):
        result = gx_validate("bpjs_export", members)
    if not result.success:
        raise RuntimeError(f"the export failed its gate: {[o.reason for o in result.failed()]}")
    with phase(phases, "member_states_and_duplicates"):
        bad = result.failures.select("row_id").unique()
        kept = (
            members.with_row_index("row_id")
            .with_columns(pl.col("row_id").cast(pl.Int64))
            .join(bad, on="row_id", how="anti")
            .drop("row_id")
        )
        states = member_states(
            kept,
            RUN_DATE,
            grace_months=settings.rules.grace_months,
            regency_payer=settings.regency_payer,
            regency_segment=settings.regency_segment,
        )
        unique, _ = resolve_member_duplicates(states)
    return unique


def reconcile_persons(persons: pl.DataFrame, members: pl.DataFrame, phases: Phases) -> pl.DataFrame:
    """Every person's status (no review decisions) with person_key, as tasks/reconcile.reconcile_persons."""
    with phase(phases, "reconcile"):
        result = reconcile_core(persons, members, load_rules())
    with phase(phases, "person_key"):
        return result.with_columns(person_key(result["nik"], BENCH_PII_KEY).alias("person_key"))


def coverage(
    ledger: pl.DataFrame, reconciliation: pl.DataFrame, villages: pl.DataFrame, members_active_total: int
) -> pl.DataFrame:
    settings = Settings()
    return coverage_metrics(
        run_date=RUN_DATE,
        rows=ledger,
        persons=reconciliation,
        villages=villages,
        members_active_total=members_active_total,
        workforce=None,
        region_code=settings.region_code,
        region_name=settings.region_name,
        target_total=None,
    )


def publish_partitions(
    ledger: pl.DataFrame, registry: pl.DataFrame, reconciliation: pl.DataFrame, metrics: pl.DataFrame, out: Path
) -> None:
    """The run's Parquet partitions: restricted ledger, file registry and persons; analyst reconciliation and
    coverage (tasks/validate.py, tasks/reconcile.py)."""
    restricted, analytics = out / "restricted", out / "analytics"
    write_partition(ledger, restricted, "submission_rows", RUN_DATE)
    write_partition(registry, restricted, "files", RUN_DATE)
    write_partition(reconciliation, restricted, "persons", RUN_DATE)
    analyst = (
        reconciliation.with_columns(pl.col("birth_date").dt.year().cast(pl.Int32).alias("birth_year"))
        .select(ANALYST_COLUMNS)
        .sort("person_key")
    )
    write_partition(analyst, analytics, "reconciliation", RUN_DATE)
    write_partition(metrics, analytics, "coverage", RUN_DATE)


# ---------------------------------------------------------------------------------------------- stages


def read(inputs: Inputs, work: Path) -> Phases:
    phases: Phases = {}
    with phase(phases, "read_folder"):
        files, rows = read_submissions(inputs.submissions)
    with phase(phases, "read_bpjs_export"):
        export_rows = read_export(inputs.export_file)
        if isinstance(export_rows, pl.LazyFrame):  # streamed from the CSV into Parquet: one pass, read and write
            export_rows.sink_parquet(work / "export_rows.parquet")
    with phase(phases, "write_parquet"):
        files.write_parquet(work / "files.parquet")
        rows.write_parquet(work / "raw_rows.parquet")
        if isinstance(export_rows, pl.DataFrame):
            export_rows.write_parquet(work / "export_rows.parquet")
    return phases


def validate(inputs: Inputs, work: Path) -> Phases:
    phases: Phases = {}
    with phase(phases, "read_parquet"):
        raw, files = pl.read_parquet(work / "raw_rows.parquet"), pl.read_parquet(work / "files.parquet")
        export_rows = pl.read_parquet(work / "export_rows.parquet")
        villages = load_villages(inputs)
    with phase(phases, "check_rows"):
        ledger, registry, persons, _ = check_submissions(raw, files, villages)
    members = gate_export(export_rows, phases)
    with phase(phases, "write_parquet"):
        ledger.write_parquet(work / "ledger.parquet")
        registry.write_parquet(work / "file_status.parquet")
        persons.write_parquet(work / "persons.parquet")
        members.write_parquet(work / "members.parquet")
    return phases


def reconcile(inputs: Inputs, work: Path) -> Phases:
    phases: Phases = {}
    with phase(phases, "read_parquet"):
        persons, members = pl.read_parquet(work / "persons.parquet"), pl.read_parquet(work / "members.parquet")
    result = reconcile_persons(persons, members, phases)
    with phase(phases, "write_parquet"):
        result.write_parquet(work / "reconciliation.parquet")
    return phases


def metrics(inputs: Inputs, work: Path) -> Phases:
    phases: Phases = {}
    with phase(phases, "read_parquet"):
        ledger = pl.read_parquet(work / "ledger.parquet")
        reconciliation = pl.read_parquet(work / "reconciliation.parquet")
        members = pl.read_parquet(work / "members.parquet")
        villages = load_villages(inputs)
    with phase(phases, "coverage_metrics"):
        table = coverage(ledger, reconciliation, villages, int((members["state"] == "covered").sum()))
    with phase(phases, "write_parquet"):
        table.write_parquet(work / "coverage.parquet")
    return phases


def write(inputs: Inputs, work: Path) -> Phases:
    phases: Phases = {}
    with phase(phases, "read_parquet"):
        ledger, registry = pl.read_parquet(work / "ledger.parquet"), pl.read_parquet(work / "file_status.parquet")
        reconciliation = pl.read_parquet(work / "reconciliation.parquet")
        table = pl.read_parquet(work / "coverage.parquet")
    with phase(phases, "write_partition"):
        publish_partitions(ledger, registry, reconciliation, table, work / "out")
    return phases


@dataclass(frozen=True)
class Stage:
    """A stage, what it reads (work files, or the raw inputs) and what it writes: the I/O floor repeats these."""

    run: Callable[[Inputs, Path], Phases]
    reads: tuple[str, ...]
    writes: tuple[str, ...]


RAW_INPUTS = "inputs"  # the submission files, the export and villages.csv, read as bytes by the floor
STAGES: dict[str, Stage] = {
    "read": Stage(read, (RAW_INPUTS,), ("files.parquet", "raw_rows.parquet", "export_rows.parquet")),
    "validate": Stage(
        validate,
        ("raw_rows.parquet", "files.parquet", "export_rows.parquet"),
        ("ledger.parquet", "file_status.parquet", "persons.parquet", "members.parquet"),
    ),
    "reconcile": Stage(reconcile, ("persons.parquet", "members.parquet"), ("reconciliation.parquet",)),
    "metrics": Stage(metrics, ("ledger.parquet", "reconciliation.parquet", "members.parquet"), ("coverage.parquet",)),
    "write": Stage(
        write,
        ("ledger.parquet", "file_status.parquet", "reconciliation.parquet", "coverage.parquet"),
        ("out",),
    ),
}


def io_floor(name: str, inputs: Inputs, work: Path, scratch: Path) -> Phases:
    """Read what stage ``name`` reads and write what it writes, with nothing in between.

    Its outputs (from an earlier run of the stage) are loaded before the clock starts; the clock then covers
    reading the stage's inputs as the stage does (Parquet fully, raw inputs as bytes) and writing the outputs
    again, same rows, columns and Parquet settings, under ``scratch``.
    """
    stage = STAGES[name]
    outputs: dict[Path, pl.DataFrame] = {}
    for written in stage.writes:
        path = work / written
        for part in sorted(path.rglob("*.parquet")) if path.is_dir() else [path]:
            outputs[part.relative_to(work)] = pl.read_parquet(part, hive_partitioning=False)
    phases: Phases = {}
    with phase(phases, "read"):
        for source in stage.reads:
            if source == RAW_INPUTS:
                for path in sorted(inputs.submissions.iterdir()):
                    path.read_bytes()
                inputs.export_file.read_bytes()
            else:
                pl.read_parquet(work / source)
    with phase(phases, "write"):
        for relative, frame in outputs.items():
            target = scratch / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            if relative.parts[0] == "out":  # partitions, written as warehouse.parquet.write_partition does
                frame.write_parquet(target, compression="zstd", row_group_size=ROW_GROUP_SIZE, statistics=True)
            else:
                frame.write_parquet(target)
    return phases
