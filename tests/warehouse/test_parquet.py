from datetime import date
from pathlib import Path

import polars as pl
import pytest

from warehouse.parquet import (
    Order,
    _sort,
    partition_dir,
    recover_interrupted_swaps,
    same_columns,
    sink_sorted,
    sorted_runs,
    staged_outputs,
    swap_in,
    write_partition,
)

RUN = date(2026, 11, 27)


def stage(tmp_path: Path, name: str, value: int) -> Path:
    staging = tmp_path / name
    write_partition(pl.DataFrame({"x": [value]}), staging / "analytics", "coverage", RUN)
    return staging


def read(data: Path) -> list[int]:
    return pl.read_parquet(data / partition_dir(Path("analytics"), "coverage", RUN))["x"].to_list()


def test_swap_replaces_the_partition(tmp_path: Path) -> None:
    data = tmp_path / "data"
    part = [partition_dir(Path("analytics"), "coverage", RUN)]
    with swap_in(stage(tmp_path, "s1", 1), data, part, run_id="r", run_date=RUN):
        pass
    with swap_in(stage(tmp_path, "s2", 2), data, part, run_id="r", run_date=RUN):
        pass
    assert read(data) == [2]
    assert not (data / ".trash").exists() or not any((data / ".trash").iterdir())


def test_a_failure_inside_the_swap_restores_the_previous_partition(tmp_path: Path) -> None:
    data = tmp_path / "data"
    part = [partition_dir(Path("analytics"), "coverage", RUN)]
    with swap_in(stage(tmp_path, "s1", 1), data, part, run_id="r", run_date=RUN):
        pass
    with pytest.raises(RuntimeError), swap_in(stage(tmp_path, "s2", 2), data, part, run_id="r", run_date=RUN):
        raise RuntimeError("warehouse commit failed")
    assert read(data) == [1]


def test_partitions_are_hive_style_and_readable_as_one_dataset(tmp_path: Path) -> None:
    write_partition(pl.DataFrame({"run_date": [RUN], "x": [1]}), tmp_path, "coverage", RUN)
    write_partition(pl.DataFrame({"x": [2]}), tmp_path, "coverage", date(2026, 11, 28))
    frame = pl.read_parquet(tmp_path / "coverage", hive_partitioning=True).sort("x")
    assert frame["x"].to_list() == [1, 2]
    assert frame["run_date"].cast(pl.String).to_list() == ["2026-11-27", "2026-11-28"]


def test_staged_outputs_are_the_runs_partitions_and_report_entries(tmp_path: Path) -> None:
    write_partition(pl.DataFrame({"x": [1]}), tmp_path / "analytics", "coverage", RUN)
    write_partition(pl.DataFrame({"x": [1]}), tmp_path / "restricted", "feedback", RUN)
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "coverage_2026-11-27.html").write_text("<html></html>")
    assert [str(p) for p in staged_outputs(tmp_path, RUN)] == [
        "analytics/coverage/run_date=2026-11-27",
        "reports/coverage_2026-11-27.html",
        "restricted/feedback/run_date=2026-11-27",
    ]


def test_a_failure_restores_report_files_and_folders_as_well_as_partitions(tmp_path: Path) -> None:
    data = tmp_path / "data"

    def staged(name: str, value: int) -> tuple[Path, list[Path]]:
        staging = stage(tmp_path, name, value)
        (staging / "reports" / "data_docs").mkdir(parents=True)
        (staging / "reports" / "data_docs" / "index.html").write_text(f"docs {value}")
        (staging / "reports" / "coverage_2026-11-27.html").write_text(f"report {value}")
        return staging, staged_outputs(staging, RUN)

    first, entries = staged("s1", 1)
    with swap_in(first, data, entries, run_id="r", run_date=RUN):
        pass
    staging, entries = staged("s2", 2)
    # The report (a file) sits between two folders in the swap order: every entry must come back.
    with pytest.raises(RuntimeError), swap_in(staging, data, entries, run_id="r", run_date=RUN):
        raise RuntimeError("warehouse commit failed")
    assert read(data) == [1]
    assert (data / "reports" / "coverage_2026-11-27.html").read_text() == "report 1"
    assert (data / "reports" / "data_docs" / "index.html").read_text() == "docs 1"


