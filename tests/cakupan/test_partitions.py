"""Partitioned reconciliation gives the one-pass answer, whatever the number of partitions."""

from __future__ import annotations

from datetime import date
from itertools import pairwise
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from cakupan.partitions import (
    NikRanges,
    birth_date_partition,
    choose_partitions,
    near_partitions,
    nik_partition,
    nik_ranges,
    part_path,
    remove,
    scan_all,
    scan_each,
    scan_part,
    split,
    write_pieces,
)
from cakupan.reconcile import ORDER_KEY, RESULT_ORDER, STATUS, STATUSES, finish, latest_decisions, reconcile
from tasks.reconcile import (
    PERSONS_ORDER,
    match_exact_partition,
    match_near_partition,
    matched_persons,
    matched_rows,
    route_near_matches,
)
from tests.cakupan.test_reconcile import RULES, decisions, members, persons
from warehouse.parquet import write_partition


def test_one_nik_always_lands_in_one_partition_and_partitions_are_used_evenly() -> None:
    # Most people in one kabupaten, as a country's lists are: the ranges follow them, not the region codes.
    niks = [f"62030117058{i:05d}" for i in range(18_000)] + [f"11010117058{i:05d}" for i in range(2_000)]
    frame = pl.DataFrame({"nik": [*niks, "6203011705800003", "abc", "abc", None]})
    ranges = nik_ranges(frame, 8)
    assert ranges == nik_ranges(frame.reverse(), 8)  # the same rows give the same ranges, in any order
    keyed = frame.with_columns(nik_partition(pl.col("nik"), ranges).alias("p"))
    assert keyed.group_by("nik").agg(pl.col("p").n_unique())["p"].max() == 1
    counts = keyed.group_by("p").len()["len"]
    assert counts.len() == 8 and counts.min() > 0.8 * counts.mean()  # type: ignore[operator]
    assert keyed.filter(pl.col("nik").is_null())["p"].item() == 0
    # Ranges: every 16-digit NIK of a partition sorts before those of the next.
    bounds = keyed.filter(pl.col("nik").str.len_chars() == 16).group_by("p").agg(low=pl.min("nik"), high=pl.max("nik"))
    bounds = bounds.sort("p")
    assert (bounds["high"].head(-1) < bounds["low"].tail(-1)).all()
    # One partition, or no 16-digit NIK to cut at: nothing to cut.
    assert nik_ranges(frame, 1) == NikRanges(1) and nik_ranges(frame.filter(pl.col("nik") == "abc"), 4) == NikRanges(4)


def test_birth_date_partition_and_the_size_rule() -> None:
    frame = pl.DataFrame({"d": [date(1970, 1, 1), date(1970, 1, 4), None]})
    assert frame.select(birth_date_partition(pl.col("d"), 3))["d"].to_list() == [0, 0, 0]
    assert choose_partitions(5, 10) == 5
    assert choose_partitions(0, 10_000) == 1
    assert choose_partitions(0, 6_000_001) == 4
    assert [near_partitions(n) for n in (1, 4, 5, 30)] == [1, 1, 2, 8]


@pytest.mark.parametrize("scratch", ["path", "fsspec URL"])
def test_split_keeps_every_row_once_in_order_and_empty_partitions_read_empty(scratch: str, tmp_path: Path) -> None:
    frame = pl.DataFrame({"nik": ["6203011705800003", "6203011705800011", "x", None], "row": [0, 1, 2, 3]})
    where = tmp_path / "parts" if scratch == "path" else f"file://{tmp_path}/parts"
    folder = split(frame, nik_partition(pl.col("nik"), nik_ranges(frame, 16)), 16, where)
    assert str(folder) == str(where)
    parts = [scan_part(folder, i).collect() for i in range(16)]
    assert sum(p.height for p in parts) == 4
    assert any(p.is_empty() and p.columns == ["nik", "row"] for p in parts)
    assert sorted(scan_all(folder).collect()["row"]) == [0, 1, 2, 3]
    # A per-partition writer's file is read with the split's; removing the folder removes them all.
    frame.head(1).write_parquet(part_path(folder / "more", 3, mkdir=True))
    assert scan_part(folder / "more", 3).collect()["row"].to_list() == [0]
    remove(folder)
    assert not (tmp_path / "parts").exists()
    remove(folder)  # nothing there: nothing to do


