"""Every row rule of expectations/suites/submission_rows.json, from hand-written rows through the real suite.

Each case is one row as a reader returns it (text as typed), run through cakupan.rules.prepare_rows and
expectations.gx.validate exactly as the nightly run does; the expected value is the set of reason codes GX
reports for the row. The base row is a man born 12 May 1980 whose NIK says so: it passes every rule.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
import pytest

from cakupan.readers import empty_submission_rows
from cakupan.rules import SUBMISSION_CHECK_COLUMNS, prepare_rows
from expectations.gx import suite_definition, validate

RUN = date(2026, 11, 27)
AGES = {"age_min": 18, "age_max": 65}
VILLAGES = pl.DataFrame(
    [
        ("62.03.02.1005", "Sei Pasah", "62.03.02", "Kapuas Hilir"),
        ("62.03.07.1001", "Palingkau Baru", "62.03.07", "Kapuas Murung"),
        ("62.03.07.2010", "Palangkau Baru", "62.03.07", "Kapuas Murung"),
        ("62.03.09.2034", "Sidomulyo", "62.03.09", "Mantangai"),
        ("62.03.13.2009", "Sidomulyo", "62.03.13", "Tamban Catur"),
        ("62.03.15.2004", "Karetau Manta'a", "62.03.15", "Mandau Talawang"),
    ],
    schema=["kode_desa", "nama_desa", "kode_kecamatan", "nama_kecamatan"],
    orient="row",
)
# 62 03 01 | 12 05 80 | 0003: registered in Kecamatan Selat, born 12-05-1980, a man (day below 40).
NIK = "6203011205800003"
BASE: dict[str, Any] = {
    "nik": NIK,
    "nama": "Budi Santoso",
    "tanggal_lahir": "12-05-1980",
    "jenis_kelamin": "L",
    "desa": "Sei Pasah",
    "kecamatan": "Kapuas Hilir",
    "nik_from_number": False,
}


def raw_rows(
    rows: list[dict[str, Any]], file_kode_desa: str | None = None, *, one_file_each: bool = False
) -> pl.DataFrame:
    """Rows as the reader returns them (every reader column present), of one file or each in its own file."""
    schema = empty_submission_rows().schema
    frame = pl.DataFrame(
        [{"source_row": i + 2, **{c: None for c in schema if c != "source_row"}, **r} for i, r in enumerate(rows)],
        schema=schema,
    )
    return frame.with_columns(
        file_id=pl.int_range(pl.len(), dtype=pl.Int64) if one_file_each else pl.lit(0, pl.Int64),
        file_kode_desa=pl.lit(file_kode_desa, pl.String),
        row_id=pl.int_range(pl.len(), dtype=pl.Int64),
    )


def reasons(
    rows: list[dict[str, Any]],
    *,
    file_kode_desa: str | None = None,
    ages: dict[str, int] = AGES,
    one_file_each: bool = False,
) -> list[list[str]]:
    """The sorted reason codes GX reports for each row, in row order."""
    prepared = prepare_rows(raw_rows(rows, file_kode_desa, one_file_each=one_file_each), VILLAGES, RUN)
    failures = validate("submission_rows", prepared.select(SUBMISSION_CHECK_COLUMNS), ages).failures
    by_row = failures.group_by("row_id").agg(pl.col("reason").unique().sort())
    found = dict(by_row.iter_rows())
    return [found.get(i, []) for i in range(len(rows))]


def row(**changes: Any) -> dict[str, Any]:
    return {**BASE, **changes}


CASES = [
    pytest.param(row(), [], id="clean"),
    # NIK
    pytest.param(row(nik=None), ["nik_missing"], id="nik_missing"),
    pytest.param(row(nik="620301120580000"), ["nik_format"], id="nik_15_digits"),
    pytest.param(row(nik="62030112058000031"), ["nik_format"], id="nik_17_digits"),
    pytest.param(row(nik="62030112O5800003"), ["nik_format"], id="nik_letter_O"),
    pytest.param(row(nik="６２０３０１１２０５８０００３"), ["nik_format"], id="nik_fullwidth_digits"),
    pytest.param(row(nik="'6203.0112 0580-0003"), [], id="nik_separators_cleaned"),
    # A numeric Excel cell: the reader flags it; the 16th digit is gone and is never guessed back.
    pytest.param(row(nik="6203011205800000", nik_from_number=True), ["nik_precision_lost"], id="nik_numeric_cell"),
    pytest.param(row(nik="6.20301E+15", nik_from_number=True), ["nik_precision_lost"], id="nik_e_notation"),
    pytest.param(row(nik=NIK + ".0", nik_from_number=True), ["nik_precision_lost"], id="nik_dot_zero"),
    pytest.param(row(nik="9903011205800003"), ["nik_region"], id="nik_region_99"),
    pytest.param(row(nik="2003011205800003"), ["nik_region"], id="nik_region_20"),
    # A NIK from another province is information (place of first registration), never an error.
    pytest.param(row(nik="3173011205800003"), [], id="nik_other_province"),
    pytest.param(row(nik="6203011213800003"), ["nik_date"], id="nik_month_13"),
    pytest.param(row(nik="6203011200800003"), ["nik_date"], id="nik_month_00"),
    pytest.param(row(nik="6203013205800003"), ["nik_date"], id="nik_day_32"),
    pytest.param(row(nik="6203017205800003"), ["nik_date"], id="nik_day_72"),
    pytest.param(row(nik="6203013102800003", tanggal_lahir="31-01-1980"), ["nik_date"], id="nik_31_february"),
    pytest.param(row(nik="6203011205800000"), ["nik_date"], id="nik_serial_0000"),
    # Birth date and sex inside the NIK: a mismatch is a warning (a NIK is never reissued).
    pytest.param(row(tanggal_lahir="13-05-1980"), ["nik_birthdate_mismatch"], id="nik_date_differs"),
    pytest.param(row(jenis_kelamin="P"), ["nik_birthdate_mismatch"], id="nik_sex_differs"),
    pytest.param(row(nik="6203015205800003", jenis_kelamin="Perempuan"), [], id="woman_day_plus_40"),
    # Name
    pytest.param(row(nama=None), ["name_missing"], id="name_missing"),
    # Birth date, in every shape the issue lists; two-digit years never land in the future.
    pytest.param(row(tanggal_lahir="12/05/1980"), [], id="date_dd/mm/yyyy"),
    pytest.param(row(tanggal_lahir="1980-05-12"), [], id="date_iso"),
    pytest.param(row(tanggal_lahir="12 Mei 1980"), [], id="date_month_name_id"),
    pytest.param(row(tanggal_lahir="12 May 1980"), [], id="date_month_name_en"),
    pytest.param(row(tanggal_lahir="12-MEI-80"), [], id="date_dd-MMM-yy"),
    pytest.param(row(tanggal_lahir="29353"), [], id="date_excel_serial"),
    pytest.param(row(tanggal_lahir=None, ttl="Kuala Kapuas, 12-05-1980"), [], id="ttl"),
    pytest.param(row(tanggal_lahir=None, ttl="Kuala Kapuas 12 Mei 1980"), [], id="ttl_without_comma"),
    pytest.param(
        row(nik="6203011205500003", tanggal_lahir="12-MEI-50"), ["age_out_of_range"], id="two_digit_year_1950"
    ),
    pytest.param(row(tanggal_lahir=None), ["birthdate_invalid"], id="birthdate_missing"),
    pytest.param(row(tanggal_lahir="31/02/1980"), ["birthdate_invalid"], id="birthdate_31_february"),
    pytest.param(row(tanggal_lahir="12/13/1980"), ["birthdate_invalid"], id="birthdate_month_first"),
    pytest.param(row(tanggal_lahir="kemarin"), ["birthdate_invalid"], id="birthdate_text"),
    # Digits of other scripts are no date (and must not crash the parser: found by the property test).
    pytest.param(row(tanggal_lahir="١٢-٠٥-١٩٨٠"), ["birthdate_invalid"], id="birthdate_arabic_digits"),
    pytest.param(row(tanggal_lahir=None, ttl="Kapuas 62000000000߈0000"), ["birthdate_invalid"], id="ttl_nko_digit"),
    pytest.param(row(tanggal_lahir="12-05-2030"), ["birthdate_invalid"], id="birthdate_in_future"),
    pytest.param(row(tanggal_lahir=None, ttl="Kuala Kapuas"), ["birthdate_invalid"], id="ttl_without_date"),
    # Age on the run date, 18-65 by default: flagged, not rejected.
    pytest.param(row(nik="6203011205500003", tanggal_lahir="12-05-1950"), ["age_out_of_range"], id="age_76"),
    pytest.param(row(nik="6203011205100003", tanggal_lahir="12-05-2010"), ["age_out_of_range"], id="age_16"),
    pytest.param(row(nik="6203012711080003", tanggal_lahir="27-11-2008"), [], id="age_18_today"),
    pytest.param(row(nik="6203012811080003", tanggal_lahir="28-11-2008"), ["age_out_of_range"], id="age_18_tomorrow"),
    # Sex
    pytest.param(row(jenis_kelamin="Laki-laki"), [], id="sex_laki_laki"),
    pytest.param(row(jenis_kelamin="lk"), [], id="sex_lk"),
    pytest.param(row(nik="6203015205800003", jenis_kelamin="PR"), [], id="sex_pr"),
    pytest.param(row(jenis_kelamin="X"), ["sex_invalid"], id="sex_invalid"),
    pytest.param(row(jenis_kelamin="1"), ["sex_invalid"], id="sex_numeric_code"),
    pytest.param(row(jenis_kelamin=None), ["sex_from_nik"], id="sex_from_nik"),
    # No sex and a NIK that says nothing: the NIK's own error is the only message.
    pytest.param(row(jenis_kelamin=None, nik="12345"), ["nik_format"], id="sex_absent_bad_nik"),
    # Village: exact names after normalisation, within the kecamatan when given, codes in either form.
    pytest.param(row(desa="Sungai Pasah", kecamatan=None), [], id="village_sei_is_sungai"),
    pytest.param(row(desa="SEI PASAH.", kecamatan="kapuas hilir"), [], id="village_case_punctuation"),
    pytest.param(row(desa="6203021005", kecamatan=None), [], id="village_code_undotted"),
    pytest.param(row(desa="62.03.02.1005", kecamatan=None), [], id="village_code_dotted"),
    pytest.param(row(desa="Palingkau Baru", kecamatan=None), [], id="village_palingkau"),
    pytest.param(row(desa="Palingkau", kecamatan=None), ["village_unknown"], id="village_prefix_only"),
    pytest.param(row(desa="Palingkau Barru", kecamatan=None), ["village_unknown"], id="village_typo_not_fuzzy"),
    pytest.param(row(desa="Sidomulyo", kecamatan=None), ["village_unknown"], id="village_ambiguous"),
    pytest.param(row(desa="Sidomulyo", kecamatan="Tamban Catur"), [], id="village_within_kecamatan"),
    pytest.param(row(desa="Sei Pasah", kecamatan="Mantangai"), ["village_unknown"], id="village_wrong_kecamatan"),
    pytest.param(row(desa="Karetau Mantaa", kecamatan=None), [], id="village_apostrophe"),
    pytest.param(row(desa="6203029999", kecamatan=None), ["village_unknown"], id="village_code_not_listed"),
]


@pytest.fixture(scope="module")
def verdicts() -> dict[str, list[str]]:
    """Every case in one validation (GX costs a fixed half second per call), each row in a file of its own."""
    found = reasons([case.values[0] for case in CASES], one_file_each=True)
    return {str(case.id): codes for case, codes in zip(CASES, found, strict=True)}


@pytest.mark.parametrize(("given", "expected"), CASES)
def test_row_rule(given: dict[str, Any], expected: list[str], verdicts: dict[str, list[str]], request: Any) -> None:
    case_id = request.node.callspec.id
    assert verdicts[case_id] == expected, given


def test_palingkau_and_palangkau_resolve_to_different_villages() -> None:
    prepared = prepare_rows(
        raw_rows([row(desa="Palingkau Baru", kecamatan=None), row(desa="Palangkau Baru", kecamatan=None)]),
        VILLAGES,
        RUN,
    )
    assert prepared["kode_desa"].to_list() == ["62.03.07.1001", "62.03.07.2010"]


def test_without_a_village_column_the_file_names_the_village() -> None:
    assert reasons([row(desa=None, kecamatan=None)], file_kode_desa="62.03.02.1005") == [[]]
    assert reasons([row(desa=None, kecamatan=None)]) == [["village_unknown"]]


def test_sex_from_nik_reads_day_above_40_as_female() -> None:
    rows = [row(jenis_kelamin=None), row(nik="6203015205800003", jenis_kelamin=None)]
    prepared = prepare_rows(raw_rows(rows), VILLAGES, RUN)
    assert prepared["sex"].to_list() == ["L", "P"]
    assert reasons(rows) == [["sex_from_nik"], ["sex_from_nik"]]


def test_one_nik_on_rows_with_different_names_rejects_all_of_them() -> None:
    rows = [row(), row(nama="Siti Aminah", jenis_kelamin=None), row(nik="6203011205800004")]
    # The NIK is shared, so its date and sex are not read as the second person's: only nik_shared.
    assert reasons(rows) == [["nik_shared"], ["nik_shared"], []]


def test_the_same_person_twice_is_not_a_shared_nik() -> None:
    # Same NIK and the same name (spelled with a title): a duplicate, decided later, not a rule failure.
    assert reasons([row(), row(nama="BUDI SANTOSO")]) == [[], []]


def test_the_eligible_ages_come_from_the_run_parameters() -> None:
    assert reasons([row()], ages={"age_min": 18, "age_max": 40}) == [["age_out_of_range"]]


def test_several_rules_fire_on_one_row() -> None:
    assert reasons([row(nik="9903011205800003", nama=None, jenis_kelamin="?", desa="Atlantis")]) == [
        ["name_missing", "nik_region", "sex_invalid", "village_unknown"]
    ]


DOCUMENTED = {
    "nik_missing": "E",
    "nik_format": "E",
    "nik_precision_lost": "E",
    "nik_region": "E",
    "nik_date": "E",
    "nik_shared": "E",
    "nik_birthdate_mismatch": "W",
    "name_missing": "E",
    "birthdate_invalid": "E",
    "age_out_of_range": "W",
    "sex_invalid": "E",
    "sex_from_nik": "W",
    "village_unknown": "E",
}


def test_every_documented_reason_is_one_expectation_with_its_level_and_bahasa_messages() -> None:
    expectations = suite_definition("submission_rows")["expectations"]
    levels = {e["meta"]["reason"]: e["meta"]["level"] for e in expectations}
    assert levels == DOCUMENTED
    for expectation in expectations:
        assert expectation["meta"]["pesan"].strip() and expectation["meta"]["perbaikan"].strip(), expectation


def test_failures_carry_the_message_of_the_expectation_that_failed() -> None:
    prepared = prepare_rows(raw_rows([row(tanggal_lahir="12-05-2030")]), VILLAGES, RUN)
    failures = validate("submission_rows", prepared.select(SUBMISSION_CHECK_COLUMNS), AGES).failures
    assert failures.select("reason", "level", "pesan").rows() == [
        ("birthdate_invalid", "E", "Tanggal lahir di masa depan.")
    ]
