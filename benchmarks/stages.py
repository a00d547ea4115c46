"""The pipeline's stages as `make bench` times them: each reads the previous stage's Parquet and writes its own.

Every stage runs the project's code as the nightly flow runs it, partitioned by NIK range into as many partitions
as the flow would choose for the size (``cakupan.partitions.choose_partitions``: one at S, 3 at M, 30 at L), its
partition tasks as many at once as the flow's thread pool runs them (``each_partition``), in one process, through
the adapters in the first section below. Files under a size's work folder ``WORK`` (one row per ...):

============  ====================================  ===========================================================
stage         reads                                 writes
============  ====================================  ===========================================================
read          inputs/submissions/, the export       files.parquet (file read: tasks.ingest.FILES_SCHEMA),
                                                    raw_rows.parquet (data row as read, + file_id, row_id),
                                                    export_rows.parquet (export row as read)
validate      raw_rows, files, export_rows,         ledger.parquet (data row: tasks.validate.LEDGER_COLUMNS,
              reference/villages.csv                sorted by source_file, source_row), file_status.parquet
                                                    (file: path, sha256, kode_desa, status, reason, ...),
                                                    persons/ (accepted NIK, the columns reconcile reads, in
                                                    part-PPPP.*.parquet by NIK partition, each in NIK order),
                                                    members/ (NIK of the export: gated by bpjs_export.json,
                                                    with state, one KPJ per NIK, by NIK partition, each in NIK
                                                    order), partitions.txt (their number)
reconcile     persons/, members/                    reconciliation.parquet (person: cakupan.reconcile's result
                                                    + person_key)
metrics       ledger, reconciliation, members/,     coverage.parquet (run_date, level, kode)
              reference/villages.csv
write         ledger, file_status, reconciliation,  WORK/out/restricted/{submission_rows,files,persons}/ and
              coverage                              WORK/out/analytics/{reconciliation,coverage}/, each
                                                    run_date=YYYY-MM-DD/part-0.parquet as the run publishes them
============  ====================================  ===========================================================

Scratch of a stage (the partitions it splits its input into) goes under ``WORK/scratch/<stage>/`` and is deleted
when it ends, as a run's scratch is.

A stage function returns its phases' seconds ({"read_folder": 61.2, ...}) so a slow stage names its slow call.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import polars as pl
import pyarrow.parquet as pq

from benchmarks.generate import RUN_DATE, Inputs
from cakupan import readers
from cakupan.metrics import coverage_metrics
from cakupan.partitions import (
    NikRanges,
    choose_partitions,
    location,
    near_partitions,
    nik_partition,
    scan_all,
    split,
    write_part,
)
from cakupan.readers import read_bpjs_export, scan_bpjs_export
from cakupan.reconcile import latest_decisions
from cakupan.reference import load_villages as load_reference_villages
from cakupan.rules import prepare_members, prepare_rows
from cakupan.settings import Settings, load_rules
from expectations.combine import combine_results
from expectations.gx import FAILURES_SCHEMA
from flows.runners import usable_cores
from tasks.ingest import file_slices, first_file_ids, read_files, slice_rows
from tasks.reconcile import (
    ANALYST_ORDER,
    PERSONS_ORDER,
    analyst_rows,
    check_members_partition,
    match_exact_partition,
    match_near_partition,
    matched_persons,
    route_near_matches,
)
from tasks.validate import (
    LEDGER_ORDER,
    check_rows_partition,
    decide_checked,
    file_registry,
    ledger_rows,
    split_by_nik,
    write_persons,
)
from warehouse.parquet import sink_sorted, write_partition

# The person_key secret of benchmark runs (the data is synthetic).
BENCH_PII_KEY = b"cakupan-benchmark-key"
TIMEZONE = "Asia/Jakarta"
Phases = dict[str, float]
T = TypeVar("T")


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


def each_partition(task: Callable[[int], T], partitions: int) -> list[T]:
    """``task`` of every partition, as many at once as the flow's thread pool runs (``flows.runners``: as wide as
    the cores the process may use), results in partition order."""
    with ThreadPoolExecutor(max_workers=usable_cores()) as pool:
        return list(pool.map(task, range(partitions)))


def read_submissions(folder: Path, rows_out: Path, files_out: Path, scratch: Path) -> None:
    """The inbox's files and rows as the flow reads them: in slices (``file_slices``, for as many workers as the
    flow's pool), each written as a part, then one rows file numbered in file order (``tasks.ingest``:
    read_village_files, collect_village_files)."""
    slices = file_slices(folder, usable_cores())
    first = first_file_ids(slices)

    def read_slice(index: int) -> None:
        found, rows = read_files(folder, slices[index], first[index], TIMEZONE)
        write_part(found, scratch / "inbox_files", index)
        write_part(rows, scratch / "inbox_rows", index)

    each_partition(read_slice, len(slices))
    slice_rows(location(scratch / "inbox_rows")).sink_parquet(rows_out)
    scan_all(scratch / "inbox_files").collect().write_parquet(files_out)


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


def partitions_for(list_rows: int, export_rows: int) -> int:
    """As many partitions as the flow would choose for these inputs."""
    return choose_partitions(0, list_rows + export_rows)


def check_submissions(
    raw_rows: Path, files_path: Path, villages: pl.DataFrame, partitions: int, work: Path, scratch: Path, phases: Phases
) -> NikRanges:
    """Ledger, file registry and accepted persons (by NIK partition) as tasks/validate.py makes them: rows split by
    NIK, each partition parsed and validated by GX, then every file and row decided over all of them."""
    rules = load_rules()
    with phase(phases, "split_rows"):
        raw, ranges = split_by_nik(pl.scan_parquet(raw_rows), partitions, location(scratch / "raw"))
    with phase(phases, "check_rows"):
        each_partition(
            lambda index: check_rows_partition.fn(raw, index, files_path, villages, RUN_DATE, rules), partitions
        )
    with phase(phases, "decide"):
        checked = location(scratch / "checked")
        failures = scan_all(scratch / "failures").collect()
        files, decided = decide_checked(checked, failures, location(files_path), villages, rules)
    with phase(phases, "write_ledger_and_persons"):
        sink_sorted(ledger_rows(checked, decided), work / "ledger.parquet", LEDGER_ORDER)
        file_registry(files).write_parquet(work / "file_status.parquet")
        write_persons(checked, decided, villages, partitions, location(work / "persons"))
    return ranges


def prepared_submission_rows(raw: pl.DataFrame, files: pl.DataFrame, villages: pl.DataFrame) -> pl.DataFrame:
    """The frame check_rows hands to Great Expectations (its first steps, repeated here to time GX alone)."""
    known = pl.col("file_kode_desa").is_in(villages["kode_desa"].implode())
    files = files.with_columns(pl.when(known).then(pl.col("file_kode_desa")).alias("file_kode_desa"))
    raw = raw.join(files.select("file_id", "file_kode_desa", "source_file"), on="file_id", how="left")
    return prepare_rows(raw, villages, RUN_DATE).sort("row_id")


def gate_export(export_rows: Path, ranges: NikRanges, work: Path, scratch: Path, phases: Phases) -> None:
    """Gated, state-annotated, one-KPJ-per-NIK members by NIK range, as tasks/reconcile.py makes them."""
    settings = Settings()
    partitions = ranges.partitions
    with phase(phases, "split_members"):
        export = split(
            prepare_members(pl.scan_parquet(export_rows), RUN_DATE),
            nik_partition(pl.col("nik"), ranges),
            partitions,
            scratch / "export",
        )
    with phase(phases, "check_members"):
        parts = each_partition(lambda index: check_members_partition.fn(export, index, RUN_DATE, settings), partitions)
    result = combine_results([p.result for p in parts], pl.DataFrame(schema=FAILURES_SCHEMA))
    if not result.success:
        raise RuntimeError(f"the export failed its gate: {[o.reason for o in result.failed()]}")
    (scratch / "members").rename(work / "members")


def reconcile_persons(work: Path, partitions: int, scratch: Path, output: Path, phases: Phases) -> None:
    """Every person's status (no review decisions) with person_key, as the flow's match-exact, route-near-matches,
    match-near and reconcile-persons tasks make it, streamed into ``output``."""
    rules, decided, near = load_rules(), latest_decisions(None).collect(), near_partitions(partitions)
    with phase(phases, "match_exact"):
        each_partition(
            lambda index: match_exact_partition.fn(
                work / "persons", work / "members", index, near, rules, decided, scratch
            ),
            partitions,
        )
    with phase(phases, "route_near"):
        confirmed = route_near_matches.fn(scratch, work / "members", near, decided)
    with phase(phases, "match_near"):
        each_partition(lambda index: match_near_partition.fn(scratch, index, rules, decided, confirmed), near)
    with phase(phases, "finish_and_write"):
        sink_sorted(
            matched_persons(location(work / "persons"), location(scratch), BENCH_PII_KEY), output, PERSONS_ORDER
        )


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
    ledger: pl.LazyFrame, registry: pl.DataFrame, reconciliation: pl.LazyFrame, metrics: pl.DataFrame, out: Path
) -> None:
    """The run's Parquet partitions: restricted ledger, file registry and persons; analyst reconciliation and
    coverage (tasks/validate.py, tasks/reconcile.py), the big ones streamed as the flow streams them."""
    restricted, analytics = out / "restricted", out / "analytics"
    write_partition(ledger, restricted, "submission_rows", RUN_DATE)
    write_partition(registry, restricted, "files", RUN_DATE)
    write_partition(reconciliation, restricted, "persons", RUN_DATE)
    write_partition(analyst_rows(reconciliation), analytics, "reconciliation", RUN_DATE, order=ANALYST_ORDER)
    write_partition(metrics, analytics, "coverage", RUN_DATE)


# ---------------------------------------------------------------------------------------------- stages


@contextmanager
def scratch_of(work: Path, stage: str) -> Iterator[Path]:
    """A stage's scratch folder, empty at the start and deleted at the end."""
    scratch = work / "scratch" / stage
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    try:
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def read(inputs: Inputs, work: Path) -> Phases:
    phases: Phases = {}
    with scratch_of(work, "read") as scratch, phase(phases, "read_folder"):
        read_submissions(inputs.submissions, work / "raw_rows.parquet", work / "files.parquet", scratch)
    with phase(phases, "read_bpjs_export"):
        export_rows = read_export(inputs.export_file)
        if isinstance(export_rows, pl.LazyFrame):  # streamed from the CSV into Parquet: one pass, read and write
            export_rows.sink_parquet(work / "export_rows.parquet")
    if isinstance(export_rows, pl.DataFrame):
        with phase(phases, "write_parquet"):
            export_rows.write_parquet(work / "export_rows.parquet")
    return phases