@pytest.mark.parametrize("scratch", ["path", "fsspec URL"])
def test_pieces_of_several_tasks_are_read_together_as_one_partition(scratch: str, tmp_path: Path) -> None:
    where = tmp_path / "pieces" if scratch == "path" else f"file://{tmp_path}/pieces"
    days = pl.Series("d", [date(1970, 1, 1), date(1970, 1, 2), date(1970, 1, 4)])
    # Two tasks split their own rows by birth-date partition; a partition none of a task's rows fall in still
    # gets its piece, so every partition reads with its columns.
    write_pieces(pl.DataFrame({"d": days[:2], "task": [0, 0]}), birth_date_partition(pl.col("d"), 3), 3, where, 0)
    write_pieces(pl.DataFrame({"d": days[2:], "task": [1]}), birth_date_partition(pl.col("d"), 3), 3, where, 1)
    parts = [scan_part(where, i).collect() for i in range(3)]
    assert [p.rows() for p in parts] == [
        [(date(1970, 1, 1), 0), (date(1970, 1, 4), 1)],
        [(date(1970, 1, 2), 0)],
        [],
    ]
    assert parts[2].columns == ["d", "task"]
    assert scan_all(where).collect().height == 3


def reconcile_in_partitions(
    listed: pl.DataFrame,
    export: pl.DataFrame,
    decided_pairs: pl.DataFrame | None,
    partitions: int,
    work: Path,
    near: int | None = None,
) -> pl.DataFrame:
    """The flow's reconciliation steps, run one partition at a time as the flow maps them (``near`` birth-date
    partitions, as many as the flow makes unless given)."""
    decided = latest_decisions(decided_pairs).collect()
    near = near or near_partitions(partitions)
    ranges = nik_ranges(listed, partitions)
    persons_folder = split(listed, nik_partition(pl.col("nik"), ranges), partitions, work / "persons")
    members_folder = split(export, nik_partition(pl.col("nik"), ranges), partitions, work / "members")
    for index in range(partitions):
        match_exact_partition.fn(persons_folder, members_folder, index, near, RULES, decided, work)
    confirmed = route_near_matches.fn(work, members_folder, near, decided)
    for index in range(near):
        match_near_partition.fn(work, index, RULES, decided, confirmed)
    return finish(pl.concat(matched_rows(work)), listed.columns).collect()


def mixed_case() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    listed = persons(
        {"nik": "6203011705800003"},  # exact -> active
        {"nik": "6203011705800037", "nama": "Rina Marlina"},  # exact, another name -> identity_conflict
        {"nik": "6203015203900001", "nama": "Sri Wahyuni", "birth_date": date(1990, 3, 12)},  # near -> probable
        {"nik": "6203014101850002", "nama": "Dewi Lestari", "birth_date": date(1985, 1, 1)},  # nobody
        # A reviewer confirmed this person is member KPJ 10000000077, whose birth date BPJS holds differently:
        # the pair must meet although the two birth dates fall in different partitions.
        {"nik": "6203010808700005", "nama": "Yusuf Hamid", "birth_date": date(1970, 8, 8)},
        # Near a member who pays for himself: the near pass picks him out of the export, not his NIK partition.
        {"nik": "6203012607880004", "nama": "Budi Santoso", "birth_date": date(1988, 7, 26)},
        # A reviewer rejected the member under his own NIK: he is not_enrolled, and the member (regency-paid, in
        # cover) stays claimed by that NIK, so it is no enrolled_not_submitted row of its own.
        {"nik": "6203011705800045", "nama": "Siti Aminah"},
    )
    export = members(
        {"nik": "6203011705800003", "nama": "H. AHMAD YANI"},
        {"nik": "6203011705800037", "nama": "JOKO SUSILO", "kpj": "10000000004"},
        {"nik": "6203015203900010", "nama": "SRI WAHYUNI", "tgl_lahir": date(1990, 3, 12), "kpj": "10000000055"},
        {"nik": "6203010808700050", "nama": "YUSUF HAMID", "tgl_lahir": date(1971, 2, 3), "kpj": "10000000077"},
        {"nik": "6203019999800052", "nama": "ANDI WIJAYA", "kpj": "10000000005"},  # regency pays, not listed
        {
            "nik": "6203012607880040",
            "nama": "BUDI SANTOSO",
            "tgl_lahir": date(1988, 7, 26),
            "kpj": "10000000088",
            "pembayar": "MANDIRI",
            "segmen": "BPU",
        },
        # Regency-paid but lapsed: on no list, and not reported as enrolled.
        {"nik": "6203019999800060", "kpj": "10000000006", "tgl_berakhir": date(2025, 1, 31)},
        {"nik": "6203011705800045", "nama": "SITI AMINAH", "kpj": "10000000009"},  # rejected by the reviewer
    )
    decided = decisions(
        ("6203010808700005", "10000000077", "same_person"), ("6203011705800045", "10000000009", "different_person")
    )
    return listed, export, decided


