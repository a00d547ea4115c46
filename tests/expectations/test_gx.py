"""expectations/gx.py: failing row positions from GX, speed when every row fails, one thread at a time, Data Docs."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from cakupan.readers import read_bpjs_export
from cakupan.rules import SUBMISSION_CHECK_COLUMNS, prepare_members, prepare_rows
from expectations import gx
from tests.expectations.test_bpjs_export import HEADER, member
from tests.expectations.test_submission_rules import AGES, RUN, VILLAGES, raw_rows, row


def prepared(n: int, *, good: bool) -> pl.DataFrame:
    """n rows of one file: all passing every rule, or all failing five of them."""
    if good:
        # Distinct NIKs with valid dates (day 01-28, born 1970-1999) and birth dates that agree with them.
        rows = pl.DataFrame({"i": range(n)}).select(
            day=(pl.col("i") % 28 + 1).cast(pl.String).str.zfill(2),
            month=(pl.col("i") // 28 % 12 + 1).cast(pl.String).str.zfill(2),
            yy=(pl.col("i") // 336 % 30 + 70).cast(pl.String),
            serial=(pl.col("i") // 10_080 + 1).cast(pl.String).str.zfill(4),
        )
        frame = raw_rows([row()] * n).with_columns(
            nik=pl.concat_str(pl.lit("620301"), rows["day"], rows["month"], rows["yy"], rows["serial"]),
            tanggal_lahir=pl.concat_str(rows["day"], pl.lit("-"), rows["month"], pl.lit("-19"), rows["yy"]),
        )
    else:
        bad = row(nik="12345", nama=None, tanggal_lahir="kemarin", jenis_kelamin="X", desa="Atlantis", kecamatan=None)
        frame = raw_rows([bad] * n)
    return prepare_rows(frame, VILLAGES, RUN).select(SUBMISSION_CHECK_COLUMNS)


def timed(frame: pl.DataFrame) -> tuple[float, gx.SuiteResult]:
    best, result = float("inf"), None
    for _ in range(3):  # the best of three: the box is shared, and a slow outlier says nothing about GX
        start = time.perf_counter()
        result = gx.validate("submission_rows", frame, AGES)
        best = min(best, time.perf_counter() - start)
    assert result is not None
    return best, result


def test_a_file_in_which_every_row_fails_validates_about_as_fast_as_a_good_one() -> None:
    n = 50_000
    good, bad = prepared(n, good=True), prepared(n, good=False)
    gx.validate("submission_rows", good.head(10), AGES)  # GX's one-off start-up is not part of the comparison
    good_seconds, good_result = timed(good)
    bad_seconds, bad_result = timed(bad)
    assert good_result.failures.is_empty()
    assert bad_result.failures.group_by("reason").len().sort("reason").rows() == [
        ("birthdate_invalid", n),
        ("name_missing", n),
        ("nik_format", n),
        ("sex_invalid", n),
        ("village_unknown", n),
    ]
    # The target is within 20 %; measured here the failing file is the faster one (0.85x at 50,000 rows, 0.65x
    # at 500,000). Storing results in GX's result store made it 5x slower, and deduplicating and sorting the
    # failures by their texts 1.6x at 500,000 rows; 0.1 s of slack for a shared machine.
    assert bad_seconds <= 1.2 * good_seconds + 0.1, (good_seconds, bad_seconds)


def test_failing_rows_are_reported_by_position_for_every_expectation() -> None:
    frame = prepare_rows(
        raw_rows([row(), row(nik=None), row(nama=None, jenis_kelamin="?"), row()]), VILLAGES, RUN
    ).select(SUBMISSION_CHECK_COLUMNS)
    result = gx.validate("submission_rows", frame, AGES)
    assert result.failures.select("row_id", "reason").rows() == [  # by reason, then row
        (2, "name_missing"),
        (1, "nik_missing"),
        (2, "sex_invalid"),
    ]
    assert not result.success
    assert {o.reason: o.unexpected_count for o in result.failed()} == {
        "nik_missing": 1,
        "name_missing": 1,
        "sex_invalid": 1,
    }


def test_failures_are_one_row_per_failing_row_and_message_by_row_then_reason() -> None:
    sex = ("sex_invalid", "E", "Jenis kelamin tidak dikenal", "Isi L atau P")
    name = ("name_missing", "E", "Nama kosong", None)
    age = ("age_outside", "W", None, None)
    # Two expectations with the same message both fail row 1: it is listed once.
    rows = lambda *positions: pl.Series(positions, dtype=pl.Int64)  # noqa: E731
    failures = gx._failures({sex: [rows(3, 1), rows(1)], name: [rows(1)], age: [rows(0)]}, 4)
    assert failures.schema == pl.Schema(gx.FAILURES_SCHEMA)
    assert failures.rows() == [(0, *age), (1, *name), (1, *sex), (3, *sex)]


def test_detail_for_failed_expectations_only_finds_the_same_outcomes_and_failing_rows() -> None:
    frame = prepare_rows(
        raw_rows([row(), row(nik=None), row(nama=None, jenis_kelamin="?"), row()]), VILLAGES, RUN
    ).select(SUBMISSION_CHECK_COLUMNS)
    everything = gx.validate("submission_rows", frame, AGES)
    failed_only = gx.validate("submission_rows", frame, AGES, detail="failed")
    assert failed_only.outcomes == everything.outcomes
    assert failed_only.failures.equals(everything.failures)
    assert not failed_only.success


def test_detail_for_failed_expectations_still_names_the_rows_a_tolerant_rule_let_pass(tmp_path: Path) -> None:
    """A rule with ``mostly`` can pass with failing rows; those rows are still reported (and left out)."""
    path = tmp_path / "bpjs_export_2026-11-25.csv"
    lines = [",".join(HEADER)] + [",".join(member(i)) for i in range(200)]
    lines[8] = lines[8].replace("12-MEI-80,01-MAR-25", "12-MEI-80,bulan lalu")  # member 7's start date
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    members = prepare_members(read_bpjs_export(path).rows, RUN)
    result = gx.validate("bpjs_export", members, detail="failed")
    assert result.success
    assert result.failures.select("row_id", "reason").rows() == [(7, "date_unparseable")]
    assert {o.reason: o.unexpected_count for o in result.outcomes if o.unexpected_count} == {"date_unparseable": 1}


def test_only_the_columns_the_suite_reads_go_to_gx() -> None:
    frame = prepare_rows(raw_rows([row(nama=None)]), VILLAGES, RUN)  # every prepared column, NIK and all
    assert gx.validate("submission_rows", frame, AGES).failures["reason"].to_list() == ["name_missing"]
    assert set(gx.suite_columns("submission_rows")) == set(SUBMISSION_CHECK_COLUMNS)


def test_gx_is_called_by_one_thread_at_a_time_and_each_caller_gets_its_own_frames_results(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Four threads validate four different frames; GX itself never runs in two of them at once."""
    inner = gx._run_suite
    active, most = 0, 0
    counter = threading.Lock()

    def watched(*args: Any) -> Any:
        nonlocal active, most
        with counter:
            active += 1
            most = max(most, active)
        try:
            time.sleep(0.01)  # widen the window in which an unserialised second caller would overlap
            return inner(*args)
        finally:
            with counter:
                active -= 1

    monkeypatch.setattr(gx, "_run_suite", watched)
    # Frame k has k+1 rows and exactly its last row fails (a missing name): the results tell the frames apart.
    frames = [
        prepare_rows(raw_rows([row()] * k + [row(nama=None)]), VILLAGES, RUN).select(SUBMISSION_CHECK_COLUMNS)
        for k in range(4)
    ]
    got: dict[int, list[tuple[int, list[int]]]] = {k: [] for k in range(4)}
    errors: list[BaseException] = []

    def caller(k: int) -> None:
        try:
            for _ in range(3):
                result = gx.validate("submission_rows", frames[k], AGES)
                got[k].append((result.outcomes[0].element_count, result.failures["row_id"].to_list()))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=caller, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert most == 1
    assert got == {k: [(k + 1, [k])] * 3 for k in range(4)}