def validate(inputs: Inputs, work: Path) -> Phases:
    phases: Phases = {}
    villages = load_villages(inputs)
    list_rows = pl.scan_parquet(work / "raw_rows.parquet").select(pl.len()).collect().item()
    export_rows = pl.scan_parquet(work / "export_rows.parquet").select(pl.len()).collect().item()
    partitions = partitions_for(list_rows, export_rows)
    for folder in ("persons", "members"):
        shutil.rmtree(work / folder, ignore_errors=True)
    with scratch_of(work, "validate") as scratch:
        ranges = check_submissions(
            work / "raw_rows.parquet", work / "files.parquet", villages, partitions, work, scratch, phases
        )
        gate_export(work / "export_rows.parquet", ranges, work, scratch, phases)
    (work / "partitions.txt").write_text(f"{partitions}\n")
    return phases


def reconcile(inputs: Inputs, work: Path) -> Phases:
    phases: Phases = {}
    partitions = int((work / "partitions.txt").read_text())
    with scratch_of(work, "reconcile") as scratch:
        reconcile_persons(work, partitions, scratch, work / "reconciliation.parquet", phases)
    return phases


def metrics(inputs: Inputs, work: Path) -> Phases:
    phases: Phases = {}
    with phase(phases, "read_parquet"):  # the columns compute-coverage reads
        ledger = pl.read_parquet(work / "ledger.parquet", columns=["kode_desa", "outcome"])
        reconciliation = pl.read_parquet(work / "reconciliation.parquet", columns=["kode_desa", "status"])
        covered = pl.scan_parquet(work / "members" / "*.parquet").filter(pl.col("state") == "covered")
        members_active = covered.select(pl.len()).collect().item()
        villages = load_villages(inputs)
    with phase(phases, "coverage_metrics"):
        table = coverage(ledger, reconciliation, villages, members_active)
    with phase(phases, "write_parquet"):
        table.write_parquet(work / "coverage.parquet")
    return phases


