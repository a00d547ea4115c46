"""The benchmark harness: its inputs are deterministic and readable, and its DuckDB reference agrees with cakupan."""

from __future__ import annotations

import hashlib
import subprocess
import threading
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from benchmarks import measure, probe, reference_duckdb, stages
from benchmarks.generate import Inputs, Size, generate
from benchmarks.run import (
    _measured_how,
    _runs_of,
    _same_inputs,
    _speed_note,
    measured_code,
    not_ready,
    probe_speed,
)
from cakupan.readers import read_bpjs_export
from tasks.ingest import read_folder

TOY = Size("toy", list_rows=600, export_rows=3_000, villages=20)


def _digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((root / "inputs").rglob("*"))
        if p.is_file()
    }


def test_the_same_seed_writes_the_same_bytes_and_cakupan_reads_them(tmp_path: Path) -> None:
    first = generate(TOY, 7, tmp_path / "a")
    generate(TOY, 7, tmp_path / "b")
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")

    inputs = Inputs(tmp_path / "a")
    files, rows = read_folder(inputs.submissions, "Asia/Jakarta")
    # Every file is read, with its village code and date in the name; every row the generator wrote comes back.
    assert files["read_error"].null_count() == files.height == first["files"]
    assert files["file_kode_desa"].null_count() == 0
    assert rows.height == first["list_rows"] == TOY.list_rows
    export = read_bpjs_export(inputs.export_file)
    assert export.error is None
    assert export.rows.height == TOY.export_rows
    # A realistic mix, not clean data: some NIK cells are not 16 digits, most are.
    bad_nik = rows.filter(~pl.col("nik").str.contains(r"^[0-9]{16}$").fill_null(False)).height
    assert 0 < bad_nik < 0.1 * rows.height


# Membership ends as seen on the run date 2026-11-27 (the state column is what reconcile reads).
COVERED_UNTIL, GRACE_UNTIL, LAPSED_AT = date(2027, 3, 1), date(2026, 10, 1), date(2025, 1, 1)


def _person(nik: str, nama: str, born: date) -> dict[str, object]:
    return {"nik": nik, "nama": nama, "birth_date": born, "sex": "L", "kode_desa": "62.03.01.2001",
            "kode_kecamatan": "62.03.01", "pekerjaan": "PETANI"}  # fmt: skip


def _member(nik: str, nama: str, born: date, state: str, regency: bool, kpj: str) -> dict[str, object]:
    end = {"covered": COVERED_UNTIL, "grace": GRACE_UNTIL, "lapsed": LAPSED_AT}[state]
    return {"nik": nik, "kpj": kpj, "nama": nama, "tgl_lahir": born, "tgl_berakhir": end,
            "grace_end": end + timedelta(days=90), "state": state, "paid_by_regency": regency,
            "pembayar": "PEMKAB KAPUAS" if regency else "PT SAWIT JAYA"}  # fmt: skip


def test_duckdb_reference_gives_every_person_the_status_the_reconcile_stage_gives(tmp_path: Path) -> None:
    born = {k: date(1980 + i, i % 12 + 1, 10 + i) for i, k in enumerate("ABCDEFGHIK")}
    persons = [
        _person("6203011001800001", "Ahmad Yani", born["A"]),
        _person("6203011102810002", "Budi Santoso", born["B"]),
        _person("6203011203820003", "Rahmat Hidayat", born["C"]),
        _person("6203011304830004", "Joko Susilo", born["D"]),
        _person("6203011405840005", "Agus Wibowo", born["E"]),
        _person("6203011506850017", "Eko Pratama", born["F"]),
        _person("6203011607860007", "Dedi Kurniawan", born["G"]),
        _person("6203011708870008", "Hendra Gunawan", born["H"]),
        _person("6203011809880009", "Yusuf Hamzah", born["I"]),
    ]
    members = [
        _member("6203011001800001", "AHMAD  YANI", born["A"], "covered", True, "10000000001"),
        _member("6203011102810002", "H. BUDI SANTOSO", born["B"], "grace", True, "10000000002"),
        _member("6203011203820003", "RAHMAT HIDAYAT", born["C"], "lapsed", False, "10000000003"),
        # Same NIK, someone else's name: identity_conflict.
        _member("6203011304830004", "YULIANA SARI", born["D"], "covered", True, "10000000004"),
        # One digit substituted, same birth date and name: probable_match.
        _member("6203011405840006", "AGUS WIBOWO", born["E"], "covered", True, "10000000005"),
        # The last two digits swapped: probable_match.
        _member("6203011506850071", "EKO PRATAMA", born["F"], "covered", True, "10000000006"),
        # Two members one typo from Hendra: not unique, so he is not_enrolled and both stay unclaimed.
        _member("6203011708870018", "HENDRA GUNAWAN", born["H"], "covered", True, "10000000007"),
        _member("6203011708870028", "HENDRA GUNAWAN", born["H"], "lapsed", True, "10000000008"),
        # One typo from Yusuf but another name: no match, and not regency-paid, so on no list of ours.
        _member("6203011809880019", "YUSRIL MAHENDRA", born["I"], "covered", False, "10000000009"),
        _member("6203012010890099", "RUDI HARTONO", born["K"], "covered", True, "10000000010"),
    ]
    work = tmp_path / "work"
    for folder, rows in (("persons", persons), ("members", members)):  # one partition each, as at S
        (work / folder).mkdir(parents=True)
        pl.DataFrame(rows).write_parquet(work / folder / "part-0000.0000.parquet")
    (work / "partitions.txt").write_text("1\n")

    stages.reconcile(Inputs(tmp_path), work)
    reference_duckdb.run(work, work / "duckdb.parquet")

    expected = {
        "6203011001800001": "active",
        "6203011102810002": "grace",
        "6203011203820003": "lapsed",
        "6203011304830004": "identity_conflict",
        "6203011405840005": "probable_match",
        "6203011506850017": "probable_match",
        "6203011607860007": "not_enrolled",
        "6203011708870008": "not_enrolled",
        "6203011809880009": "not_enrolled",
        "6203011708870018": "enrolled_not_submitted",  # regency-paid, covered, claimed by no one
        "6203012010890099": "enrolled_not_submitted",
    }
    for result in (work / "reconciliation.parquet", work / "duckdb.parquet"):
        frame = pl.read_parquet(result, columns=["nik", "status", "person_key"])
        assert dict(zip(frame["nik"], frame["status"].cast(pl.String), strict=True)) == expected
    comparison = reference_duckdb.compare(work / "reconciliation.parquet", work / "duckdb.parquet")
    assert comparison["different_status"] == 0
    assert comparison["person_key_equal"] is True


