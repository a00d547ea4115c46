from datetime import date, datetime
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from cakupan.reconcile import DECISIONS, DECISIONS_SCHEMA, member_states, reconcile, resolve_member_duplicates
from cakupan.settings import load_rules
from cakupan.worklists import (
    GRACE_COLUMNS,
    REGISTRATION_COLUMNS,
    REVIEW_COLUMNS,
    grace_list,
    neutralise_formulas,
    registration_list,
    review_queue,
    write_csv,
    write_lists,
    write_xlsx,
)

RUN = date(2026, 11, 27)
RULES = load_rules()
VILLAGES = pl.DataFrame(
    {
        "kode_desa": ["62.03.01.2001", "62.03.07.1002"],
        "nama_desa": ["Anjir Kalampan", "Palingkau Lama"],
        "kode_kecamatan": ["62.03.01", "62.03.07"],
        "nama_kecamatan": ["Selat", "Kapuas Murung"],
        "kuota": [10, 10],
    }
)


def listed(*rows: dict[str, object]) -> pl.DataFrame:
    base = {
        "birth_date": date(1980, 5, 17),
        "sex": "L",
        "kode_desa": "62.03.01.2001",
        "kode_kecamatan": "62.03.01",
        "pekerjaan": "PETANI/PEKEBUN",
        "alamat": "Jl. Pemuda RT 02",
        "no_hp": "0812-5000-1234",
        "source_file": "6203012001_anjir_kalampan.xlsx",
        "source_row": 5,
        "birth_place": "Kuala Kapuas",
    }
    return pl.DataFrame([{**base, **r} for r in rows])


def exported(*rows: dict[str, object]) -> pl.DataFrame:
    base = {
        "tgl_lahir": date(1980, 5, 17),
        "tgl_kepesertaan": date(2025, 3, 1),
        "tgl_berakhir": date(2026, 12, 31),
        "masa_grace": None,
        "status": "AKTIF",
        "pembayar": "PEMKAB KAPUAS",
        "segmen": "SA",
    }
    frame = pl.DataFrame(
        [{**base, **r} for r in rows],
        schema_overrides={c: pl.Date for c in ("tgl_lahir", "tgl_kepesertaan", "tgl_berakhir", "masa_grace")},
    )
    states = member_states(frame, RUN, grace_months=3, regency_payer="PEMKAB KAPUAS", regency_segment="SA")
    return resolve_member_duplicates(states)[0]


@pytest.fixture(scope="module")
def result() -> pl.DataFrame:
    people = listed(
        {"nik": "6203011705800003", "nama": "Ahmad Yani"},  # active
        {"nik": "6203015505800011", "nama": "Siti Aminah", "sex": "P", "source_row": 6},  # grace, ends 2027-01-31
        {"nik": "6203011204750021", "nama": "Budi Santoso", "birth_date": date(1975, 4, 12)},  # grace, ends 2026-12-31
        {"nik": "6203011705800037", "nama": "Rina Marlina", "source_row": 8},  # identity_conflict
        {"nik": "6203011705800045", "nama": "Yusuf Hamid", "source_row": 9},  # probable_match (digit 16)
        {"nik": "6203011705800053", "nama": '=HYPERLINK("x")', "kode_desa": "62.03.07.1002"},  # not_enrolled
        {"nik": "6203011705800061", "nama": "Dewi Lestari", "no_hp": "+62 812 5000 9999"},  # rejected pair
    )
    members = exported(
        {"nik": "6203011705800003", "kpj": "10000000001", "nama": "AHMAD YANI"},
        {"nik": "6203015505800011", "kpj": "10000000002", "nama": "SITI AMINAH", "tgl_berakhir": date(2026, 10, 31)},
        {
            "nik": "6203011204750021",
            "kpj": "10000000003",
            "nama": "BUDI SANTOSO",
            "tgl_lahir": date(1975, 4, 12),
            "tgl_berakhir": date(2026, 9, 30),
            "masa_grace": date(2026, 12, 31),
            "pembayar": "PT SAWIT JAYA",
            "segmen": "PU",
        },
        {"nik": "6203011705800037", "kpj": "10000000004", "nama": "JOKO SUSILO"},
        {"nik": "6203011705800046", "kpj": "10000000005", "nama": "YUSUF HAMID"},
        {"nik": "6203011705800016", "kpj": "10000000006", "nama": "DEWI LESTARI"},
    )
    decided = pl.DataFrame(
        [("6203011705800061", "10000000006", "different_person", "Rina", datetime(2026, 11, 20))],
        schema=DECISIONS_SCHEMA,
        orient="row",
    )
    return reconcile(people, members, RULES, decided)