def _rule(kind: str, reason: str, **kwargs: Any) -> dict[str, Any]:
    return {"type": kind, "kwargs": kwargs, "meta": {"reason": reason, "level": "E", "pesan": reason}}


PER_ROW_SUITE = {
    "name": "per_row",
    "meta": {"version": "1"},
    "expectations": [
        _rule("expect_column_values_to_not_be_null", "id_missing", column="id"),
        _rule("expect_column_values_to_match_regex", "id_format", column="id", regex="^[0-9]{4}$", mostly=0.5),
        _rule("expect_column_values_to_be_in_set", "code_unknown", column="code", value_set=["A", "B"]),
        _rule("expect_column_values_to_not_be_null", "code_missing", column="code"),
        _rule("expect_column_values_to_be_between", "age", column="age", min_value={"$PARAMETER": "low"}, max_value=60),
        _rule(
            "expect_column_pair_values_to_be_equal",
            "pair_either",
            column_A="a",
            column_B="b",
            ignore_row_if="either_value_is_missing",
        ),
        _rule("expect_column_pair_values_to_be_equal", "pair_both", column_A="a", column_B="c"),
        # Pairs GX sees one of each kind of (missing, equal or not): text; whole numbers and floats go by value.
        _rule(
            "expect_column_pair_values_to_be_equal", "pair_neither", column_A="b", column_B="c", ignore_row_if="neither"
        ),
        _rule("expect_column_pair_values_to_be_equal", "pair_numbers", column_A="n1", column_B="n2", mostly=0.2),
        _rule("expect_column_pair_values_to_be_equal", "pair_floats", column_A="ratio", column_B="score"),
        _rule("expect_column_values_to_be_in_set", "flag", column="flag", value_set=[True], mostly=0.1),
        _rule("expect_column_values_to_be_between", "ratio", column="ratio", min_value=0, max_value=4),
        # Columns whose only rule asks whether a value is missing (GX sees one missing and one present value).
        _rule("expect_column_values_to_not_be_null", "a_missing", column="a"),
        # 282 of 3,000 missing: GX's share of every row passes 0.9; a share of the present rows alone would not.
        _rule("expect_column_values_to_not_be_null", "score_missing", column="score", mostly=0.9),
        _rule("expect_column_values_to_not_be_null", "nothing_missing", column="nothing"),
        _rule("expect_column_values_to_not_be_null", "label_missing", column="label"),
    ],
}


