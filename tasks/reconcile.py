"""Reconcile: gate the BPJS export, then give every person a status and compute coverage."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import polars as pl
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from upath import UPath

from cakupan import readers
from cakupan.errors import InputError
from cakupan.inputs import file_sha256
from cakupan.metrics import coverage_metrics
from cakupan.partitions import (
    NikRanges,
    birth_date_partition,
    nik_partition,
    scan_all,
    scan_each,
    scan_part,
    split,
    write_part,
    write_pieces,
)
from cakupan.pii import person_key_of
from cakupan.readers import read_bpjs_export, scan_bpjs_export
from cakupan.reconcile import (
    MATCH_COLUMNS,
    ORDER_KEY,
    ORDER_KEY_PREFIX,
    confirmed_near_pairs,
    match_exact,
    match_near,
    member_states,
    near_pass,
    not_enrolled,
    prefix_status,
    resolve_member_duplicates,
    result_rows,
    reviewed_members,
    unclaimed_members,
    unnoted,
    with_order_key,
)
from cakupan.rules import prepare_members
from cakupan.settings import Rules, Settings
from cakupan.worklists import write_lists
from expectations.combine import combine_results
from expectations.gx import FAILURES_SCHEMA, SuiteResult, validate
from tasks.processes import in_own_process
from tasks.summaries import ExportSummary, ReconcileSummary, RunPaths, ValidationSummary
from warehouse.parquet import Order, partition_dir, same_columns, write_partition

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
# Both written a chunk at a time: a national result sorted whole took twice its size in memory. The persons' runs
# are cut by ORDER_KEY_PREFIX, where a run by status alone held nearly four million rows, and each holds one status:
# its rows found under their NIK then come from the NIK ranges' exact parts one after another, already in order.
PERSONS_ORDER = Order(
    (ORDER_KEY, "nik"),
    ORDER_KEY_PREFIX,
    first_distinct=True,
    drop=(ORDER_KEY,),
    runs_within=prefix_status(pl.col("chunk")),
)
ANALYST_ORDER = Order(("person_key",), pl.col("person_key").str.slice(0, 2))


@task(name="load-bpjs-export", retries=2, retry_delay_seconds=[5, 30], cache_policy=NO_CACHE)
def load_bpjs_export(export_file: Path, run_date: date, ranges: NikRanges, paths: RunPaths) -> UPath:
    """Read the export and split its members by the run's NIK ranges; a file that cannot be read stops the run.

    A large CSV export is streamed from the file into its partitions, never held in memory whole.
    """
    table = (
        scan_bpjs_export(export_file) if export_file.stat().st_size > readers.STREAM_CSV_BYTES else None
    ) or read_bpjs_export(export_file)
    if table.error:
        raise InputError(f"BPJS export {export_file.name} {table.error}: {table.error_detail}")
    members = prepare_members(table.rows.lazy(), run_date)
    return split(members, nik_partition(pl.col("nik"), ranges), ranges.partitions, paths.work / "export")


@dataclass(frozen=True)
class MemberPart:
    """One partition of the export after its checks: the suite's counts and what was kept of it."""

    result: SuiteResult
    rows: int
    duplicate_niks: int
    dropped_rows: int
    members_active: int


@task(name="check-members", cache_policy=NO_CACHE)
def check_members_partition(export: UPath, index: int, run_date: date, settings: Settings) -> MemberPart:
    """Pass one partition of the export through expectations/suites/bpjs_export.json and give each member a state.

    The members are written either way; whether the export as a whole passes is decided on the sums of all
    partitions (``gate_bpjs_export``).
    """
    members = scan_part(export, index).collect()
    result = validate("bpjs_export", members)
    # Within the tolerated share, damaged rows are left out and counted rather than guessed at.
    bad = result.failures.select("row_id").unique()
    kept = (
        members.with_row_index("row_id")
        .with_columns(pl.col("row_id").cast(pl.Int64))
        .join(bad, on="row_id", how="anti")
    )
    states = member_states(
        kept.drop("row_id"),
        run_date,
        grace_months=settings.rules.grace_months,
        regency_payer=settings.regency_payer,
        regency_segment=settings.regency_segment,
    )
    unique, duplicates = resolve_member_duplicates(states)
    write_part(unique, export.parent / "members", index)
    return MemberPart(
        result=replace(result, failures=result.failures.clear()),
        rows=members.height,
        duplicate_niks=duplicates,
        dropped_rows=bad.height,
        members_active=int((unique["state"] == "covered").sum()),
    )


