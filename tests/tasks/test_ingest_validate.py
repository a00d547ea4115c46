"""Ingest and validate as the nightly run does them (read -> prepare -> GX -> decide -> feedback), without Prefect.

The property test feeds folders of whatever village offices might send (random bytes, workbooks cut short, lists
with random cells) and checks the run's two promises: it never crashes on bad input, and it never loses a row.
"""

from __future__ import annotations

import csv
import io
import tempfile
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
import xlsxwriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cakupan.feedback import feedback_files, feedback_rows, write_feedback
from cakupan.settings import load_rules
from tasks.ingest import file_slices, read_folder, submission_files
from tasks.validate import check_rows
from tests.expectations.test_submission_rules import VILLAGES
from tests.xls import xls_bytes

RUN = date(2026, 11, 27)
RULES = load_rules()


def run(folder: Path) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(files, raw rows as read, rows as recorded), the feedback written on the way."""
    folder.mkdir(parents=True, exist_ok=True)
    files, raw = read_folder(folder, "Asia/Jakarta")
    decided_files, rows, result = check_rows(raw, files, VILLAGES, RUN, RULES)
    write_feedback(
        feedback_rows(rows, decided_files, result.failures),
        feedback_files(decided_files),
        VILLAGES,
        folder.parent / "feedback",
        RUN,
    )
    return decided_files, raw, rows


def test_a_real_xls_list_goes_through_the_whole_validation(tmp_path: Path) -> None:
    folder = tmp_path / "submissions"
    folder.mkdir()
    (folder / "6203021005_Sei_Pasah_2026-11-20.xls").write_bytes(
        xls_bytes(
            [
                ["NIK", "Nama", "Tgl Lahir", "L/P"],
                ["6203011205800003", "Budi Santoso", date(1980, 5, 12), "L"],
                [6203011205800004, "Siti Aminah", "12-05-1980", "P"],  # a numeric cell: precision lost
                ["6203011205800005", "Ani Lestari", "12-MEI-80", None],  # sex from the NIK
            ]
        )
    )
    files, _, rows = run(folder)
    assert files.select("kode_desa", pl.col("status").cast(pl.String)).rows() == [("62.03.02.1005", "loaded")]
    assert rows.sort("source_row").select(pl.col("outcome").cast(pl.String), "reasons").rows() == [
        ("accepted", []),
        ("rejected", ["nik_precision_lost"]),
        ("accepted", ["sex_from_nik"]),
    ]


def test_a_code_in_a_file_name_that_is_no_village_names_no_village(tmp_path: Path) -> None:
    folder = tmp_path / "submissions"
    folder.mkdir()
    (folder / "6203029999_usulan.csv").write_text(
        "NIK,Nama,Tgl Lahir,L/P\n6203011205800003,Budi Santoso,12-05-1980,L\n", encoding="utf-8"
    )
    files, _, rows = run(folder)
    assert files.select("kode_desa", pl.col("status").cast(pl.String), "reason").rows() == [
        (None, "rejected", "village_unknown")
    ]
    assert rows["reasons"].to_list() == [["village_unknown"]]


# ---------------------------------------------------------------------------------------------- property

HEADERS = [
    ["NIK", "Nama", "Tanggal Lahir", "Jenis Kelamin", "Desa", "Kecamatan"],
    ["No", "NIK", "Nama", "TTL", "L/P", "Desa/Kelurahan"],
    ["NIK", "Nama"],  # no birth date: column_missing
    ["Nama", "Tgl Lahir", "Desa"],  # no NIK: column_missing
]
NIKS = st.from_regex(r"\A(62|31|99)\d{14}\Z") | st.from_regex(r"\A\d{1,18}\Z")
DATES = st.dates(date(1900, 1, 1), date(2100, 1, 1))
TEXT_CELLS = st.none() | st.text(max_size=12) | NIKS | DATES.map(lambda d: d.strftime("%d-%m-%Y"))
TEXT_CELLS |= st.sampled_from(["L", "P", "Perempuan", "Sei Pasah", "Sidomulyo", "Kapuas Hilir", "=1+1", "12-MEI-80"])
CELLS = TEXT_CELLS | st.integers(-(10**17), 10**17) | DATES | st.floats(allow_nan=False, allow_infinity=False)
# File names with a listed village code, an unlisted one or none, and a submission date or none.
NAMES = st.tuples(
    st.sampled_from(["6203021005_", "6203071001_", "6203029999_", ""]),
    st.from_regex(r"\A[a-z]{1,6}\Z"),
    st.sampled_from(["", "_2026-11-20", "_2026-11-21"]),
).map("".join)


def _grid(cells: st.SearchStrategy[object]) -> st.SearchStrategy[list[list[object]]]:
    width = len(max(HEADERS, key=len))
    rows = st.lists(st.lists(cells, min_size=0, max_size=width), max_size=8)
    return st.tuples(st.sampled_from(HEADERS), st.integers(0, 3), rows).map(
        lambda t: [[f"Judul {i}"] for i in range(t[1])] + [list(t[0]), *t[2]]
    )


def _xlsx(rows: list[list[object]]) -> bytes:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_numbers": False, "strings_to_formulas": False})
    sheet = book.add_worksheet()
    dates = book.add_format({"num_format": "dd/mm/yyyy"})
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if isinstance(value, str):
                sheet.write_string(r, c, value)
            elif isinstance(value, date):
                sheet.write_number(r, c, (value - date(1899, 12, 30)) / timedelta(days=1), dates)
            elif isinstance(value, int | float):
                sheet.write_number(r, c, value)
    book.close()
    return buffer.getvalue()


def _csv(rows: list[list[object]], delimiter: str, encoding: str) -> bytes:
    text = io.StringIO()
    csv.writer(text, delimiter=delimiter).writerows([["" if v is None else str(v) for v in row] for row in rows])
    return text.getvalue().encode(encoding, errors="replace")


READABLE = st.one_of(
    _grid(CELLS).map(lambda rows: (".xlsx", _xlsx(rows))),
    _grid(CELLS).map(lambda rows: (".xls", xls_bytes(rows))),
    st.tuples(
        _grid(TEXT_CELLS), st.sampled_from([",", ";", "\t"]), st.sampled_from(["utf-8", "utf-8-sig", "cp1252"])
    ).map(lambda t: (".csv", _csv(*t))),
)
BROKEN = st.one_of(
    st.tuples(st.sampled_from([".xlsx", ".xls", ".csv"]), st.binary(max_size=600)),
    st.tuples(_grid(CELLS), st.floats(0.05, 0.95)).map(lambda t: (".xlsx", (x := _xlsx(t[0]))[: int(len(x) * t[1])])),
    st.tuples(_grid(CELLS), st.floats(0.05, 0.95)).map(
        lambda t: (".xls", (x := xls_bytes(t[0]))[: int(len(x) * t[1])])
    ),
)
# Two readable files for each broken one: a run mostly gets lists, and the lists are where rows can get lost.
FILES = st.one_of(READABLE, READABLE, BROKEN)


@pytest.fixture(scope="module", autouse=True)
def gx_started(tmp_path_factory: pytest.TempPathFactory) -> None:
    """GX's one-off start-up (seconds) is paid here, not inside the property test's time."""
    run(tmp_path_factory.mktemp("warm") / "submissions")


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(st.tuples(NAMES, FILES), min_size=1, max_size=4, unique_by=lambda f: f[0]))
def test_any_folder_is_validated_without_crashing_and_without_losing_a_row(sent: list[tuple[str, tuple]]) -> None:
    with tempfile.TemporaryDirectory() as root:
        folder = Path(root) / "submissions"
        folder.mkdir()
        for name, (suffix, data) in sent:
            (folder / f"{name}{suffix}").write_bytes(data)
        files, raw, rows = run(folder)
        assert files.height == len(sent)
        assert files["status"].null_count() == 0
        # Rows read = rows recorded, each exactly once, each with one outcome.
        assert rows.height == raw.height
        assert sorted(rows["row_id"]) == sorted(raw["row_id"])
        assert rows["outcome"].null_count() == 0
        # A file that could not be read has no rows; every other file keeps all of its rows.
        unreadable = set(files.filter(pl.col("reason") == "file_unreadable")["file_id"])
        assert not unreadable & set(rows["file_id"])


def test_each_row_keeps_the_file_it_came_from_past_files_without_rows(tmp_path: Path) -> None:
    header = "NIK,Nama,Tanggal Lahir\n"
    (tmp_path / "a.csv").write_text(header + "6203010101900001,Ani,01-01-1990\n6203010101900002,Budi,01-01-1990\n")
    (tmp_path / "b.csv").write_text(header)  # a header and no one under it
    (tmp_path / "c.pdf").write_bytes(b"%PDF-1.4")  # not a list at all
    (tmp_path / "d.csv").write_text(header + "6203010101900004,Dewi,01-01-1990\n")
    files, rows = read_folder(tmp_path, "Asia/Jakarta")
    by_file = rows.join(files.select("file_id", "source_file"), on="file_id").select("source_file", "nama")
    assert by_file.rows() == [("a.csv", "Ani"), ("a.csv", "Budi"), ("d.csv", "Dewi")]
    assert rows["file_id"].dtype == pl.Int64


@pytest.mark.parametrize(
    ("files", "workers", "sizes"),
    [
        (240, 2, [120, 120]),  # a regency's inbox: one slice per worker, not one for all
        (30, 2, [25, 5]),  # too few files for a full slice each: slices of the minimum
        (10, 2, [10]),
        (4_500, 2, [2_000, 2_000, 500]),  # a national inbox: slices stay small enough to spread
        (0, 2, [0]),  # an empty inbox: one empty slice, so the run still records it
    ],
)
def test_the_inbox_is_read_in_a_slice_per_worker(tmp_path: Path, files: int, workers: int, sizes: list[int]) -> None:
    for i in range(files):
        (tmp_path / f"desa-{i:05d}.csv").touch()
    slices = file_slices(tmp_path, workers)
    assert [len(s) for s in slices] == sizes
    assert [p for s in slices for p in s] == submission_files(tmp_path)
