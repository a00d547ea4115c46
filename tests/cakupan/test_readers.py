from __future__ import annotations

import csv
import io
import json
import re
import string
import tempfile
import zipfile
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest
import xlsxwriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from cakupan.readers import RawTable, read_bpjs_export, read_submission, scan_bpjs_export
from tests.xls import xls_bytes

SUBMISSION_COLUMNS = [
    "source_row",
    "nik",
    "nama",
    "tempat_lahir",
    "tanggal_lahir",
    "ttl",
    "jenis_kelamin",
    "desa",
    "kecamatan",
    "pekerjaan",
    "no_hp",
    "alamat",
    "nik_from_number",
    "extra",
]
BPJS_COLUMNS = [
    "source_row",
    "kpj",
    "nik",
    "nama",
    "tgl_lahir",
    "tgl_kepesertaan",
    "tgl_berakhir",
    "masa_grace",
    "status",
    "pembayar",
    "segmen",
    "jkk",
    "jkm",
    "jht",
    "nik_from_number",
    "kpj_from_number",
    "extra",
]

Cell = str | int | float | date | None


def write_xlsx(
    path: Path,
    rows: Sequence[Sequence[Cell]],
    *,
    first_row: int = 0,
    title: str | None = None,
    sheets_before: Sequence[Sequence[Sequence[str]]] = (),
    number_formats: dict[int, str] | None = None,
) -> Path:
    """A workbook as a village makes one: cells keep their Python type (str -> text cell, int/float -> number,
    date -> date cell); None and "" are left empty. `rows` start at sheet row `first_row` (0-based); `title`
    is merged over the first columns of row 0; `sheets_before` are sheets (of text rows) in front of it;
    `number_formats` gives columns a number format (column -> format)."""
    workbook = xlsxwriter.Workbook(str(path))
    for number, sheet_rows in enumerate(sheets_before):
        sheet = workbook.add_worksheet(f"Petunjuk {number + 1}")
        for r, row in enumerate(sheet_rows):
            for c, text in enumerate(row):
                sheet.write_string(r, c, text)
    sheet = workbook.add_worksheet("Data")
    as_date = workbook.add_format({"num_format": "dd/mm/yyyy"})
    if title is not None:
        sheet.merge_range(0, 0, 0, 4, title)
    for r, row in enumerate(rows, start=first_row):
        for c, cell in enumerate(row):
            if cell is None or cell == "":
                continue
            if isinstance(cell, str):
                sheet.write_string(r, c, cell)
            elif isinstance(cell, date):
                sheet.write_datetime(r, c, datetime(cell.year, cell.month, cell.day), as_date)
            elif number_formats and c in number_formats:
                sheet.write_number(r, c, cell, workbook.add_format({"num_format": number_formats[c]}))
            else:
                sheet.write_number(r, c, cell)
    workbook.close()
    return path


def write_csv(path: Path, rows: Sequence[Sequence[str]], *, delimiter: str = ",", encoding: str = "utf-8") -> Path:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def records(table: RawTable, *columns: str) -> list[tuple[object, ...]]:
    return table.rows.select(columns).rows()


# ---------------------------------------------------------------------------------------------- xlsx


def test_xlsx_with_a_title_block_keeps_cell_types_and_sheet_row_numbers(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "6203012011_2026-03-01.xlsx",
        [
            ["Kecamatan: Selat"],  # one known word in the title block is not a header row
            [],
            ["No", "NIK", "Nama", "Tgl Lahir", "JK", "Desa"],  # sheet row 5
            [1, "6203010101900001", "Ani", "12-05-1980", "P", "Pulau Telo"],  # NIK as text
            [
                2,
                6203010102971480,
                "Budi",
                date(1980, 5, 12),
                "L",
                "Pulau Telo",
            ],  # NIK as a number, a date cell
            [],  # a blank row inside the list is skipped, not a data row
            [3, "'6203010101900002", "  Citra  ", 29221, "P", None],  # a serial typed as a number
            [4, None, None, None, None, None, "catatan"],  # a note right of the table is a data row
        ],
        first_row=2,
        title="DAFTAR PEKERJA RENTAN DESA PULAU TELO",
    )
    table = read_submission(path)

    assert table.error is None and table.error_detail is None
    assert table.rows.columns == SUBMISSION_COLUMNS
    assert table.rows.schema["source_row"] == pl.Int64 and table.rows.schema["nik_from_number"] == pl.Boolean
    assert table.headers == {
        "nik": "NIK",
        "nama": "Nama",
        "tanggal_lahir": "Tgl Lahir",
        "jenis_kelamin": "JK",
        "desa": "Desa",
    }
    assert records(table, "source_row", "nik", "nama", "tanggal_lahir", "nik_from_number", "extra") == [
        (6, "6203010101900001", "Ani", "12-05-1980", False, '{"No":"1"}'),
        # The numeric cell renders without ".0" and is flagged: Excel may have cut its 16th digit.
        (7, "6203010102971480", "Budi", "1980-05-12", True, '{"No":"2"}'),
        (9, "'6203010101900002", "Citra", "29221", False, '{"No":"3"}'),
        (10, None, None, None, False, '{"No":"4","column G":"catatan"}'),
    ]
    assert table.rows["ttl"].to_list() == [None] * 4  # an absent column is a null column


