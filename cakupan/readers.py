"""Read village submissions and BPJS Ketenagakerjaan exports into raw text frames.

A reader finds the header row, maps the headers to canonical names (`cakupan.headers`) and returns every data
row as text, exactly as typed, with the row number a person would look for in the sheet. It interprets nothing
(dates, NIK and sex are parsed later by `cakupan.values`), with one exception that cannot be recovered later:
whether a NIK or KPJ cell came through a number, the only evidence that Excel cut it to 15 digits.

The readers never raise on bad input. A file they cannot read comes back with `error="file_unreadable"`, a
file without a required column with `error="column_missing"` and its rows, so they can be reported.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, TypeVar

import polars as pl
import python_calamine

from cakupan import values
from cakupan.headers import (
    BPJS_HEADERS,
    BPJS_INDEX,
    BPJS_REQUIRED,
    SUBMISSION_BIRTH_DATE_ANY,
    SUBMISSION_HEADERS,
    SUBMISSION_INDEX,
    SUBMISSION_REQUIRED,
    header_key,
)

FILE_UNREADABLE = "file_unreadable"
COLUMN_MISSING = "column_missing"

# The header row must be among the first HEADER_SCAN_ROWS rows of a sheet or CSV and have at least
# HEADER_MIN_MATCHES known headers: one known word in a title block ("Desa: ...") is not a header row.
HEADER_SCAN_ROWS = 20
HEADER_MIN_MATCHES = 2

CSV_DELIMITERS = (",", ";", "\t", "|")
# The header is looked for in this much of a CSV's text first rather than in copies of all of it.
_CSV_SAMPLE_CHARS = 256 * 1024

_ZIP_MAGIC = b"PK\x03\x04"  # xlsx, xlsm, ods
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # xls (BIFF)

# A NIK/KPJ typed as text that still shows it went through a number: "6.20301E+15", "6203010101900001.0".
_FROM_NUMBER_TEXT = r"^[0-9]+(?:[.,][0-9]+)?[eE]\+[0-9]+$|^[0-9]+\.0+$"

# What python_calamine returns for a cell ("" for an empty one).
Cell = str | float | int | bool | date | datetime | time | timedelta

# (index of the header row, position -> canonical name, whether the header names NIK or Nama)
_Found = tuple[int, dict[int, str], bool]


@dataclass(frozen=True)
class RawTable:
    """One file as read: its data rows as text, which headers were found, and a file-level error if any.

    rows: one row per non-blank data row below the header. Columns: `source_row` (Int64, the row number a
        spreadsheet user sees; the header is row N, the first data row N+1), one String column per
        canonical name (stripped; null when empty or when the file has no such column), the
        `*_from_number` flags (Boolean) and `extra` (String: a JSON object of the non-empty cells under
        unknown or blank headers, {"No": "1", "column H": "..."}, null when there are none; a workbook row
        whose cells calamine could not convert is kept, empty, with its reason under "_error").
    headers: canonical name -> the header text as found in the file.
    error: None, "file_unreadable" or "column_missing".
    error_detail: what went wrong, in English, for the report back to the village.
    """

    rows: pl.DataFrame
    headers: dict[str, str]
    error: str | None
    error_detail: str | None


@dataclass(frozen=True)
class _Layout:
    """One kind of file: its header synonyms, output columns and required columns."""

    index: dict[str, str]
    columns: tuple[str, ...]
    from_number: tuple[str, ...]
    required: tuple[str, ...]
    required_any: tuple[str, ...]
    anchors: tuple[str, ...] = ("nik", "nama")


_SUBMISSION = _Layout(
    index=SUBMISSION_INDEX,
    columns=tuple(SUBMISSION_HEADERS),
    from_number=("nik",),
    required=SUBMISSION_REQUIRED,
    required_any=SUBMISSION_BIRTH_DATE_ANY,
)
_BPJS = _Layout(
    index=BPJS_INDEX,
    columns=tuple(BPJS_HEADERS),
    from_number=("nik", "kpj"),
    required=BPJS_REQUIRED,
    required_any=(),
)

_LABELS = {"nik": "NIK", "nama": "Nama", "kpj": "KPJ", "tanggal_lahir": "Tanggal Lahir", "ttl": "TTL"}


def read_submission(path: Path) -> RawTable:
    """Read a village's list of pekerja rentan (.xlsx, .xls or .csv) into text rows with canonical columns.

    The sheet read is the first with a header row naming NIK or Nama in its first 20 rows; title blocks,
    merged title cells and blank rows above the header are skipped, and so are fully blank rows below it.
    The bytes decide how a file is read, not its extension (an .xlsx saved as .xls is still read).

    Columns of `rows`: source_row, nik, nama, tempat_lahir, tanggal_lahir, ttl, jenis_kelamin, desa,
    kecamatan, pekerjaan, no_hp, alamat, nik_from_number, extra. NIK, Nama and one of Tanggal Lahir/TTL are
    required, else error "column_missing" (the rows are still returned).

    Example:
        >>> table = read_submission(Path("submissions/6203012001_2026-03-01.xlsx"))
        >>> table.error, table.rows.height
        (None, 100)
    """
    return _read(path, _SUBMISSION)


def empty_submission_rows() -> pl.DataFrame:
    """A submission frame with no rows: the columns every reader result has."""
    return pl.DataFrame(schema=_schema(_SUBMISSION))


def read_bpjs_export(path: Path) -> RawTable:
    """Read a BPJS Ketenagakerjaan participant export (.xlsx, .xls or .csv) into text rows.

    Same reading rules as `read_submission`. Columns of `rows`: source_row, kpj, nik, nama, tgl_lahir,
    tgl_kepesertaan, tgl_berakhir, masa_grace, status, pembayar, segmen, jkk, jkm, jht, nik_from_number,
    kpj_from_number, extra. A second header row under a merged group header (PROGRAM over JHT/JKK/JKM) is
    read as part of the header. KPJ, NIK and Nama are required, else error "column_missing".
    """
    return _read(path, _BPJS)


# A CSV export larger than this is streamed by ``scan_bpjs_export`` instead of being read into memory as text.
STREAM_CSV_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class LazyTable:
    """A file being read in a stream: the rows of ``RawTable`` as a lazy frame, and what the header said."""

    rows: pl.LazyFrame
    headers: dict[str, str]
    error: str | None
    error_detail: str | None


def scan_bpjs_export(path: Path) -> LazyTable | None:
    """A BPJS export CSV in UTF-8 read lazily, in a stream: the rows ``read_bpjs_export`` gives, same columns.

    For national exports (tens of millions of rows) that would not fit in memory as text. The header is found as
    ``read_bpjs_export`` finds it, in the first 256 KB. None when the file is not such a CSV (a workbook, UTF-16,
    Windows-1252 text, lone CR line ends): read it with ``read_bpjs_export``. A byte sequence that is not UTF-8
    further down becomes U+FFFD rather than switching the whole file to Windows-1252.
    """
    try:
        with path.open("rb") as stream:
            head = stream.read(_CSV_SAMPLE_CHARS)
    except OSError:
        return None
    if head.startswith((_ZIP_MAGIC, _OLE_MAGIC, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\x00" in head:
        return None
    head = head.removeprefix(codecs.BOM_UTF8)
    head = head[: head.rfind(b"\n") + 1] or head  # whole lines only: no character cut in two
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if "\r" in text.replace("\r\n", ""):
        return None
    best = _csv_header(text, _BPJS)
    if best is None:
        return None
    delimiter, (at, _, _), lines_above = best
    options: dict[str, Any] = {
        "has_header": False,
        "separator": delimiter,
        "skip_lines": lines_above,
        "infer_schema": False,
        "truncate_ragged_lines": True,
        "encoding": "utf8-lossy",
    }
    try:
        top = pl.read_csv(text.encode("utf-8"), n_rows=2, **options)
    except pl.exceptions.PolarsError:
        return None
    header = ["" if cell is None else cell for cell in top.row(0)]
    below = ["" if cell is None else cell for cell in top.row(1)] if top.height > 1 else None
    header, mapping, size = _header_rows(header, below, _map_headers(header, _BPJS.index), _BPJS)
    first_row = at + size + 1
    raw = pl.scan_csv(path, **options)
    cell_names = [f"_c{position}" for position in range(len(top.columns))]
    cells = (
        raw.rename(dict(zip(top.columns, cell_names, strict=True)))
        .slice(size)
        .with_row_index("_index")
        .with_columns(
            values.cell_text(pl.col(cell_names)),
            *[pl.lit(False).alias(f"_num_{name}") for name in _BPJS.from_number],
            pl.lit(None, pl.String).alias("_error"),
            source_row=(pl.col("_index") + first_row).cast(pl.Int64),
        )
        .filter(~pl.all_horizontal(pl.col([*cell_names, "_error"]).is_null()))
    )
    keys = _extra_keys(header, [position for position in range(len(cell_names)) if position not in mapping])
    rows = _canonical_rows(cells, mapping, keys, _BPJS)
    headers = {name: header[position] for position, name in mapping.items()}
    detail = _missing_columns(header, mapping, _BPJS)
    return LazyTable(rows=rows, headers=headers, error=detail and COLUMN_MISSING, error_detail=detail)


def _read(path: Path, layout: _Layout) -> RawTable:
    try:
        data = path.read_bytes()
    except OSError as exc:  # vanished, no permission, a directory: bad input, not a bug
        return _unreadable(layout, f"cannot open the file: {exc.strerror or exc}")
    if not data.strip():
        return _unreadable(layout, "the file is empty")
    grid = _workbook_grid(data, layout) if data.startswith((_ZIP_MAGIC, _OLE_MAGIC)) else _csv_grid(data, layout)
    if isinstance(grid, str):
        return _unreadable(layout, grid)
    return _table(grid, layout)


# ---------------------------------------------------------------------------------------------- header


@dataclass(frozen=True)
class _Grid:
    """A sheet cut at its header row(s)."""

    header: list[str]  # header text per position (stripped; "" when blank)
    mapping: dict[int, str]  # position -> canonical name
    cells: pl.DataFrame  # data rows as read, blank rows included: String columns _c0.._cN, unstripped
    first_row: int  # sheet row number (1-based) of the first row of `cells`
    from_number: dict[str, pl.Series]  # canonical name -> Boolean: the cell was a number (workbooks only)
    row_errors: pl.Series | None  # String: why a row's cells could not be read, else null


def _map_headers(cells: Sequence[str], index: dict[str, str]) -> dict[int, str]:
    """Header position -> canonical name; the first of two headers meaning the same thing wins.

    A header that matches only without its note in brackets ("Tanggal Lahir (dd-mm-yyyy)") still counts.
    """
    mapping: dict[int, str] = {}
    for position, text in enumerate(cells):
        canonical = index.get(header_key(text))
        if canonical is None and "(" in text:
            canonical = index.get(header_key(text.split("(", 1)[0]))
        if canonical is not None and canonical not in mapping.values():
            mapping[position] = canonical
    return mapping


def _find_header(rows: Sequence[Sequence[str]], layout: _Layout) -> _Found | None:
    """The header row among the first rows: the first with two known headers, one of them NIK or Nama.

    Without such a row, the first row with two known headers of any kind (its file is "column_missing").
    """
    fallback: _Found | None = None
    for number, cells in enumerate(rows[:HEADER_SCAN_ROWS]):
        mapping = _map_headers(cells, layout.index)
        if len(mapping) < HEADER_MIN_MATCHES:
            continue
        if any(name in layout.anchors for name in mapping.values()):
            return number, mapping, True
        if fallback is None:
            fallback = (number, mapping, False)
    return fallback


def _header_rows(
    header: Sequence[str], below: Sequence[str] | None, mapping: dict[int, str], layout: _Layout
) -> tuple[list[str], dict[int, str], int]:
    """The header texts and mapping, and how many rows the header takes (1, or 2 with a sub-header row).

    BPJS exports put PROGRAM, merged, over JHT/JKK/JKM: the row below the header then holds headers only,
    and only under cells that are blank or unknown in the header row. A data row never qualifies: it has
    values under the known columns.
    """
    texts = [text.strip() for text in header]
    if below is None:
        return texts, mapping, 1
    filled = [position for position, text in enumerate(below) if text.strip()]
    if not filled or any(position in mapping for position in filled):
        return texts, mapping, 1
    merged = texts + [""] * max(0, len(below) - len(texts))
    for position in filled:
        merged[position] = below[position].strip()
    merged_mapping = _map_headers(merged, layout.index)
    if not set(merged_mapping.values()) - set(mapping.values()):
        return texts, mapping, 1
    return merged, merged_mapping, 2


# ---------------------------------------------------------------------------------------------- workbook


def _render(cell: Cell) -> str:
    """A workbook cell as text: integral floats without ".0", other floats repr, dates "YYYY-MM-DD"."""
    if isinstance(cell, str):
        return cell
    if isinstance(cell, bool):
        return "TRUE" if cell else "FALSE"
    if isinstance(cell, float):
        return str(int(cell)) if cell.is_integer() else repr(cell)
    if isinstance(cell, int):
        return str(cell)
    if isinstance(cell, datetime | date):
        return cell.strftime("%Y-%m-%d")
    if isinstance(cell, time):
        return cell.isoformat()
    if isinstance(cell, timedelta):
        return str(cell)
    return "" if cell is None else str(cell)


def _render_column(cells: Sequence[Cell]) -> pl.Series:
    """`_render` over one column, as a String series. Columns of text, of whole numbers (NIK, KPJ, serial
    dates, 0/1 flags) and of text mixed with numbers - nearly all columns - take fast paths."""
    kinds = set(map(type, cells))
    if kinds <= {str}:
        return pl.Series(cells, dtype=pl.String)
    if kinds == {float}:
        numbers = pl.Series(cells, dtype=pl.Float64)
        if (numbers.is_finite() & (numbers == numbers.floor()) & (numbers.abs() < 2.0**63)).all():
            return numbers.cast(pl.Int64).cast(pl.String)
    if kinds <= {str, float}:
        mixed: Sequence[Any] = cells  # str or float, checked just above
        return pl.Series(
            [cell if type(cell) is str else str(int(cell)) if cell.is_integer() else repr(cell) for cell in mixed],
            dtype=pl.String,
        )
    return pl.Series([_render(cell) for cell in cells], dtype=pl.String)


def _is_reader_failure(exc: BaseException) -> bool:
    """Whether an exception from python_calamine means "this file (or row) cannot be read".

    calamine raises its CalamineError family for bad zip/OLE/XML, ValueError/OverflowError when a cell
    converts to a date or duration outside Python's range, and pyo3's PanicException (a BaseException) if
    its Rust code panics. Anything else is a bug here and propagates.
    """
    if isinstance(exc, python_calamine.CalamineError | ValueError | OverflowError | UnicodeError | OSError):
        return True
    return type(exc).__name__ == "PanicException"


def _sheet_rows(sheet: python_calamine.CalamineSheet, nrows: int | None) -> tuple[list[list[Cell]], dict[int, str]]:
    """The sheet's rows from row 1 (blank rows above the data included), and the rows that failed to convert.

    One bad cell (a NIK typed into a duration-formatted cell overflows Python's timedelta) makes calamine
    fail the whole sheet; row by row, only that row is lost: it comes back empty with its reason, keeping
    its number, so it is reported instead of silently dropped.
    """
    try:
        return list(sheet.to_python(skip_empty_area=False, nrows=nrows)), {}
    except BaseException as exc:
        if not _is_reader_failure(exc):
            raise
    rows: list[list[Cell]] = []
    errors: dict[int, str] = {}
    iterator: Iterator[list[Cell]] = iter(sheet.iter_rows())
    while nrows is None or len(rows) < nrows:
        try:
            row = next(iterator)
        except StopIteration:
            break
        except BaseException as exc:
            if not _is_reader_failure(exc):
                raise
            errors[len(rows)] = f"the row's cells could not be read: {exc}"
            row = []
        rows.append(row)
    return rows, errors


def _workbook_grid(data: bytes, layout: _Layout) -> _Grid | str:
    try:
        return _workbook_grid_unguarded(data, layout)
    except BaseException as exc:
        if not _is_reader_failure(exc):
            raise
        return f"not a readable workbook: {exc}"


def _workbook_grid_unguarded(data: bytes, layout: _Layout) -> _Grid | str:
    workbook = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
    hidden_last = sorted(
        range(len(workbook.sheet_names)),
        key=lambda index: workbook.sheets_metadata[index].visible != python_calamine.SheetVisibleEnum.Visible,
    )
    # get_sheet_by_index parses the whole sheet (most of the reading time): keep the sheet that is chosen.
    chosen: tuple[python_calamine.CalamineSheet, _Found] | None = None
    failure: str | None = None
    for index in hidden_last:
        try:
            sheet = workbook.get_sheet_by_index(index)
            head, _ = _sheet_rows(sheet, HEADER_SCAN_ROWS)
        except BaseException as exc:  # a chart sheet or one damaged sheet: the list may be on another
            if not _is_reader_failure(exc):
                raise
            failure = f"sheet {workbook.sheet_names[index]!r} cannot be read: {exc}"
            continue
        found = _find_header([[_render(cell) for cell in row] for row in head], layout)
        if found is not None and (chosen is None or (found[2] and not chosen[1][2])):
            chosen = (sheet, found)
            if found[2]:
                break
    if chosen is None:
        return (
            f"no header row in the first {HEADER_SCAN_ROWS} rows of any sheet "
            f"(need at least {HEADER_MIN_MATCHES} known headers such as NIK and Nama)"
            + (f"; {failure}" if failure else "")
        )
    sheet, (at, mapping, _) = chosen
    rows, errors = _sheet_rows(sheet, None)
    below = [_render(cell) for cell in rows[at + 1]] if at + 1 < len(rows) else None
    header, mapping, size = _header_rows([_render(cell) for cell in rows[at]], below, mapping, layout)
    start = at + size
    data_rows = rows[start:]
    # Columns, not rows: one transposition, then each column is rendered and typed in one pass.
    columns = list(itertools.zip_longest(*data_rows, fillvalue="")) if data_rows else []
    width = max(len(header), len(columns))
    empty: tuple[Cell, ...] = ("",) * len(data_rows)
    cells = pl.DataFrame(
        {
            f"_c{position}": _render_column(columns[position] if position < len(columns) else empty)
            for position in range(width)
        },
        height=len(data_rows),
    )
    from_number = {
        name: pl.Series(
            [type(cell) is float or type(cell) is int for cell in columns[position]]
            if position < len(columns)
            else [False] * len(data_rows),
            dtype=pl.Boolean,
        )
        for position, name in mapping.items()
        if name in layout.from_number
    }
    row_errors = None
    if any(index >= start for index in errors):
        row_errors = pl.Series([errors.get(index) for index in range(start, len(rows))], dtype=pl.String)
    return _Grid(header, mapping, cells, start + 1, from_number, row_errors)


Frame = TypeVar("Frame", pl.DataFrame, pl.LazyFrame)


def _canonical_rows(cells: Frame, mapping: dict[int, str], extra_keys: dict[int, str], layout: _Layout) -> Frame:
    """The reader contract's columns from cut, stripped cells (with source_row, _num_* flags and _error)."""
    by_name = {name: position for position, name in mapping.items()}

    def canonical(name: str) -> pl.Expr:
        position = by_name.get(name)
        return pl.col(f"_c{position}") if position is not None else pl.lit(None, dtype=pl.String)

    members = [_json_member(pl.col(f"_c{position}"), key) for position, key in extra_keys.items()]
    members.append(_json_member(pl.col("_error"), "_error"))
    extra = pl.concat_str(members, separator=",", ignore_nulls=True)
    return cells.select(
        "source_row",
        *[canonical(name).alias(name) for name in layout.columns],
        *[
            (pl.col(f"_num_{name}") | canonical(name).str.contains(_FROM_NUMBER_TEXT).fill_null(False)).alias(
                f"{name}_from_number"
            )
            for name in layout.from_number
        ],
        extra=pl.when(extra.str.len_bytes() > 0).then(pl.lit("{") + extra + pl.lit("}")),
    )


# ---------------------------------------------------------------------------------------------- CSV


def _decode(data: bytes) -> str | None:
    """The text of a CSV file: UTF-8 (with or without BOM), UTF-16 with BOM, else Windows-1252.

    None for binary content (NUL bytes outside UTF-16): random bytes are not a list of people.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            return None
    if b"\x00" in data:
        return None
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        # Excel on Indonesian Windows saves CSV as Windows-1252; its 5 unassigned bytes become U+FFFD.
        return data.decode("cp1252", errors="replace")


def _csv_header(text: str, layout: _Layout) -> tuple[str, _Found, int] | None:
    """The delimiter, the header row, and the number of physical lines above the header.

    Each candidate delimiter splits the first rows and the one under which a header row is found wins:
    a title line or a name with a comma does not mislead it as counting delimiters would. A header with
    NIK/Nama wins, then the one with more known headers, then the earlier delimiter in CSV_DELIMITERS.
    """
    best: tuple[tuple[bool, int], str, _Found, int] | None = None
    for delimiter in CSV_DELIMITERS:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        try:
            head = list(itertools.islice(reader, HEADER_SCAN_ROWS))
        except csv.Error:  # a field longer than the csv module allows, say: not this delimiter
            continue
        found = _find_header(head, layout)
        if found is None:
            continue
        score = (found[2], len(found[1]))
        if best is None or score > best[0]:
            best = (score, delimiter, found, _lines_before(text, found[0], delimiter))
    return None if best is None else best[1:]


def _lines_before(text: str, records: int, delimiter: str) -> int:
    """Physical lines taken by the first `records` CSV records (quoted newlines make a record span lines)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    for _ in itertools.islice(reader, records):
        pass
    return reader.line_num


def _csv_grid(data: bytes, layout: _Layout) -> _Grid | str:
    text = _decode(data)
    if text is None:
        return "not a workbook and not text (binary content)"
    best = _csv_header(text[:_CSV_SAMPLE_CHARS], layout)
    if best is None and len(text) > _CSV_SAMPLE_CHARS:
        best = _csv_header(text, layout)
    if best is None:
        return (
            f"no header row in the first {HEADER_SCAN_ROWS} lines "
            f"(need at least {HEADER_MIN_MATCHES} known headers such as NIK and Nama)"
        )
    delimiter, (at, _, _), lines_above = best
    table = _csv_with_polars(text, delimiter, lines_above)
    if table is None:
        table = _csv_with_csv_module(text, delimiter, at)
    if table is None:
        return "not a readable CSV file"
    if table.height == 0:
        return "not a readable CSV file"
    header = ["" if cell is None else cell for cell in table.row(0)]
    below = ["" if cell is None else cell for cell in table.row(1)] if table.height > 1 else None
    header, mapping, size = _header_rows(header, below, _map_headers(header, layout.index), layout)
    cells = table.slice(size)
    cells.columns = [f"_c{position}" for position in range(cells.width)]  # named in place: no query per file
    return _Grid(header, mapping, cells, at + size + 1, {}, None)


def _csv_with_polars(text: str, delimiter: str, lines_above: int) -> pl.DataFrame | None:
    """Header and data records as text, read by polars (fast); None when polars rejects the quoting.

    Rows shorter than the header are padded with nulls and longer ones cut to the header's width. Lone CR
    line ends (old Mac files) are left to the csv module: polars splits lines on LF only.
    """
    if "\r" in text.replace("\r\n", ""):
        return None
    try:
        return pl.read_csv(
            text.encode("utf-8"),
            has_header=False,
            separator=delimiter,
            skip_lines=lines_above,
            infer_schema=False,
            truncate_ragged_lines=True,
            empty_string_is_null=False,
            raise_if_empty=False,
        )
    except pl.exceptions.PolarsError:  # malformed quoting ('ab"c', an unclosed quote): the lenient csv module
        return None


def _csv_with_csv_module(text: str, delimiter: str, at: int) -> pl.DataFrame | None:
    """Same as `_csv_with_polars`, with Python's lenient csv module (slower; any quoting is accepted)."""
    try:
        rows = list(itertools.islice(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), at, None))
    except csv.Error:
        return None
    width = len(rows[0]) if rows else 0
    columns = list(itertools.zip_longest(*rows, fillvalue="")) if rows else []
    return pl.DataFrame(
        {f"column_{position + 1}": pl.Series(columns[position], dtype=pl.String) for position in range(width)},
        height=len(rows),
    )