def run_stages(inputs: Inputs, work: Path) -> None:
    work.mkdir(parents=True)
    for name, stage in stages.STAGES.items():
        stage.run(inputs, work)
        assert all((work / w).exists() for w in stage.writes), name
    assert not [p for p in (work / "scratch").rglob("*") if p.is_file()]  # each stage cleans its scratch


def test_the_stages_run_in_partitions_as_the_flow_does_and_give_the_one_pass_outputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    generate(TOY, 7, tmp_path)
    inputs = Inputs(tmp_path)
    run_stages(inputs, tmp_path / "one")
    monkeypatch.setattr(stages, "partitions_for", lambda list_rows, export_rows: 3)
    run_stages(inputs, tmp_path / "three")
    assert (tmp_path / "three" / "partitions.txt").read_text() == "3\n"
    assert len(list((tmp_path / "three" / "members").glob("part-0002.*.parquet"))) == 1
    for name in ("ledger.parquet", "reconciliation.parquet", "coverage.parquet"):
        one, three = pl.read_parquet(tmp_path / "one" / name), pl.read_parquet(tmp_path / "three" / name)
        assert one.height > 0 and one.equals(three), name
    statuses = pl.read_parquet(tmp_path / "one" / "reconciliation.parquet")["status"].unique().to_list()
    assert {"active", "not_enrolled", "enrolled_not_submitted"} <= {str(s) for s in statuses}


def test_partition_tasks_run_as_many_at_once_as_the_flows_thread_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    # The flow maps a stage's partition tasks on a thread pool as wide as the usable cores: one at a time, the
    # stages timed work the flow does not do (a national run's exact matching took a third longer).
    monkeypatch.setattr(stages, "usable_cores", lambda: 2)
    together = threading.Barrier(2, timeout=10)

    def task(index: int) -> int:
        together.wait()  # passes only when two tasks run at once
        return index * 10

    assert stages.each_partition(task, 4) == [0, 10, 20, 30]


def test_the_io_floor_writes_again_what_each_stage_wrote(tmp_path: Path) -> None:
    generate(TOY, 7, tmp_path)
    inputs, work = Inputs(tmp_path), tmp_path / "work"
    run_stages(inputs, work)
    for name, stage in stages.STAGES.items():
        floor = tmp_path / "floor" / name
        phases = stages.io_floor(name, inputs, work, floor)
        assert set(phases) == {"read", "write"}, name
        for written in stage.writes:
            parts = sorted(p.relative_to(work) for p in (work / written).rglob("*.parquet")) or [Path(written)]
            for part in parts:
                assert pl.read_parquet(floor / part).equals(pl.read_parquet(work / part, hive_partitioning=False))
                # ... and as the stage wrote it: the published files in zstd with statistics, not as polars would.
                assert stages.written_as(floor / part) == stages.written_as(work / part), part
    assert stages.written_as(work / "reconciliation.parquet")["compression"] == "zstd"


def test_the_floor_is_timed_by_its_reads_and_writes_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCH_DIR", str(tmp_path))
    generate(TOY, 7, tmp_path / "toy")
    run_stages(Inputs(tmp_path / "toy"), measure.work_dir("toy"))
    floor = measure.measure("floor", "reconcile", "toy")
    assert floor["seconds"] == pytest.approx(floor["phases"]["read"] + floor["phases"]["write"])
    assert floor["info"]["untimed_seconds"] > 0  # loading the outputs, left off the clock