def test_xlsx_sheet_is_the_first_with_a_nik_or_nama_header(tmp_path: Path) -> None:
    instructions = [["Petunjuk pengisian"], ["Desa", "Kecamatan"], ["isi satu baris per orang"]]
    path = write_xlsx(
        tmp_path / "list.xlsx",
        [["NIK", "Nama", "TTL"], ["6203010101900001", "Ani", "Kuala Kapuas, 12-05-1980"]],
        sheets_before=[instructions],
    )
    table = read_submission(path)
    assert table.error is None
    assert records(table, "source_row", "nik", "ttl") == [(2, "6203010101900001", "Kuala Kapuas, 12-05-1980")]


def test_xlsx_header_with_notes_in_brackets_and_duplicate_unknown_headers(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "list.xlsx",
        [
            ["NIK (16 digit)", "Nama", "Tanggal Lahir (dd-mm-yyyy)", "Ket", "Ket", None],
            ["6203010101900001", "Ani", "12-05-1980", "a", 'b "c"', "d"],
        ],
    )
    table = read_submission(path)
    assert table.error is None
    assert table.headers["tanggal_lahir"] == "Tanggal Lahir (dd-mm-yyyy)"
    assert json.loads(table.rows["extra"].item()) == {"Ket": "a", "Ket (2)": 'b "c"', "column F": "d"}


def test_xlsx_row_with_an_unreadable_cell_is_kept_with_its_reason(tmp_path: Path) -> None:
    # A NIK typed into a duration-formatted column is a timedelta Python cannot hold: calamine fails on it.
    path = write_xlsx(
        tmp_path / "list.xlsx",
        [
            ["NIK", "Nama", "Tgl Lahir"],
            ["6203010101900001", "Ani", "12-05-1980"],
            [None, "Budi", 6203010101900001],
        ],
        number_formats={2: "[h]:mm"},
    )
    table = read_submission(path)
    assert table.error is None
    assert records(table, "source_row", "nama") == [(2, "Ani"), (3, None)]
    assert "could not be read" in json.loads(table.rows["extra"][1])["_error"]


def test_xls_extension_with_xlsx_content_is_read_by_its_content(tmp_path: Path) -> None:
    source = write_xlsx(tmp_path / "a.xlsx", [["NIK", "Nama", "Tgl Lahir"], ["6203010101900001", "Ani", "x"]])
    renamed = tmp_path / "list.xls"
    renamed.write_bytes(source.read_bytes())
    assert read_submission(renamed).rows.height == 1


def test_a_real_xls_workbook_keeps_cell_types_title_rows_and_sheet_row_numbers(tmp_path: Path) -> None:
    """Excel 97-2003 (BIFF8), as old office PCs still save it; python-calamine reads it like an xlsx."""
    path = tmp_path / "usulan.xls"
    path.write_bytes(
        xls_bytes(
            [
                ["DAFTAR USULAN PEKERJA RENTAN", None, None, None],
                [],
                ["No", "NIK", "Nama", "Tgl Lahir"],
                [1, "6203011205800003", "Budi", date(1980, 5, 12)],  # NIK typed as text, a date cell
                [2, 6203011205800004, "Siti", "12-05-1980"],  # NIK typed as a number: flagged, never repaired
                [],
                [3, "6203011205800005", "Ani", 29353],  # a serial number
            ]
        )
    )
    assert path.read_bytes().startswith(b"\xd0\xcf\x11\xe0")  # an OLE2 file, not an xlsx renamed
    table = read_submission(path)
    assert table.error is None
    assert records(table, "source_row", "nik", "nama", "tanggal_lahir", "nik_from_number", "extra") == [
        (4, "6203011205800003", "Budi", "1980-05-12", False, '{"No":"1"}'),
        (5, "6203011205800004", "Siti", "12-05-1980", True, '{"No":"2"}'),
        (7, "6203011205800005", "Ani", "29353", False, '{"No":"3"}'),
    ]


