from datetime import date
from pathlib import Path

import polars as pl
import pytest

from warehouse.parquet import partition_dir, staged_outputs, swap_in, write_partition

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
    with swap_in(stage(tmp_path, "s1", 1), data, part):
        pass
    with swap_in(stage(tmp_path, "s2", 2), data, part):
        pass
    assert read(data) == [2]
    assert not (data / ".trash").exists() or not any((data / ".trash").iterdir())


def test_a_failure_inside_the_swap_restores_the_previous_partition(tmp_path: Path) -> None:
    data = tmp_path / "data"
    part = [partition_dir(Path("analytics"), "coverage", RUN)]
    with swap_in(stage(tmp_path, "s1", 1), data, part):
        pass
    with pytest.raises(RuntimeError), swap_in(stage(tmp_path, "s2", 2), data, part):
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
    with swap_in(first, data, entries):
        pass
    staging, entries = staged("s2", 2)
    # The report (a file) sits between two folders in the swap order: every entry must come back.
    with pytest.raises(RuntimeError), swap_in(staging, data, entries):
        raise RuntimeError("warehouse commit failed")
    assert read(data) == [1]
    assert (data / "reports" / "coverage_2026-11-27.html").read_text() == "report 1"
    assert (data / "reports" / "data_docs" / "index.html").read_text() == "docs 1"