def write(inputs: Inputs, work: Path) -> Phases:
    phases: Phases = {}
    with phase(phases, "read_parquet"):
        ledger, registry = pl.scan_parquet(work / "ledger.parquet"), pl.read_parquet(work / "file_status.parquet")
        reconciliation = pl.scan_parquet(work / "reconciliation.parquet")
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
        ("ledger.parquet", "file_status.parquet", "persons", "members"),
    ),
    "reconcile": Stage(reconcile, ("persons", "members"), ("reconciliation.parquet",)),
    "metrics": Stage(metrics, ("ledger.parquet", "reconciliation.parquet", "members"), ("coverage.parquet",)),
    "write": Stage(
        write,
        ("ledger.parquet", "file_status.parquet", "reconciliation.parquet", "coverage.parquet"),
        ("out",),
    ),
}


def _parquet_files(path: Path) -> list[Path]:
    return sorted(path.rglob("*.parquet")) if path.is_dir() else [path]


def io_floor(name: str, inputs: Inputs, work: Path, scratch: Path) -> Phases:
    """Read what stage ``name`` reads and write what it writes, with nothing in between.

    The clock covers reading the stage's inputs as the stage does (Parquet fully decoded, raw inputs as bytes), one
    file at a time, and writing its outputs (from an earlier run of the stage) again, same rows, columns and Parquet
    settings, under ``scratch``: each output file is loaded before its write is timed. One file at a time, so the
    floor of a national run needs the memory of its largest file, not of all of them.
    """
    stage = STAGES[name]
    phases: Phases = {}
    with phase(phases, "read"):
        for source in stage.reads:
            if source == RAW_INPUTS:
                for path in sorted(inputs.submissions.iterdir()):
                    path.read_bytes()
                with inputs.export_file.open("rb") as export:
                    while export.read(1 << 26):
                        pass
            else:
                for part in _parquet_files(work / source):
                    pl.read_parquet(part, hive_partitioning=False)
    phases["write"] = 0.0
    for written in stage.writes:
        for part in _parquet_files(work / written):
            frame = pl.read_parquet(part, hive_partitioning=False)
            relative = part.relative_to(work)
            target = scratch / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            settings = written_as(part)
            with phase(phases, "write"):
                frame.write_parquet(target, **settings)
            del frame
    return phases


def written_as(path: Path) -> dict[str, Any]:
    """The Parquet settings ``path`` was written with, read from its footer: the floor writes each output as the
    stage did (published files in zstd with statistics, scratch uncompressed without), or it would time other
    work than the stage's."""
    metadata = pq.ParquetFile(path).metadata
    if metadata.num_row_groups == 0 or metadata.num_columns == 0:
        return {}
    first = metadata.row_group(0).column(0)
    codec = first.compression.lower()
    return {
        "compression": "lz4" if codec.startswith("lz4") else codec,
        "statistics": first.is_stats_set,
        "row_group_size": max(metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)),
    }