def test_bpjs_export_with_a_program_group_header_and_numeric_kpj(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "bpjs.xlsx",
        [
            ["KPJ", "NIK", "NAMA", "TGL_LAHIR", "TGL_KEPESERTAAN", "TGL_BERAKHIR", "MASA_GRACE", "PROGRAM"],
            [None, None, None, None, None, None, None, "JHT", "JKK", "JKM"],  # under the merged PROGRAM
            [12345678901, "6203010101900001", "ANI", "12-MEI-80", 45717, "30-SEP-26", "31-DES-26", 0, 1, 1],
            ["12345678902", 6203010101900002, "BUDI", "01-JUL-55", 45717, "30-SEP-26", "31-DES-26", 0, 1, 1],
        ],
    )
    table = read_bpjs_export(path)
    assert table.error is None
    assert table.rows.columns == BPJS_COLUMNS
    assert table.headers["jkk"] == "JKK" and table.headers["jht"] == "JHT"
    assert records(table, "source_row", "kpj", "nik", "tgl_kepesertaan", "jht", "jkk", "jkm") == [
        (3, "12345678901", "6203010101900001", "45717", "0", "1", "1"),
        (4, "12345678902", "6203010101900002", "45717", "0", "1", "1"),
    ]
    assert records(table, "nik_from_number", "kpj_from_number") == [(False, True), (True, False)]
    assert table.rows["extra"].to_list() == [None, None]


# ---------------------------------------------------------------------------------------------- CSV

CSV_ROWS = [
    ["NIK", "Nama", "Tgl Lahir", "JK", "Alamat"],
    ["6203010101900001", "Siti Nur’aini", "12-05-1980", "P", "Jl. Pemuda; RT 01, RW 02"],
    ["6203010101900002", "Budi", "01-JUL-55", "L", ""],
]


@pytest.mark.parametrize(
    ("delimiter", "encoding"),
    [
        (";", "cp1252"),  # Excel on Indonesian Windows: ';' and Windows-1252 (’ is byte 0x92)
        (",", "utf-8-sig"),  # UTF-8 with a BOM
        (",", "utf-8"),
        ("\t", "utf-8"),
        ("|", "utf-8"),
        ("\t", "utf-16"),  # Excel's "Unicode text"
    ],
)
def test_csv_encodings_and_delimiters(tmp_path: Path, delimiter: str, encoding: str) -> None:
    path = write_csv(tmp_path / "list.csv", CSV_ROWS, delimiter=delimiter, encoding=encoding)
    table = read_submission(path)
    assert table.error is None
    assert table.rows.columns == SUBMISSION_COLUMNS
    assert records(table, "source_row", "nik", "nama", "tanggal_lahir", "alamat") == [
        (2, "6203010101900001", "Siti Nur’aini", "12-05-1980", "Jl. Pemuda; RT 01, RW 02"),
        (3, "6203010101900002", "Budi", "01-JUL-55", None),
    ]
    assert table.rows["nik_from_number"].to_list() == [False, False]


def test_csv_quotes_blank_lines_ragged_rows_and_title_lines(tmp_path: Path) -> None:
    text = (
        "DAFTAR PEKERJA RENTAN\n"  # row 1: a title line
        "\n"  # row 2
        "NIK,Nama,Tgl Lahir,Alamat\n"  # row 3: the header
        '6203010101900001,"Ani, S.Pd","12-05-1980","Jl. Mawar\nRT 01"\n'  # row 4 spans two lines
        "\n"  # row 5: blank, skipped
        ",,,\n"  # row 6: only delimiters, blank too
        "6203010101900002,Budi\n"  # row 7: short, padded
        "6203010101900003,Citra,01-01-1990,Jl. Melati,extra,cells\n"  # row 8: long, cut to the header
    )
    path = tmp_path / "list.csv"
    path.write_text(text, encoding="utf-8")
    table = read_submission(path)
    assert table.error is None
    assert records(table, "source_row", "nik", "nama", "tanggal_lahir", "alamat") == [
        (4, "6203010101900001", "Ani, S.Pd", "12-05-1980", "Jl. Mawar\nRT 01"),
        (7, "6203010101900002", "Budi", None, None),
        (8, "6203010101900003", "Citra", "01-01-1990", "Jl. Melati"),
    ]