@task(name="gate-bpjs-export", cache_policy=NO_CACHE)
def gate_bpjs_export(export_file: Path, export: UPath, parts: list[MemberPart]) -> ExportSummary:
    """The export's verdict over all its partitions; a failed gate stops the run before anything is published."""
    result = combine_results([p.result for p in parts], pl.DataFrame(schema=FAILURES_SCHEMA))
    rows = sum(p.rows for p in parts)
    if not result.success:
        failed = "; ".join(f"{o.reason} in {o.unexpected_count} of {o.element_count} rows" for o in result.failed())
        raise InputError(f"BPJS export {export_file.name} failed its checks ({failed}); nothing was published")
    summary = ExportSummary(
        export_file=export_file,
        export_sha256=file_sha256(export_file),
        rows=rows,
        duplicate_niks=sum(p.duplicate_niks for p in parts),
        dropped_rows=sum(p.dropped_rows for p in parts),
        members_active_total=sum(p.members_active for p in parts),
        members=export.parent / "members",
    )
    get_run_logger().info(
        "export %s: %d rows, %d duplicate NIKs resolved, %d rows left out, %d members covered",
        export_file.name,
        summary.rows,
        summary.duplicate_niks,
        summary.dropped_rows,
        summary.members_active_total,
    )
    return summary


@task(name="match-exact", cache_policy=NO_CACHE)
def match_exact_partition(
    persons: UPath, members: UPath, index: int, near_partitions: int, rules: Rules, decided: pl.DataFrame, work: UPath
) -> None:
    """Same-NIK matching in one NIK partition: its matched persons, and its persons left for near matching, the
    latter already split into the ``near_partitions`` birth-date partitions (``write_pieces``): read again and split
    by one task, they took a third of that task's time.

    The members nobody claims are not written here: at national size they are most of the export, and
    ``route_near_matches`` takes the few it needs from the members partitions.
    """
    listed, export = scan_part(persons, index).collect(), scan_part(members, index).select(MATCH_COLUMNS).collect()
    exact, missing, _ = match_exact(listed, export, rules, decided.lazy())
    # The partition is in memory already: the streaming engine's morsels would only add to the cost here.
    exact_rows, missing_rows = pl.collect_all([exact, missing], engine="in-memory")
    write_part(with_order_key(exact_rows), work / "exact", index)
    # As not_enrolled, with their key: what most of them stay, read from here by the finish (``matched_rows``).
    write_pieces(
        not_enrolled(missing_rows),
        birth_date_partition(pl.col("birth_date"), near_partitions),
        near_partitions,
        work / "near_missing",
        index,
    )


@task(name="route-near-matches", cache_policy=NO_CACHE)
def route_near_matches(work: UPath, members: UPath, near_partitions: int, decided: pl.DataFrame) -> pl.DataFrame:
    """Split the members the near pass may use into its ``near_partitions`` birth-date partitions, each confirmed
    pair's member with its person; returns those pairs.

    ``work`` holds what ``match_exact_partition`` wrote: the persons found under their NIK, and the persons not
    found, by birth-date partition. The members they may pair with are taken from the ``members`` partitions, less
    those claimed: the members whose NIK is a found person's.
    """
    missing = scan_all(work / "near_missing")

    def unclaimed(pick: Callable[[pl.LazyFrame], pl.LazyFrame]) -> pl.LazyFrame:
        # Picked first, then the claimed taken out, in one streaming pass over the export: the near-match blocks
        # are hashed once (per NIK partition, a national list's four million blocks were hashed thirty times), and
        # the pass holds 3 GiB at national size. A listed NIK no member has claims nothing, so the found persons
        # stand for all the listed ones: at national size 6 million NIKs to look up instead of 10 (0.45 s less).
        return unclaimed_members(scan_all(work / "exact"), pick(scan_all(members)))

    # Only a reviewer's same_person decision makes a confirmed pair: with none, no member needs looking up.
    reviewed = (
        unclaimed(lambda export: export.filter(reviewed_members(decided)))
        if (decided["decision"] == "same_person").any()
        else scan_part(members, 0).select(MATCH_COLUMNS).head(0)
    )
    confirmed = confirmed_near_pairs(decided.lazy(), missing, reviewed).collect()
    placed = unclaimed(near_pass(missing, confirmed.lazy())).join(
        confirmed.lazy().select(pl.col("member_nik").alias("nik"), pl.col("birth_date").alias("_person_birth_date")),
        on="nik",
        how="left",
    )
    key = birth_date_partition(pl.coalesce("_person_birth_date", "tgl_lahir"), near_partitions)
    split(
        placed.with_columns(key.alias("_near")).drop("_person_birth_date"),
        pl.col("_near"),
        near_partitions,
        work / "near_unclaimed",
    )
    return confirmed


@task(name="match-near", cache_policy=NO_CACHE)
def match_near_partition(work: UPath, index: int, rules: Rules, decided: pl.DataFrame, confirmed: pl.DataFrame) -> None:
    """Near matching and the unlisted regency-paid members in one birth-date partition: writes the rows of the
    persons it notes something of and of the unlisted members (``match_near``)."""
    unclaimed = scan_part(work / "near_unclaimed", index).drop("_near")
    missing = scan_part(work / "near_missing", index).drop("status", "match_method", ORDER_KEY)
    rest = match_near(missing, unclaimed, rules, decided.lazy(), confirmed.lazy())
    # A partition's rows fit in memory, and the in-memory engine runs this query of many small joins in a quarter
    # of the streaming engine's time.
    write_part(with_order_key(rest).collect(engine="in-memory"), work / "near", index)