def per_row_frame(n: int) -> pl.DataFrame:
    """Mostly distinct ids (GX sees them as they are) beside repeated codes, ages and pairs (judged by value)."""
    i = pl.int_range(n)
    return pl.select(
        id=pl.when(i % 17 == 0)
        .then(None)
        .when(i % 13 == 0)
        .then(pl.lit("12x4"))
        .otherwise(i.cast(pl.String).str.zfill(4)),
        code=pl.when(i % 7 == 0).then(None).otherwise(pl.lit(pl.Series(["A", "B", "C", "A", "B"])).gather(i % 5)),
        age=pl.when(i % 11 == 0).then(None).otherwise(i % 70),
        a=pl.when(i % 5 == 0).then(None).otherwise((i % 4).cast(pl.String)),
        b=pl.when(i % 3 == 0).then(None).otherwise((i % 6 % 4).cast(pl.String)),
        c=pl.when(i % 4 == 0).then(None).otherwise((i % 8 % 4).cast(pl.String)),
        flag=i % 9 != 0,
        ratio=pl.when(i % 6 == 0).then(float("nan")).when(i % 10 == 0).then(None).otherwise(i % 50 / 10),
        score=pl.when(i % 19 == 0).then(float("nan")).when(i % 23 == 0).then(None).otherwise(i / 7),
        label=i.cast(pl.String),
        nothing=pl.lit(None, pl.String),
        n1=pl.when(i % 29 == 0).then(None).otherwise(i % 3),
        n2=pl.when(i % 31 == 0).then(None).otherwise(i % 4),
    )