@pytest.mark.parametrize(
    ("cell", "nama"),
    [
        ('"Ani" Lestari', "Ani Lestari"),  # text after a closing quote: Excel and the csv module join it
        ('Ani "Nani', 'Ani "Nani'),  # a lone quote inside an unquoted field is a character
    ],
)
def test_csv_quoting_that_polars_rejects_is_read_leniently(tmp_path: Path, cell: str, nama: str) -> None:
    path = tmp_path / "list.csv"
    path.write_text(f"NIK,Nama,Tgl Lahir\n6203010101900001,{cell},x\n6203010101900002,Budi,y\n")
    assert records(read_submission(path), "source_row", "nama") == [(2, nama), (3, "Budi")]


def test_csv_with_old_mac_line_ends(tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_bytes(b"NIK,Nama,Tgl Lahir\r6203010101900001,Ani,x\r\r6203010101900002,Budi,y\r")
    assert records(read_submission(path), "source_row", "nama") == [(2, "Ani"), (4, "Budi")]


@pytest.mark.parametrize(
    ("nik", "from_number"),
    [
        ("6203010101900001", False),
        ("6.20301E+15", True),  # Excel's scientific display saved into the CSV
        ("6,20301E+15", True),  # ... with an Indonesian decimal comma
        ("6203010101900001.0", True),  # a float written out by a script
        ("6203.0101.0190.0001", False),  # dots as digit groups are only typing
    ],
)
def test_csv_nik_that_went_through_a_number_is_flagged(tmp_path: Path, nik: str, from_number: bool) -> None:
    path = write_csv(tmp_path / "list.csv", [["NIK", "Nama", "Tgl Lahir"], [nik, "Ani", "12-05-1980"]])
    table = read_submission(path)
    assert records(table, "nik", "nik_from_number") == [(nik, from_number)]


def test_bpjs_csv_export(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "bpjs.csv",
        [
            ["KPJ", "NIK", "NAMA", "TGL_KEPESERTAAN", "TGL_BERAKHIR", "PEMBAYAR", "SEGMEN", "NO_HANDPHONE"],
            [
                "12345678901",
                "6203010101900001",
                "ANI",
                "01-MAR-25",
                "30-SEP-26",
                "PEMKAB KAPUAS",
                "SA",
                "0812",
            ],
        ],
    )
    table = read_bpjs_export(path)
    assert table.error is None and table.rows.columns == BPJS_COLUMNS
    assert table.rows.row(0, named=True) | {"extra": json.loads(table.rows["extra"].item())} == {
        "source_row": 2,
        "kpj": "12345678901",
        "nik": "6203010101900001",
        "nama": "ANI",
        "tgl_lahir": None,
        "tgl_kepesertaan": "01-MAR-25",
        "tgl_berakhir": "30-SEP-26",
        "masa_grace": None,
        "status": None,
        "pembayar": "PEMKAB KAPUAS",
        "segmen": "SA",
        "jkk": None,
        "jkm": None,
        "jht": None,
        "nik_from_number": False,
        "kpj_from_number": False,
        "extra": {"NO_HANDPHONE": "0812"},
    }


# ---------------------------------------------------------------------------------------------- bad files


def _truncated_xlsx(tmp_path: Path) -> bytes:
    data = write_xlsx(tmp_path / "full.xlsx", [["NIK", "Nama", "Tgl Lahir"], ["1", "a", "b"]]).read_bytes()
    return data[: len(data) // 2]


def _zip_without_workbook(tmp_path: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "not a workbook")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("empty.xlsx", lambda tmp: b""),
        ("empty.csv", lambda tmp: b""),
        ("blank.csv", lambda tmp: b" \r\n\r\n"),
        ("truncated.xlsx", _truncated_xlsx),
        ("zip.xlsx", _zip_without_workbook),
        ("ole.xls", lambda tmp: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(range(256)) * 8),
        ("random.xlsx", lambda tmp: bytes((i * 7919 + 13) % 256 for i in range(4096))),
        ("random.csv", lambda tmp: bytes((i * 7919 + 13) % 256 for i in range(4096))),
        ("letter.csv", lambda tmp: b"Dengan hormat, bersama ini kami kirimkan daftar pekerja rentan.\n"),
        ("no_header.xlsx", lambda tmp: write_xlsx(tmp / "n.xlsx", [["daftar"], ["1", "2"]]).read_bytes()),
    ],
)
def test_unreadable_files(tmp_path: Path, name: str, content: object) -> None:
    path = tmp_path / name
    path.write_bytes(content(tmp_path))  # type: ignore[operator]
    for read, columns in ((read_submission, SUBMISSION_COLUMNS), (read_bpjs_export, BPJS_COLUMNS)):
        table = read(path)
        assert table.error == "file_unreadable", table.error_detail
        assert table.error_detail
        assert table.rows.columns == columns and table.rows.height == 0
        assert table.headers == {}