# NIK partitions and birth-date partitions: the flow's own pairs, and more birth-date partitions than NIK ones.
@pytest.mark.parametrize(("partitions", "near"), [(1, None), (2, None), (3, None), (7, None), (7, 7), (2, 5)])
def test_partitioned_reconciliation_equals_one_pass(partitions: int, near: int | None, tmp_path: Path) -> None:
    listed, export, decided = mixed_case()
    one_pass = reconcile(listed, export, RULES, decided)
    assert dict(zip(one_pass["nik"], one_pass["status"].cast(pl.String), strict=True)) == {
        "6203011705800003": "active",
        "6203015203900001": "probable_match",
        "6203010808700005": "active",
        "6203011705800037": "identity_conflict",
        "6203014101850002": "not_enrolled",
        "6203019999800052": "enrolled_not_submitted",
        "6203012607880004": "probable_match",
        "6203011705800045": "not_enrolled",
    }
    assert one_pass.height == len(listed) + 1  # the one regency-paid member on no list
    assert_frame_equal(reconcile_in_partitions(listed, export, decided, partitions, tmp_path, near), one_pass)


def test_the_halves_carry_the_order_key_so_a_run_is_read_alone_and_the_key_is_not_published(tmp_path: Path) -> None:
    listed, export, decided = mixed_case()
    reconcile_in_partitions(listed, export, decided, 2, tmp_path)
    for half in ("exact", "near", "near_missing"):
        assert scan_all(tmp_path / half).collect_schema()["status"] == STATUS
        keyed = scan_all(tmp_path / half).select(ORDER_KEY, RESULT_ORDER[0].alias("expected")).collect()
        assert keyed[ORDER_KEY].equals(keyed["expected"], check_names=False)
    # The near pass writes only the persons it notes something of: Dewi Lestari, with no near member, is read
    # from near_missing alone, as not_enrolled.
    dewi = pl.col("nik") == "6203014101850002"
    assert scan_all(tmp_path / "near").filter(dewi).collect().is_empty()
    assert scan_all(tmp_path / "near_missing").filter(dewi).select("status").collect().item() == "not_enrolled"
    # sink_sorted reads the persons a run of order keys at a time: the filter must reach the files' scans (a cast
    # above them kept it out, and each run read every row), near_missing's below the join that leaves out the
    # persons the near pass wrote, so that each is looked up in one run only.
    parts = matched_persons(tmp_path / "persons", tmp_path, b"key")
    # The exact rows of each NIK range come after those of the range before it.
    found = [part.collect()["nik"] for part in scan_each(tmp_path / "exact")]
    found = [niks for niks in found if niks.len()]
    assert len(found) == 2 and all(low.max() < high.min() for low, high in pairwise(found))  # type: ignore[operator]
    # exact (a part per NIK range), near, near_missing: one set of columns
    assert len(parts) == 4 and len({str(part.collect_schema()) for part in parts}) == 1
    active_6203 = pl.Series([STATUSES.index("active") * 10**4 + 6203], dtype=pl.UInt64)
    runs = [part.filter(PERSONS_ORDER.chunk.is_in(active_6203.implode())) for part in parts]
    assert [run.explain().count(f'SELECTION: ((col("{ORDER_KEY}")') for run in runs] == [1, 1, 1, 1]
    assert pl.concat(runs).collect()["nik"].sort().to_list() == ["6203010808700005", "6203011705800003"]
    written = pl.read_parquet(
        write_partition(parts, tmp_path / "out", "persons", date(2026, 11, 27), order=PERSONS_ORDER)
    )
    assert ORDER_KEY not in written.columns
    assert written.columns == parts[0].drop(ORDER_KEY).collect_schema().names()
    assert written.height == len(listed) + 1