def test_judging_each_distinct_value_once_gives_what_gx_gives_on_every_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "per_row.json").write_text(json.dumps(PER_ROW_SUITE), encoding="utf-8")
    monkeypatch.setattr(gx, "SUITES_DIR", tmp_path)
    frame = per_row_frame(3_000)
    assert gx._value_groups("per_row") is not None  # every rule reads its own row only
    by_value = gx.validate("per_row", frame, {"low": 18})
    with gx._GX_LOCK:
        every_row = gx._run_suite("per_row", frame.to_pandas(), {"low": 18})
    row_detail = {"partial_unexpected_index_list", "unexpected_index_list"}
    for got, want in zip(by_value.validation.results, every_row.results, strict=True):
        assert got.success == want.success, want.expectation_config.type
        assert {k: v for k, v in got.result.items() if k not in row_detail} == {
            k: v for k, v in want.result.items() if k not in row_detail
        }, want.expectation_config.meta["reason"]
    assert by_value.success == every_row.success
    assert by_value.validation.statistics == every_row.statistics
    # The failing rows, too: GX on every row names them by position.
    want_failures = {
        (position, r.expectation_config.meta["reason"])
        for r in every_row.results
        for position in r.result["unexpected_index_list"]
    }
    assert set(by_value.failures.select("row_id", "reason").iter_rows()) == want_failures
    assert {reason for _, reason in want_failures} == {
        "id_missing",
        "id_format",
        "code_unknown",
        "code_missing",
        "age",
        "pair_either",
        "pair_both",
        "pair_neither",
        "pair_numbers",
        "pair_floats",
        "flag",
        "ratio",
        "a_missing",
        "score_missing",
        "nothing_missing",
    }
    assert [o.success for o in by_value.outcomes] == [
        *(False, True, False, False, False, False, False, False, True, False, True, False),
        *(False, True, False, True),
    ]


def test_a_suite_of_not_null_rules_only_is_judged_by_value_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    suite = {
        "name": "present",
        "meta": {},
        "expectations": [_rule("expect_column_values_to_not_be_null", "x", column="x")],
    }
    (tmp_path / "present.json").write_text(json.dumps(suite), encoding="utf-8")
    monkeypatch.setattr(gx, "SUITES_DIR", tmp_path)
    result = gx.validate("present", pl.DataFrame({"x": ["a", None, "b", None]}))
    assert result.failures["row_id"].to_list() == [1, 3]
    assert [(o.unexpected_count, o.element_count, o.success) for o in result.outcomes] == [(2, 4, False)]


def test_keeping_each_expectations_configuration_changes_no_gx_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "per_row.json").write_text(json.dumps(PER_ROW_SUITE), encoding="utf-8")
    monkeypatch.setattr(gx, "SUITES_DIR", tmp_path)
    frame = per_row_frame(500).to_pandas()
    with gx._GX_LOCK:
        kept = gx._run_suite("per_row", frame, {"low": 18})
        assert gx._KEPT is None  # only while GX validates
        suite, batch_definition = gx._validation("per_row")
        batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
        own = batch.validate(suite, result_format=gx._RESULT_FORMAT, expectation_parameters={"low": 18})
    assert [r.to_json_dict() for r in kept.results] == [r.to_json_dict() for r in own.results]
    assert kept.results[4].expectation_config.kwargs["min_value"] == 18  # the suite parameter, filled in
    assert not kept.success


def test_gx_fingerprints_each_batch_by_its_content() -> None:
    frame = per_row_frame(50)
    one = gx.validate("submission_rows", prepared(20, good=True), AGES).validation.meta["batch_markers"]
    two = gx.validate("submission_rows", prepared(20, good=False), AGES).validation.meta["batch_markers"]
    assert one["pandas_data_fingerprint"] != two["pandas_data_fingerprint"]
    fingerprint = gx._fingerprint(lambda pdf: "gx's own")
    assert fingerprint(frame.to_pandas()) == fingerprint(frame.to_pandas())
    assert fingerprint(frame.to_pandas()) != fingerprint(frame.reverse().to_pandas())
    assert fingerprint(frame.to_pandas()) != fingerprint(frame.rename({"id": "nik"}).to_pandas())


def test_a_suite_expectation_gx_does_not_accept_is_an_error_not_a_silent_skip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite = gx.suite_definition("submission_rows")
    suite["expectations"].append({"type": "expect_column_values_to_be_rot13", "kwargs": {"column": "nik"}, "meta": {}})
    (tmp_path / "broken.json").write_text(json.dumps(suite), encoding="utf-8")
    monkeypatch.setattr(gx, "SUITES_DIR", tmp_path)
    with pytest.raises(ValueError, match="GX accepted"):
        gx._suite("broken")


# ---------------------------------------------------------------------------------------------- Data Docs


def small_result(nama: str | None) -> gx.SuiteResult:
    frame = prepare_rows(raw_rows([row(), row(nama=nama)]), VILLAGES, RUN).select(SUBMISSION_CHECK_COLUMNS)
    return gx.validate("submission_rows", frame, AGES)