KILLER = """
import os, shutil, sys
from datetime import date
from pathlib import Path
from warehouse.parquet import swap_in

moment, staging, data = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
entries = [Path(p) for p in sys.argv[4:]]
renames = 0
original = Path.rename


def rename(self, target):
    global renames
    renames += 1
    if moment == "renaming" and renames == 3:  # first entry swapped, second not yet touched: the kill
        os._exit(9)
    return original(self, target)


Path.rename = rename
with swap_in(staging, data, entries, run_id="killed", run_date=date(2026, 11, 27)):
    if moment == "after-commit":  # everything renamed and committed; killed before the trash is emptied
        shutil.rmtree = lambda *a, **k: os._exit(9)
"""


@pytest.mark.parametrize(
    ("moment", "committed", "seen_after_kill", "after_recovery"),
    [
        ("renaming", False, [[2], [1]], [[1], [1]]),  # half new, half old: the old outputs come back whole
        ("after-commit", True, [[2], [2]], [[2], [2]]),  # the commit happened: the new outputs stay
    ],
)
def test_a_swap_killed_half_way_is_undone_or_finished_by_the_next_publish(
    tmp_path: Path, moment: str, committed: bool, seen_after_kill: list, after_recovery: list
) -> None:
    import subprocess
    import sys

    data = tmp_path / "data"
    entries = [partition_dir(Path(zone), "coverage", RUN) for zone in ("analytics", "restricted")]
    with swap_in(stage_both(tmp_path, "old", 1), data, entries, run_id="first", run_date=RUN):
        pass
    done = subprocess.run(
        [sys.executable, "-c", KILLER, moment, str(stage_both(tmp_path, "new", 2)), str(data), *map(str, entries)],
        cwd=Path(__file__).parents[2],
    )
    assert done.returncode == 9
    assert [pl.read_parquet(data / e)["x"].to_list() for e in entries] == seen_after_kill

    assert recover_interrupted_swaps(data, RUN, committed=lambda run_id: committed) == ["killed"]
    assert [pl.read_parquet(data / e)["x"].to_list() for e in entries] == after_recovery
    assert not any((data / ".trash").iterdir())


def stage_both(tmp_path: Path, name: str, value: int) -> Path:
    staging = tmp_path / name
    for zone in ("analytics", "restricted"):
        write_partition(pl.DataFrame({"x": [value]}), staging / zone, "coverage", RUN)
    return staging


STATUS = pl.Enum(["active", "lapsed", "not_enrolled"])
PERSONS = pl.DataFrame(
    {
        "status": pl.Series(["lapsed", "active", None, "not_enrolled", "active", "lapsed", "active"], dtype=STATUS),
        "nik": ["9", "3", "5", "1", None, "2", "1"],
        "tags": [["a"], [], None, ["b", "c"], ["d"], [], ["e"]],
    }
)
BY_STATUS = Order(("status", "nik"), pl.col("status"))


@pytest.mark.parametrize("max_rows", [1, 2, 3, 100])
def test_a_sorted_write_in_chunks_is_the_whole_sort(tmp_path: Path, max_rows: int) -> None:
    sink_sorted(PERSONS.lazy(), tmp_path / "persons.parquet", BY_STATUS, max_rows=max_rows)
    written = pl.read_parquet(tmp_path / "persons.parquet")
    assert written.schema == PERSONS.schema  # the Enum and the list survive the chunks
    assert written.equals(PERSONS.sort("status", "nik"))  # nulls first, as one sort puts them


def test_chunks_are_held_one_at_a_time() -> None:
    # Chunks of at most 3 rows: null and active (1 + 3 rows, active alone exceeds), then lapsed and not_enrolled.
    runs = list(sorted_runs(PERSONS.lazy(), BY_STATUS, max_rows=3))
    assert [run.height for run in runs] == [1, 3, 3]
    assert pl.concat(runs).equals(PERSONS.sort("status", "nik"))