def test_a_missing_file_or_a_folder_is_unreadable_not_an_exception(tmp_path: Path) -> None:
    assert read_submission(tmp_path / "gone.xlsx").error == "file_unreadable"
    assert read_submission(tmp_path).error == "file_unreadable"


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_without_a_nik_column_the_rows_are_still_returned(tmp_path: Path, suffix: str) -> None:
    rows = [["Nama", "Tgl Lahir"], ["Ani", "12-05-1980"], ["Budi", "01-07-1955"]]
    path = write_xlsx(tmp_path / "a.xlsx", rows) if suffix == ".xlsx" else write_csv(tmp_path / "a.csv", rows)
    table = read_submission(path)
    assert table.error == "column_missing"
    assert table.error_detail == "no NIK column (headers: Nama, Tgl Lahir)"
    assert records(table, "source_row", "nik", "nama") == [(2, None, "Ani"), (3, None, "Budi")]


def test_without_a_birth_date_column(tmp_path: Path) -> None:
    table = read_submission(write_csv(tmp_path / "a.csv", [["NIK", "Nama"], ["6203010101900001", "Ani"]]))
    assert table.error == "column_missing"
    assert table.error_detail == "no Tanggal Lahir/TTL column (headers: NIK, Nama)"
    assert table.rows.height == 1


def test_bpjs_export_without_kpj(tmp_path: Path) -> None:
    table = read_bpjs_export(write_csv(tmp_path / "b.csv", [["NIK", "Nama"], ["6203010101900001", "Ani"]]))
    assert (table.error, table.error_detail) == ("column_missing", "no KPJ column (headers: NIK, Nama)")


# ---------------------------------------------------------------------------------------------- properties

HEADER = ["NIK", "Nama", "Tgl Lahir", "JK"]
TEXT = st.text(alphabet=string.ascii_letters + string.digits + " ,;.'\"-/\n", max_size=12)
XLSX_CELL = st.one_of(st.none(), TEXT.filter(lambda t: "\n" not in t), st.integers(-(10**15), 10**15))
CSV_CELL = st.one_of(st.none(), TEXT)
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _expected(rows: list[list[object]]) -> list[list[str | None]]:
    """The rows a reader must return: stripped text, null for empty, fully blank rows left out."""
    as_text = [[None if c is None or str(c).strip() == "" else str(c).strip() for c in row] for row in rows]
    return [row for row in as_text if any(c is not None for c in row)]