@task(name="reconcile-persons", cache_policy=NO_CACHE)
def reconcile_persons(
    validation: ValidationSummary,
    work: UPath,
    run_date: date,
    settings: Settings,
    paths: RunPaths,
    decisions: pl.DataFrame | None = None,
) -> ReconcileSummary:
    """Status of every accepted person; the analyst partition carries person_key instead of any NIK or name.

    ``work`` holds the matched partitions (``match_exact_partition``, ``match_near_partition``); ``decisions`` are
    the reviewers' verdicts from reference/review_decisions.csv (None when there are none).
    """
    result = matched_persons(validation.persons, work, settings.person_key_secret)
    written = pl.scan_parquet(
        write_partition(result, paths.staging / "restricted", "persons", run_date, order=PERSONS_ORDER)
    )
    if decisions is not None:
        applied = written.filter(pl.col("decision").is_not_null()).select(pl.len()).collect().item()
        get_run_logger().info("review decisions: %d applied of %d on file", applied, decisions.height)
    write_partition(analyst_rows(written), paths.staging / "analytics", "reconciliation", run_date, order=ANALYST_ORDER)
    statuses = {str(k): int(v) for k, v in written.group_by("status").len().collect().iter_rows()}
    get_run_logger().info("person statuses: %s", statuses)
    return ReconcileSummary(statuses=statuses, persons=paths.staging / "restricted")


def matched_rows(work: UPath) -> list[pl.LazyFrame]:
    """The rows of the matched partitions in ``work``, with ``ORDER_KEY``, as three parts with the same columns:
    the persons found under their NIK, the near pass's rows, and the persons not found that it noted nothing of
    (read from near_missing, not_enrolled). Parts, not their union: a sorted write reads a part only for the runs
    of keys it holds rows of (``sorted_runs``)."""
    near = scan_all(work / "near")
    # Looked up by every run that reads near_missing (``unnoted``), so collected once.
    noted = near.select("nik", "status").collect()
    missing = unnoted(scan_all(work / "near_missing"), noted.lazy())
    # Each NIK range's exact rows as a part of its own: a run reads only the ranges holding its keys.
    return same_columns([*scan_each(work / "exact"), near, missing])


def matched_persons(persons: UPath, work: UPath, secret: bytes) -> list[pl.LazyFrame]:
    """The parts of ``matched_rows`` as the result's, with each person's person_key and ``ORDER_KEY`` (unsorted:
    written in ``PERSONS_ORDER``, which leaves the key out)."""
    person_columns = scan_all(persons).collect_schema().names()
    return [
        result_rows(part, person_columns, ORDER_KEY).with_columns(
            person_key_of(pl.col("nik"), secret).alias("person_key")
        )
        for part in matched_rows(work)
    ]


def analyst_rows(persons: pl.LazyFrame) -> pl.LazyFrame:
    """The analyst copy of the persons: no NIK, name or birth date (unsorted: written in ``ANALYST_ORDER``)."""
    return persons.with_columns(pl.col("birth_date").dt.year().cast(pl.Int32).alias("birth_year")).select(
        ANALYST_COLUMNS
    )


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
    restricted = paths.staging / "restricted"
    rows = pl.read_parquet(
        partition_dir(restricted, "submission_rows", run_date) / "part-0.parquet", columns=["kode_desa", "outcome"]
    )
    persons = pl.read_parquet(
        partition_dir(restricted, "persons", run_date) / "part-0.parquet", columns=["kode_desa", "status"]
    )
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
    metrics.write_parquet(paths.own / "coverage.parquet")
    return paths.own / "coverage.parquet"


@task(name="write-worklists", cache_policy=NO_CACHE)
def write_worklists(run_date: date, villages: pl.DataFrame, settings: Settings, paths: RunPaths) -> dict[str, int]:
    """The lists people work from, staged under restricted/: review queue, registration list, grace list.

    Written cell by cell in Python, so in a process of their own, while this one goes on to the coverage.
    """
    restricted = paths.staging / "restricted"
    counts = in_own_process(
        write_lists,
        partition_dir(restricted, "persons", run_date) / "part-0.parquet",
        villages,
        run_date,
        name_match_min=settings.rules.name_match_min,
        region_name=settings.region_name,
        review=partition_dir(restricted, "review", run_date),
        registration=partition_dir(restricted, "registration", run_date),
        grace=partition_dir(restricted, "grace", run_date),
    )
    get_run_logger().info("work lists: %s", counts)
    return counts