def test_the_case_covers_every_list(result: pl.DataFrame) -> None:
    statuses = dict(zip(result["nik"], result["status"].cast(pl.String), strict=True))
    assert statuses == {
        "6203011705800003": "active",
        "6203015505800011": "grace",
        "6203011204750021": "grace",
        "6203011705800037": "identity_conflict",
        "6203011705800045": "probable_match",
        "6203011705800053": "not_enrolled",
        "6203011705800061": "not_enrolled",
        "6203011705800016": "enrolled_not_submitted",  # the rejected near member, paid by the regency
    }


def test_review_queue_shows_both_sides_of_every_pair_to_decide(result: pl.DataFrame) -> None:
    queue = review_queue(result, VILLAGES, name_match_min=RULES.name_match_min)
    assert queue.columns == list(REVIEW_COLUMNS)
    assert queue.select("status", "nik", "kpj", "member_nik", "nama_desa", "source_row").rows() == [
        ("identity_conflict", "6203011705800037", "10000000004", "6203011705800037", "Anjir Kalampan", 8),
        ("probable_match", "6203011705800045", "10000000005", "6203011705800046", "Anjir Kalampan", 9),
    ]
    conflict, near = queue["reason"].to_list()
    assert conflict.startswith("NIK sama, nama berbeda") and "< 0.80" in conflict
    assert "beda satu digit (digit ke-16)" in near
    assert queue.select("member_nama", "member_tgl_lahir", "state", "pembayar").row(1) == (
        "YUSUF HAMID",
        date(1980, 5, 17),
        "covered",
        "PEMKAB KAPUAS",
    )
    # Left for the reviewer to fill in.
    assert queue.select("decision", "decided_by", "decided_at").null_count().row(0) == (2, 2, 2)


def test_review_reason_names_a_transposition() -> None:
    people = listed({"nik": "6203011705800003", "nama": "Ahmad Yani"})
    members = exported({"nik": "6203011705800030", "kpj": "10000000007", "nama": "AHMAD YANI"})
    queue = review_queue(reconcile(people, members, RULES), VILLAGES, name_match_min=RULES.name_match_min)
    assert "dua digit bertukar (digit ke-15 dan 16)" in queue["reason"].item()


def test_registration_list_holds_the_not_enrolled_in_a_bulk_layout(result: pl.DataFrame) -> None:
    registration = registration_list(result, VILLAGES, region_name="Kabupaten Kapuas")
    assert registration.columns == list(REGISTRATION_COLUMNS)
    # Sorted by village: Anjir Kalampan (62.03.01.2001) before Palingkau Lama (62.03.07.1002).
    first, second = registration.rows(named=True)
    assert (first["NO"], first["NIK"], first["NAMA"], first["DESA_KELURAHAN"]) == (
        1,
        "6203011705800061",
        "Dewi Lestari",
        "ANJIR KALAMPAN",
    )
    assert (first["TEMPAT_LAHIR"], first["TGL_LAHIR"], first["JENIS_KELAMIN"]) == (
        "Kuala Kapuas",
        date(1980, 5, 17),
        "L",
    )
    assert (first["NO_HP"], first["PEKERJAAN"], first["PROGRAM"]) == (
        "+6281250009999",
        "PETANI/PEKEBUN",
        "JKK, JKM",
    )
    assert first["CATATAN"] == "hasil review: bukan peserta KPJ 10000000006"
    assert (second["NO"], second["KODE_DESA"], second["KECAMATAN"], second["CATATAN"]) == (
        2,
        "62.03.07.1002",
        "KAPUAS MURUNG",
        None,
    )


def test_grace_list_is_soonest_end_first_with_days_left(result: pl.DataFrame) -> None:
    grace = grace_list(result, VILLAGES, RUN)
    assert grace.columns == list(GRACE_COLUMNS)
    assert grace.select("NO", "NIK", "KPJ", "AKHIR_MASA_GRACE", "SISA_HARI", "DIBAYAR_PEMKAB").rows() == [
        # The export's own MASA_GRACE (31 Dec) comes before end of protection + 3 months (31 Jan).
        (1, "6203011204750021", "10000000003", date(2026, 12, 31), 34, "TIDAK"),
        (2, "6203015505800011", "10000000002", date(2027, 1, 31), 65, "YA"),
    ]
    assert grace["TGL_BERAKHIR"].to_list() == [date(2026, 9, 30), date(2026, 10, 31)]


def test_formula_like_text_is_neutralised_but_phone_numbers_are_not() -> None:
    frame = pl.DataFrame({"t": ["=1+2", "@SUM(A1)", "-cmd", "+62 812-5000", "-5", "Ahmad", None], "n": range(7)})
    assert neutralise_formulas(frame)["t"].to_list() == [
        "'=1+2",
        "'@SUM(A1)",
        "'-cmd",
        "+62 812-5000",
        "-5",
        "Ahmad",
        None,
    ]