@FAST
@given(data=st.binary(max_size=2048), suffix=st.sampled_from([".xlsx", ".xls", ".csv", ""]))
def test_random_bytes_never_raise(data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"file{suffix}"
        path.write_bytes(data)
        for read in (read_submission, read_bpjs_export):
            table = read(path)
            assert table.error in (None, "file_unreadable", "column_missing")


@FAST
@given(rows=st.lists(st.lists(XLSX_CELL, min_size=4, max_size=4), max_size=25))
def test_xlsx_rows_read_are_the_non_blank_rows_written(rows: list[list[object]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        table = read_submission(write_xlsx(Path(folder) / "p.xlsx", [HEADER, *rows]))  # type: ignore[list-item]
    assert table.error is None
    assert [list(row) for row in records(table, "nik", "nama", "tanggal_lahir", "jenis_kelamin")] == _expected(rows)
    # A number cell is flagged, and so is text that reads like a float's rendering ("5.0").
    flagged = [
        isinstance(row[0], int) or re.fullmatch(r"\d+\.0+", str(row[0] or "").strip()) is not None
        for row in rows
        if any(c is not None and str(c).strip() for c in row)
    ]
    assert table.rows["nik_from_number"].to_list() == flagged


@FAST
@given(
    rows=st.lists(st.lists(CSV_CELL, min_size=4, max_size=4), max_size=25),
    delimiter=st.sampled_from([",", ";", "\t"]),
)
def test_csv_rows_read_are_the_non_blank_rows_written(rows: list[list[str | None]], delimiter: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        written = [[c or "" for c in row] for row in rows]
        table = read_submission(write_csv(Path(folder) / "p.csv", [HEADER, *written], delimiter=delimiter))
    assert table.error is None
    got = [list(row) for row in records(table, "nik", "nama", "tanggal_lahir", "jenis_kelamin")]
    assert got == _expected(rows)  # type: ignore[arg-type]
    # Row numbers count the header as row 1 and every record (blank ones too) after it.
    kept = [number for number, row in enumerate(rows, start=2) if any((c or "").strip() for c in row)]
    assert table.rows["source_row"].to_list() == kept


BPJS_HEADER = ["KPJ", "NIK", "NAMA", "TGL_LAHIR", "TGL_BERAKHIR"]
BPJS_ROW = ["12345678901", "6203010101900001", "ANI", "01-01-1990", "30-SEP-26"]


@pytest.mark.parametrize(
    "text",
    [
        # title lines, a blank line, quoted delimiters and newlines, blank and ragged rows, an unknown column
        "LAPORAN PESERTA\n\nKPJ,NIK,NAMA,TGL_LAHIR,TGL_BERAKHIR,CATATAN\n"
        '12345678901,6203010101900001,"ANI, S.Pd","01-01-1990",30-SEP-26,"baris\ndua"\n'
        "\n,,,,,\n12345678902,6203010101900002\n12345678903,6203010101900003,BUDI,,,x,y,z\n",
        # ';' and CRLF, a PROGRAM group header over JKK/JKM on the next line, a BOM
        "\ufeffKPJ;NIK;NAMA;PROGRAM;\r\n;;;JKK;JKM\r\n12345678901;6203010101900001;ANI;Y;Y\r\n",
        # the NIK column missing: rows still come back, with the same error
        "KPJ,NAMA,TGL_LAHIR\n12345678901,ANI,01-01-1990\n",
        # a NIK that went through a number
        "KPJ,NIK,NAMA\n1.23457E+10,6.20301E+15,ANI\n",
        # two unknown columns under one header, the first empty: the second keeps its own key either way
        "KPJ,NIK,NAMA,KET,KET\n12345678901,6203010101900001,ANI,,lunas\n",
    ],
)
def test_a_streamed_export_reads_exactly_as_the_whole_file_does(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bpjs.csv"
    path.write_bytes(text.encode("utf-8"))
    whole, streamed = read_bpjs_export(path), scan_bpjs_export(path)
    assert streamed is not None
    assert (streamed.error, streamed.error_detail, streamed.headers) == (whole.error, whole.error_detail, whole.headers)
    assert_frame_equal(streamed.rows.collect(), whole.rows)
    assert whole.rows.height > 0


@pytest.mark.parametrize(
    "data",
    [
        BPJS_ROW[0].encode("utf-16"),  # UTF-16
        ",".join(BPJS_HEADER).encode() + b"\n" + ",".join(BPJS_ROW).encode("cp1252") + b"\xe9\n",  # not UTF-8
        b"KPJ,NIK\rX,Y\r",  # old Mac line ends
        b"PK\x03\x04 a workbook",
    ],
)
def test_what_cannot_be_streamed_is_left_to_the_whole_file_reader(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "bpjs.csv"
    path.write_bytes(data)
    assert scan_bpjs_export(path) is None


@FAST
@given(rows=st.lists(st.lists(CSV_CELL, min_size=5, max_size=5), max_size=25), delimiter=st.sampled_from([",", ";"]))
def test_streamed_and_whole_file_exports_agree_on_any_cells(rows: list[list[str | None]], delimiter: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        written = [[c or "" for c in row] for row in rows]
        path = write_csv(Path(folder) / "bpjs.csv", [BPJS_HEADER, *written], delimiter=delimiter)
        streamed = scan_bpjs_export(path)
        assert streamed is not None
        assert_frame_equal(streamed.rows.collect(), read_bpjs_export(path).rows)