def pages(site: Path) -> list[str]:
    return sorted(str(p.relative_to(site).parent.parent) for p in site.glob("validations/*/*/*/*.html"))


def test_data_docs_are_static_html_with_counts_and_no_row_values(tmp_path: Path) -> None:
    site = tmp_path / "data_docs"
    index = gx.build_data_docs([small_result(None)], site, run_name="2026-11-27")
    assert index == site / "index.html" and index.is_file()
    assert (site / "expectations" / "submission_rows.html").is_file()
    assert (site / "expectations" / "bpjs_export.html").is_file()  # every reviewed suite has its page
    page = gx.validation_page(site, small_result(None), "2026-11-27")
    assert page is not None and page.is_file()
    assert "submission_rows.html" in index.read_text(encoding="utf-8")
    # Neither the HTML nor the stored results hold a NIK, a name or a row position list.
    for path in site.rglob("*"):
        if path.suffix in (".html", ".json"):
            text = path.read_text(encoding="utf-8")
            assert "6203011205800003" not in text and "Budi Santoso" not in text, path
            assert "unexpected_index_list" not in text, path


def test_data_docs_keep_earlier_runs_and_a_rerun_replaces_its_date(tmp_path: Path) -> None:
    first = tmp_path / "published"
    gx.build_data_docs([small_result(None)], first, run_name="2026-11-26")
    second = tmp_path / "staging"
    gx.build_data_docs([small_result(None)], second, run_name="2026-11-27", previous=first)
    assert pages(second) == ["validations/submission_rows/2026-11-26", "validations/submission_rows/2026-11-27"]
    index = (second / "index.html").read_text(encoding="utf-8")
    assert "2026-11-26" in index and "2026-11-27" in index
    # The same date again: still one page for it, the new one.
    third = tmp_path / "rerun"
    gx.build_data_docs([small_result("Ani")], third, run_name="2026-11-27", previous=second)
    assert pages(third) == pages(second)
    assert len(list(third.glob("validations/submission_rows/2026-11-27/*"))) == 1
    assert len(list(third.glob("validation_results/submission_rows/2026-11-27/*"))) == 1


def test_data_docs_keep_only_the_newest_runs(tmp_path: Path) -> None:
    site = tmp_path / "site"
    for day in (24, 25, 26, 27):
        gx.build_data_docs([small_result(None)], site, run_name=f"2026-11-{day}", previous=site, keep_runs=2)
    assert pages(site) == ["validations/submission_rows/2026-11-26", "validations/submission_rows/2026-11-27"]


def test_kinds_of_values_go_to_gx_one_of_each(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "per_row.json").write_text(json.dumps(PER_ROW_SUITE), encoding="utf-8")
    monkeypatch.setattr(gx, "SUITES_DIR", tmp_path)
    frame = per_row_frame(3_000)
    groups = {g.columns: g for g in gx._value_groups("per_row") or ()}
    judging = gx._values_to_judge(frame, list(groups.values()))
    # Both missing, one or the other missing, equal, not equal: at most five kinds.
    assert judging[groups[("a", "b")]][0].height == 5
    # Whole numbers with a missing value are floats in pandas, and NaN is not equal to itself there: such pairs
    # go by their distinct values.
    for pair in (("n1", "n2"), ("ratio", "score")):
        assert not groups[pair].by_kind(frame)
        assert judging[groups[pair]][0].height == frame.select(pair).unique().height
    # Text against a number does not compare in polars: by value too, where GX finds every pair unequal.
    mixed = frame.select("a", pl.col("n1").alias("n"))
    assert not gx._Group(("a", "n"), (0,), "equality").by_kind(mixed)
    # A format rule that asks where digits are, not which: four digits, "12x4", missing.
    assert judging[groups[("id",)]][0]["id"].to_list() == [None, "0001", "12x4"]
    # Whole numbers with a missing value are floats in pandas, and NaN is not equal to itself there: such pairs
    # go by their distinct values.
    for pair in (("n1", "n2"), ("ratio", "score")):
        assert not groups[pair].by_kind(frame)
        assert judging[groups[pair]][0].height == frame.select(pair).unique().height
    # Text against a number does not compare in polars: by value too, where GX finds every pair unequal.
    mixed = frame.select("a", pl.col("n1").alias("n"))
    assert not gx._Group(("a", "n"), (0,), "equality").by_kind(mixed)