def test_the_duckdb_reference_is_timed_on_inputs_the_reconcile_stage_has_not_run_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BENCH_DIR", str(tmp_path))
    generate(TOY, 7, tmp_path / "toy")
    inputs, work = Inputs(tmp_path / "toy"), measure.work_dir("toy")
    work.mkdir(parents=True)
    for name in ("read", "validate"):
        stages.STAGES[name].run(inputs, work)
    alone = measure.measure("duckdb", "reconcile", "toy")
    assert alone["seconds"] > 0 and alone["info"] == {"compared": False}
    stages.STAGES["reconcile"].run(inputs, work)
    compared = measure.measure("duckdb", "reconcile", "toy")
    assert compared["info"]["persons"] > 0 and compared["info"]["person_key_equal"] is True


def test_a_stage_is_skipped_with_the_reason_the_stage_before_it_gives() -> None:
    done = {"read"}
    # Measured in this run and failed, or left out of BENCH_STAGES on inputs it has not run on.
    assert not_ready("reconcile", ["read", "validate", "reconcile"], done.__contains__) == (
        "skipped: the validate stage failed"
    )
    assert not_ready("metrics", ["read", "validate", "metrics"], (done | {"validate"}).__contains__) == (
        "skipped: the reconcile stage has not run on these inputs (add it to BENCH_STAGES)"
    )
    assert not_ready("validate", ["validate"], done.__contains__) is None
    assert not_ready("read", ["read"], set().__contains__) is None


def test_inputs_generated_again_are_the_same_inputs_and_other_inputs_are_not() -> None:
    earlier = {"seed": 7, "files": 239, "input_bytes": 8_000_000, "seconds": 116.7, "generated_now": True}
    # Measuring some groups again on inputs generated again keeps the other groups' earlier measurements.
    assert _same_inputs(earlier, earlier | {"seconds": 295.0, "generated_now": False})
    assert not _same_inputs(earlier, earlier | {"seed": 8})
    assert not _same_inputs(earlier, earlier | {"input_bytes": 8_000_001})


def test_measured_code_leaves_out_the_results_the_harness_writes(tmp_path: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false", *args],
            cwd=tmp_path,
            check=True,
        )

    (tmp_path / "benchmarks").mkdir()
    for name in ("benchmarks/RESULTS.md", "benchmarks/results.json", "benchmarks/stages.py"):
        (tmp_path / name).write_text("first\n")
    git("init", "-q")
    git("add", ".")
    git("commit", "-qm", "first")

    (tmp_path / "benchmarks/RESULTS.md").write_text("a run's table\n")
    (tmp_path / "benchmarks/results.json").write_text("{}\n")
    assert not measured_code(tmp_path).endswith("with local changes")

    (tmp_path / "benchmarks/stages.py").write_text("changed\n")
    assert measured_code(tmp_path).endswith("with local changes")


def test_a_size_says_what_its_measurements_took_and_on_which_code_when_runs_are_merged() -> None:
    def measured(commit: str, *walls: float) -> dict[str, Any]:
        return {"commit": commit, "samples": [{"wall_seconds": wall} for wall in walls]}

    one_run = {"commit": "abc1234", "measurements": {"stage:read": measured("abc1234", 10.0, 12.0)}}
    assert _measured_how(one_run) == "its measurements took 22 s, on code abc1234"
    # A later run measured one stage again on other code: the stage's earlier samples are not counted.
    merged = {
        "commit": "def5678",
        "measurements": {"stage:read": measured("abc1234", 10.0), "stage:reconcile": measured("def5678", 40.0, 41.0)},
    }
    assert _measured_how(merged) == "its measurements took 91 s, on code abc1234 and def5678"
    # A stage skipped: it took nothing and ran on no code.
    merged["measurements"]["stage:write"] = {"ok": False, "error": "skipped: the reconcile stage failed", "runs": 0}
    assert _measured_how(merged) == "its measurements took 91 s, on code abc1234 and def5678"
    merged["runs"], merged["measurements"]["stage:read"]["runs"] = 3, 1
    merged["measurements"]["stage:reconcile"]["runs"] = 3
    assert _runs_of(merged) == "1 to 3"


def test_the_speed_probe_times_its_fixed_work_and_a_table_shows_the_range_of_its_probes() -> None:
    one_round = probe.speed_probe(rounds=1)
    assert set(one_round) == {"python_loop_s", "parquet_s"} and all(0 < s < 60 for s in one_round.values())
    # As the harness takes it: in a process of its own, with polars on one thread.
    taken = probe_speed()
    assert taken is not None and set(taken) == set(one_round)

    quick, slow = {"python_loop_s": 0.2, "parquet_s": 0.25}, {"python_loop_s": 0.41, "parquet_s": 0.3}
    merged = [{"speed": [quick, slow]}, {"speed": [quick]}, {"commit": "abc1234"}]  # the last from before probes
    (note, blank) = _speed_note(merged, "these")
    assert "(3 probes" in note and "Python loop 0.20-0.41 s" in note and "Parquet round trip 0.25-0.30 s" in note
    assert blank == ""
    assert _speed_note([{"commit": "abc1234"}], "these") == []