def test_xlsx_keeps_identifiers_as_text_and_dates_as_dates(result: pl.DataFrame, tmp_path: Path) -> None:
    registration = registration_list(result, VILLAGES, region_name="Kabupaten Kapuas")
    path = write_xlsx(registration, tmp_path / "registration.xlsx", sheet="pendaftaran", run_date=RUN, notes=["x"])
    sheet = openpyxl.load_workbook(path)["pendaftaran"]
    header = [c.value for c in sheet[1]]
    assert header == list(REGISTRATION_COLUMNS)
    cells = {name: sheet.cell(row=3, column=i + 1) for i, name in enumerate(header)}
    for name in ("NIK", "NO_HP", "KODE_DESA"):
        assert cells[name].data_type == "s", name
    assert cells["NIK"].value == "6203011705800053"
    # The hand-typed formula arrives as text, never as a live formula.
    assert cells["NAMA"].data_type == "s" and cells["NAMA"].value == '\'=HYPERLINK("x")'
    assert cells["TGL_LAHIR"].is_date and cells["TGL_LAHIR"].value == datetime(1980, 5, 17)
    assert cells["NO"].value == 2
    assert sheet.freeze_panes == "A2"


def test_review_xlsx_offers_the_decisions_and_reruns_write_the_same_bytes(result: pl.DataFrame, tmp_path: Path) -> None:
    queue = review_queue(result, VILLAGES, name_match_min=RULES.name_match_min)
    first = write_xlsx(
        queue, tmp_path / "a" / "review.xlsx", sheet="review", run_date=RUN, choices={"decision": DECISIONS}
    )
    again = write_xlsx(
        queue, tmp_path / "b" / "review.xlsx", sheet="review", run_date=RUN, choices={"decision": DECISIONS}
    )
    assert first.read_bytes() == again.read_bytes()
    sheet = openpyxl.load_workbook(first)["review"]
    (validation,) = sheet.data_validations.dataValidation
    assert validation.formula1 == '"same_person,different_person"'
    assert str(validation.sqref) == "R2:R3"


def test_empty_lists_are_still_written_with_their_header(tmp_path: Path) -> None:
    empty = pl.DataFrame(schema={name: pl.String for name in REVIEW_COLUMNS})
    sheet = openpyxl.load_workbook(write_xlsx(empty, tmp_path / "review.xlsx", sheet="review", run_date=RUN))["review"]
    assert [c.value for c in sheet[1]] == list(REVIEW_COLUMNS)
    assert sheet.max_row == 1


def test_csv_keeps_every_digit_and_writes_dates_day_first(result: pl.DataFrame, tmp_path: Path) -> None:
    grace = grace_list(result, VILLAGES, RUN)
    text = write_csv(grace, tmp_path / "grace.csv").read_text(encoding="utf-8")
    assert text.splitlines()[0] == ",".join(GRACE_COLUMNS)
    assert text.splitlines()[1].startswith("1,6203011204750021,10000000003,Budi Santoso,12-04-1975,62.03.01.2001,")
    back = pl.read_csv(tmp_path / "grace.csv", infer_schema=False)
    assert back["NIK"].to_list() == grace["NIK"].to_list()


def test_a_list_longer_than_a_sheet_continues_on_further_sheets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("cakupan.worklists.EXCEL_ROWS", 4)  # a header and three people per sheet
    people = pl.DataFrame({"NIK": [f"620301170580{i:04d}" for i in range(7)], "Nama": [f"Orang {i}" for i in range(7)]})
    book = openpyxl.load_workbook(write_xlsx(people, tmp_path / "r.xlsx", sheet="pendaftaran", run_date=RUN))
    assert book.sheetnames == ["pendaftaran", "pendaftaran (2)", "pendaftaran (3)"]
    rows = [row for name in book.sheetnames for row in list(book[name].values)[1:]]
    assert [row[0] for row in rows] == people["NIK"].to_list()
    assert all(next(book[name].values) == ("NIK", "Nama") for name in book.sheetnames)


def test_the_lists_are_written_from_a_runs_persons_file(result: pl.DataFrame, tmp_path: Path) -> None:
    result.write_parquet(tmp_path / "persons.parquet")
    folders = {name: tmp_path / name for name in ("review", "registration", "grace")}
    counts = write_lists(
        tmp_path / "persons.parquet",
        VILLAGES,
        RUN,
        name_match_min=RULES.name_match_min,
        region_name="Kabupaten Kapuas",
        **folders,
    )
    # identity_conflict and probable_match to review; the two not_enrolled to register; the two in grace.
    assert counts == {"review": 2, "registration": 2, "grace": 2}
    registered = pl.read_csv(folders["registration"] / "registration.csv", infer_schema=False)
    assert sorted(registered["NIK"]) == ["6203011705800053", "6203011705800061"]
    assert openpyxl.load_workbook(folders["review"] / "review.xlsx")["review"].max_row == 3  # header and two pairs
    assert (folders["grace"] / "grace.csv").is_file() and (folders["grace"] / "grace.xlsx").is_file()