def test_parts_are_written_as_their_union_and_each_is_read_only_for_the_runs_it_holds_rows_of(tmp_path: Path) -> None:
    reads: list[str] = []

    def part(rows: pl.DataFrame, name: str) -> pl.LazyFrame:
        def read(batch: pl.DataFrame) -> pl.DataFrame:
            reads.append(name)
            return batch

        return rows.lazy().map_batches(read, schema=rows.schema, streamable=False)

    active_or_null = pl.col("status").is_null() | (pl.col("status") == "active")
    parts = [part(PERSONS.filter(active_or_null), "a"), part(PERSONS.filter(~active_or_null), "b")]
    sink_sorted(parts, tmp_path / "persons.parquet", BY_STATUS, max_rows=3)
    assert pl.read_parquet(tmp_path / "persons.parquet").equals(PERSONS.sort("status", "nik"))
    # Each part is read once to count its rows, then for its own runs only: null and active (a), lapsed and
    # not_enrolled (b).
    assert sorted(reads) == ["a", "a", "a", "b", "b"]
    with pytest.raises(ValueError, match="give the order"):
        write_partition(parts, tmp_path, "persons", date(2026, 11, 27))


def test_parts_get_the_columns_of_their_union() -> None:
    found = pl.LazyFrame({"nik": ["1"], "kpj": ["10000000001"], "status": ["active"]})
    missing = pl.LazyFrame({"status": ["not_enrolled"], "nik": ["2"]})
    parts = same_columns([found, missing])
    assert [p.collect_schema() for p in parts] == [found.collect_schema()] * 2
    assert pl.concat(parts).collect().rows() == [("1", "10000000001", "active"), ("2", None, "not_enrolled")]


# The first key (a NIK's length) orders as both keys do wherever it differs; ties are left to the NIK.
BY_LENGTH = Order((pl.col("nik").str.len_bytes(), "nik"), pl.lit(0), first_distinct=True)


@pytest.mark.parametrize("niks", [["333", "1", "22"], ["22", "1", "33", "11", None]])
def test_a_first_distinct_key_sorts_as_all_keys_ties_or_not(niks: list[str | None]) -> None:
    frame = pl.DataFrame({"nik": niks}, schema={"nik": pl.String})
    (run,) = sorted_runs(frame.lazy(), BY_LENGTH)
    assert run.equals(frame.sort(pl.col("nik").str.len_bytes(), "nik"))


def test_a_partition_written_in_order(tmp_path: Path) -> None:
    path = write_partition(PERSONS.lazy(), tmp_path, "persons", date(2026, 11, 27), order=BY_STATUS)
    assert pl.read_parquet(path).equals(PERSONS.sort("status", "nik"))


def test_a_column_only_the_order_needs_is_left_out_of_the_file(tmp_path: Path) -> None:
    keyed = PERSONS.with_columns(pl.col("nik").cast(pl.Int64).alias("_key"))
    by_key = Order(("_key",), pl.col("_key") // 4, drop=("_key",))
    sink_sorted(keyed.lazy(), tmp_path / "persons.parquet", by_key, max_rows=2)
    written = pl.read_parquet(tmp_path / "persons.parquet")
    assert written.columns == PERSONS.columns
    assert written.equals(keyed.sort("_key").drop("_key"))


def test_a_run_keeps_to_one_value_of_runs_within_and_a_run_already_in_order_is_not_sorted_again() -> None:
    # Two parts, as a partitioned run's NIK ranges give them: each in order, the second after the first.
    parts = [pl.LazyFrame({"key": [1, 2, 3], "v": list("abc")}), pl.LazyFrame({"key": [11, 12, 13], "v": list("def")})]
    by_key = Order(("key",), pl.col("key"))
    assert [run["key"].to_list() for run in sorted_runs(parts, by_key, max_rows=4)] == [[1, 2, 3, 11], [12, 13]]
    by_tens = Order(("key",), pl.col("key"), runs_within=pl.col("chunk") // 10)
    runs = list(sorted_runs(parts, by_tens, max_rows=4))
    assert [run["key"].to_list() for run in runs] == [[1, 2, 3], [11, 12, 13]]
    # A run whose first key rises from row to row is handed on as it came; any other is sorted.
    in_order = pl.DataFrame({"key": [1, 2, 11], "v": ["c", "b", "a"]})
    assert _sort(in_order, by_key) is in_order
    for unordered in ([2, 1, 11], [1, 1, 11], [None, 1, 11]):
        run = pl.DataFrame({"key": unordered, "v": ["c", "b", "a"]})
        assert _sort(run, Order(("key", "v"), pl.col("key"))).equals(run.sort("key", "v"))