# ---------------------------------------------------------------------------------------------- frame


def _schema(layout: _Layout) -> dict[str, pl.DataType]:
    schema: dict[str, pl.DataType] = {"source_row": pl.Int64()}
    schema.update({name: pl.String() for name in layout.columns})
    schema.update({f"{name}_from_number": pl.Boolean() for name in layout.from_number})
    schema["extra"] = pl.String()
    return schema


def _unreadable(layout: _Layout, detail: str) -> RawTable:
    return RawTable(rows=pl.DataFrame(schema=_schema(layout)), headers={}, error=FILE_UNREADABLE, error_detail=detail)


def _column_letter(position: int) -> str:
    letters = ""
    position += 1
    while position:
        position, remainder = divmod(position - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters


def _extra_keys(header: list[str], positions: Sequence[int]) -> dict[int, str]:
    """Position -> JSON key for unknown columns: the header text, or "column F" under a blank header."""
    keys: dict[int, str] = {}
    used: set[str] = set()
    for position in positions:
        text = header[position] if position < len(header) else ""
        key = text or f"column {_column_letter(position)}"
        unique, copy = key, 2
        while unique in used:
            unique, copy = f"{key} ({copy})", copy + 1
        used.add(unique)
        keys[position] = unique
    return keys


def _json_member(value: pl.Expr, key: str) -> pl.Expr:
    """'"key":"value"' with JSON escaping (polars does it), null when the value is null."""
    encoded = pl.struct(value.alias(key)).struct.json_encode()
    return pl.when(value.is_not_null()).then(encoded.str.slice(1, encoded.str.len_chars() - 2))


def _table(grid: _Grid, layout: _Layout) -> RawTable:
    height = grid.cells.height
    cell_names = [f"_c{position}" for position in range(grid.cells.width)]
    # Literals, not columns each made by a query: a regency's files are hundreds of small frames, where a query's
    # own cost outweighs its rows.
    flags = {f"_num_{name}": grid.from_number.get(name, pl.lit(False)) for name in layout.from_number}
    errors = grid.row_errors if grid.row_errors is not None else pl.lit(None, dtype=pl.String)
    cells = (
        grid.cells.with_columns(
            values.cell_text(pl.col(cell_names)),
            *[flag.alias(name) for name, flag in flags.items()],
            errors.alias("_error"),
            source_row=pl.int_range(grid.first_row, grid.first_row + height, dtype=pl.Int64),
        )
        # A fully blank row is not a data row (its number is simply not used).
        .filter(~pl.all_horizontal(pl.col([*cell_names, "_error"]).is_null()))
    )

    # Only unknown columns holding a value go into `extra`: a sheet's used range often runs far to the right.
    # Keys are given over all unknown columns, so a column's key does not depend on whether another holds a value.
    # A column's count of nulls is kept with it: read without a query.
    filled = [cells.get_column(name).null_count() < cells.height for name in cell_names]
    keys = _extra_keys(grid.header, [position for position in range(len(filled)) if position not in grid.mapping])
    rows = _canonical_rows(cells, grid.mapping, {p: k for p, k in keys.items() if filled[p]}, layout)
    headers = {name: grid.header[position] for position, name in grid.mapping.items()}
    detail = _missing_columns(grid.header, grid.mapping, layout)
    return RawTable(rows=rows, headers=headers, error=detail and COLUMN_MISSING, error_detail=detail)


def _missing_columns(header: list[str], mapping: dict[int, str], layout: _Layout) -> str | None:
    """Which required columns the header lacks, as the village (or the Dinas) reads it; None when none."""
    found_names = set(mapping.values())
    missing = [name for name in layout.required if name not in found_names]
    if layout.required_any and not any(name in found_names for name in layout.required_any):
        missing.append("/".join(_LABELS.get(name, name) for name in layout.required_any))
    if not missing:
        return None
    labels = ", ".join(_LABELS.get(name, name) for name in missing)
    found = ", ".join(text for text in header if text) or "none"
    return f"no {labels} column{'s' if len(missing) > 1 else ''} (headers: {found})"
