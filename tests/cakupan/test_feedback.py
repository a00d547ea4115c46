"""Village feedback workbooks, from small submission folders written in the test through the real pipeline steps."""

from __future__ import annotations

import csv
import zipfile
from datetime import date
from pathlib import Path

import polars as pl
import pytest
import python_calamine

from cakupan.feedback import feedback_files, feedback_path, feedback_rows, neutralise, write_feedback
from cakupan.settings import load_rules
from tasks.ingest import read_folder
from tasks.validate import check_rows
from tests.expectations.test_submission_rules import VILLAGES

RUN = date(2026, 11, 27)
HEADER = ["No", "NIK", "Nama", "Tgl Lahir", "L/P", "Desa"]
GOOD = ["1", "6203011205800003", "Budi Santoso", "12-05-1980", "L", "Sei Pasah"]


def write_csv(folder: Path, name: str, rows: list[list[str]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / name).open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([HEADER, *rows])


def run_feedback(submissions: Path, out: Path) -> list[Path]:
    files, raw = read_folder(submissions, "Asia/Jakarta")
    files, rows, result = check_rows(raw, files, VILLAGES, RUN, load_rules())
    return write_feedback(feedback_rows(rows, files, result.failures), feedback_files(files), VILLAGES, out, RUN)


def sheet(path: Path, name: str) -> list[list[object]]:
    return python_calamine.CalamineWorkbook.from_path(str(path)).get_sheet_by_name(name).to_python()


def table(path: Path, name: str = "Baris bermasalah", header_row: int = 5) -> list[dict[str, object]]:
    rows = sheet(path, name)
    header = [str(c) for c in rows[header_row]]
    return [dict(zip(header, r, strict=False)) for r in rows[header_row + 1 :]]


@pytest.fixture(scope="module")
def feedback(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("feedback")
    submissions = root / "submissions"
    write_csv(
        submissions,
        "6203021005_Sei_Pasah_2026-11-20.csv",
        [
            GOOD,  # clean: not listed
            ["2", "6203011205800004", '=HYPERLINK("http://x","klik")', "12-05-1980", "X", "Sei Pasah"],
            ["3", "62030112058", "Siti Aminah", "12-05-1980", "P", "Sei Pasah"],  # rejected: nik_format
            ["4", "6203011205800005", "Ani", "12-05-1980", "", "Sei Pasah"],  # flagged: sex_from_nik
            ["5", "6203011205800005", "Ani", "12-05-1980", "", "Sei Pasah"],  # the same person again
            ["6", "6203011205800006", "@Rudi", "12-05-1980", "L", "+62 Sei Pasah"],  # unknown village
            ["7", "6203011205800007", "Joko", "12-05-1980", "L", "Sei Pasah"],
            ["8", "6203011205800008", "Wati", "12-05-1980", "L", "Sei Pasah"],
        ],
    )
    # Same NIK as Budi, sent later by another village: a duplicate across villages there.
    write_csv(submissions, "6203071001_Palingkau_Baru_2026-11-21.csv", [[*GOOD[:5], "Palingkau Baru"]])
    # A clean village gets no workbook.
    write_csv(submissions, "6203072010_2026-11-21.csv", [["1", "6203011205800009", "Dedi", "12-05-1980", "L", ""]])
    (submissions / "6203150000_rusak.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")  # unknown village code
    (submissions / "6203152004_Karetau_2026-11-22.xlsx").write_bytes(b"PK\x03\x04 broken")
    out = root / "feedback"
    run_feedback(submissions, out)
    return out


def test_one_workbook_per_village_with_something_to_fix(feedback: Path) -> None:
    assert sorted(p.name for p in feedback.iterdir()) == [
        "62.03.02.1005_Sei_Pasah.xlsx",
        "62.03.07.1001_Palingkau_Baru.xlsx",
        "62.03.15.2004_Karetau_Mantaa.xlsx",
        "desa_tidak_diketahui.xlsx",  # a code on no list names no village: the Dinas follows it up
    ]


def test_rows_are_listed_as_sent_with_their_problems_in_bahasa(feedback: Path) -> None:
    rows = {r["Baris"]: r for r in table(feedback / "62.03.02.1005_Sei_Pasah.xlsx")}
    assert sorted(rows) == [3.0, 4.0, 5.0, 6.0, 7.0]  # Baris 2, 8 and 9 are fine
    assert rows[4.0]["NIK"] == "62030112058"
    assert rows[4.0]["Status"] == "Ditolak"
    assert rows[4.0]["Kode masalah"] == "nik_format"
    assert rows[4.0]["Masalah"] == "NIK tidak 16 digit angka."
    assert "16 digit" in str(rows[4.0]["Yang harus dilakukan"])
    assert rows[5.0]["Status"] == "Diterima, mohon diperiksa"
    assert rows[5.0]["Kode masalah"] == "sex_from_nik"
    assert rows[6.0]["Status"] == "Ganda dalam berkas"
    assert "baris lain" in str(rows[6.0]["Masalah"])
    assert rows[7.0]["Kode masalah"] == "village_unknown"
    assert rows[7.0]["Desa/Kelurahan"] == "'+62 Sei Pasah"  # as sent, neutralised
    assert rows[7.0]["Nama"] == "'@Rudi"
    assert rows[3.0]["Nama"] == '\'=HYPERLINK("http://x","klik")'
    assert rows[3.0]["Kode masalah"] == "sex_invalid"
    # No column the village left empty everywhere, and the village's "No" column is not ours to echo.
    assert "Kecamatan" not in rows[3.0] and "No" not in rows[3.0]


def test_nothing_in_a_workbook_is_a_formula(feedback: Path) -> None:
    for path in feedback.iterdir():
        with zipfile.ZipFile(path) as book:
            for name in book.namelist():
                assert b"<f>" not in book.read(name), (path.name, name)


def test_a_duplicate_across_villages_is_explained_to_the_later_village(feedback: Path) -> None:
    (only,) = table(feedback / "62.03.07.1001_Palingkau_Baru.xlsx")
    assert only["Status"] == "Sudah diusulkan desa lain"
    assert only["Kode masalah"] == "duplicate_across_villages"


def test_file_rejections_are_reported_with_what_to_do(feedback: Path) -> None:
    path = feedback / "62.03.15.2004_Karetau_Mantaa.xlsx"
    assert sheet(path, "Baris bermasalah")[6][0] == "Tidak ada baris yang dapat dibaca; lihat lembar Berkas."
    (broken,) = table(path, "Berkas", header_row=3)
    assert broken["Berkas"] == "6203152004_Karetau_2026-11-22.xlsx"
    assert broken["Status"] == "Ditolak"
    assert str(broken["Keterangan"]).startswith("Berkas tidak dapat dibaca")
    assert str(broken["Yang harus dilakukan"]).startswith("Simpan ulang")
    title = sheet(path, "Berkas")[1][0]
    assert title == "Desa/Kelurahan Karetau Manta'a (62.03.15.2004), Kecamatan Mandau Talawang"


def test_the_file_sheet_lists_every_file_of_the_village(feedback: Path) -> None:
    (sent,) = table(feedback / "62.03.02.1005_Sei_Pasah.xlsx", "Berkas", header_row=3)
    assert sent["Status"] == "Dipakai" and sent["Tanggal berkas"] == "20-11-2026 00:00"


def test_a_file_rejected_for_too_many_bad_rows_and_missing_columns(tmp_path: Path) -> None:
    submissions = tmp_path / "in"
    bad = [["1", "123", "Budi Santoso", "12-05-1980", "L", "Sei Pasah"]] * 2 + [GOOD]
    write_csv(submissions, "6203021005_2026-11-20.csv", bad)
    (submissions / "6203071001_2026-11-20.csv").write_text("NIK;Nama\n6203011205800003;Budi\n", encoding="utf-8")
    out = tmp_path / "out"
    run_feedback(submissions, out)
    (too_many,) = table(out / "62.03.02.1005_Sei_Pasah.xlsx", "Berkas", header_row=3)
    assert too_many["Status"] == "Ditolak" and too_many["Rincian"] == "67% baris ditolak"
    listed = table(out / "62.03.02.1005_Sei_Pasah.xlsx")
    assert [r["Kode masalah"] for r in listed] == ["too_many_rejected, nik_format"] * 2 + ["too_many_rejected"]
    (missing,) = table(out / "62.03.07.1001_Palingkau_Baru.xlsx", "Berkas", header_row=3)
    assert missing["Rincian"] == "Kolom tidak ditemukan: Tanggal Lahir/TTL"


def test_files_of_no_known_village_go_to_one_workbook_for_the_dinas(tmp_path: Path) -> None:
    submissions = tmp_path / "in"
    write_csv(submissions, "usulan.csv", [[*GOOD[:5], "Atlantis"]])
    out = tmp_path / "out"
    assert run_feedback(submissions, out) == [out / "desa_tidak_diketahui.xlsx"]
    (file_row,) = table(out / "desa_tidak_diketahui.xlsx", "Berkas", header_row=3)
    assert file_row["Berkas"] == "usulan.csv" and file_row["Status"] == "Ditolak"


def test_a_rerun_writes_the_same_bytes(tmp_path: Path, feedback: Path) -> None:
    submissions = feedback.parent / "submissions"
    again = tmp_path / "again"
    run_feedback(submissions, again)
    for path in feedback.iterdir():
        assert (again / path.name).read_bytes() == path.read_bytes(), path.name


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("=1+1", "'=1+1"),
        ("+6281234", "'+6281234"),
        ("-", "'-"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("Budi = Santoso", "Budi = Santoso"),
        (None, None),
    ],
)
def test_neutralise(text: str | None, shown: str | None) -> None:
    assert pl.DataFrame({"v": [text]}, schema={"v": pl.String}).select(neutralise(pl.col("v"))).item() == shown


@pytest.mark.parametrize(
    ("kode", "nama", "name"),
    [
        ("62.03.15.2004", "Karetau Manta'a", "62.03.15.2004_Karetau_Mantaa.xlsx"),
        ("62.03.12.2013", "Barunang II", "62.03.12.2013_Barunang_II.xlsx"),
        ("62.03.01.2001", None, "62.03.01.2001.xlsx"),
        (None, None, "desa_tidak_diketahui.xlsx"),
    ],
)
def test_feedback_path(kode: str | None, nama: str | None, name: str) -> None:
    assert feedback_path(Path("f"), kode, nama) == Path("f") / name
