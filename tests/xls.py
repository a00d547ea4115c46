"""Write a real Excel 97-2003 workbook (.xls: BIFF8 records in an OLE2 compound file) for reader tests.

No library that the project depends on writes .xls, and village offices still send it, so the tests build the
few records a one-sheet workbook needs (per [MS-XLS] and [MS-CFB]): text cells as LABEL, numbers as NUMBER, date
cells as NUMBER with a date-formatted XF. Enough for a reader; not a general writer.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from datetime import date

_SECTOR = 512
_END_OF_CHAIN = 0xFFFFFFFE
_FREE = 0xFFFFFFFF
_NO_STREAM = 0xFFFFFFFF
_DATE_XF = 16  # 15 style XFs, then a General cell XF (15) and a date cell XF (16)


def _record(kind: int, data: bytes = b"") -> bytes:
    return struct.pack("<HH", kind, len(data)) + data


def _bof(substream: int) -> bytes:
    # BIFF8 (0x0600); substream 0x0005 = workbook globals, 0x0010 = worksheet.
    return _record(0x0809, struct.pack("<HHHHII", 0x0600, substream, 0x0DBB, 0x07CC, 0, 0x06))


def _text(text: str, length_bytes: int) -> bytes:
    """XLUnicodeString (2-byte length) or ShortXLUnicodeString (1-byte length), stored as UTF-16LE."""
    return struct.pack("<H" if length_bytes == 2 else "<B", len(text)) + b"\x01" + text.encode("utf-16-le")


def _xf(number_format: int, style: bool) -> bytes:
    return _record(
        0x00E0, struct.pack("<HHHBBBBIIH", 0, number_format, 0xFFF5 if style else 0x0001, 0x20, 0, 0, 0, 0, 0, 0x20C0)
    )


def xls_bytes(rows: Sequence[Sequence[object]], sheet: str = "Sheet1") -> bytes:
    """A workbook with one sheet holding ``rows`` (str, int/float, date or None per cell)."""
    cells = b""
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value is None or value == "":
                continue
            if isinstance(value, str):
                cells += _record(0x0204, struct.pack("<HHH", r, c, 15) + _text(value, 2))
            elif isinstance(value, date):
                serial = (value - date(1899, 12, 30)).days
                cells += _record(0x0203, struct.pack("<HHHd", r, c, _DATE_XF, float(serial)))
            else:
                cells += _record(0x0203, struct.pack("<HHHd", r, c, 15, float(value)))  # type: ignore[arg-type]
    width = max((len(row) for row in rows), default=0)
    worksheet = (
        _bof(0x0010) + _record(0x0200, struct.pack("<IIHHH", 0, len(rows), 0, width, 0)) + cells + _record(0x000A)
    )
    font = _record(0x0031, struct.pack("<HHHHHBBBB", 200, 0, 0x7FFF, 400, 0, 0, 0, 0, 0) + _text("Arial", 1))
    head = (
        _bof(0x0005)
        + _record(0x0042, struct.pack("<H", 1200))  # CODEPAGE: UTF-16
        + font
        + b"".join(_xf(0, style=True) for _ in range(15))
        + _xf(0, style=False)
        + _xf(14, style=False)  # built-in format 14: a date
    )

    def workbook_globals(sheet_offset: int) -> bytes:
        boundsheet = _record(0x0085, struct.pack("<IBB", sheet_offset, 0, 0) + _text(sheet, 1))
        return head + boundsheet + _record(0x000A)

    offset = len(workbook_globals(0))
    return _compound_file(workbook_globals(offset) + worksheet)


def _compound_file(workbook: bytes) -> bytes:
    """An OLE2 compound file (version 3, 512-byte sectors) whose only stream is "Workbook"."""
    # Streams under 4096 bytes would live in the mini stream; padding keeps this to regular sectors.
    size = max(4096, -(-len(workbook) // _SECTOR) * _SECTOR)
    stream = workbook.ljust(size, b"\x00")
    sectors = size // _SECTOR
    directory_sector, fat_sector = sectors, sectors + 1
    fat = [*range(1, sectors), _END_OF_CHAIN, _END_OF_CHAIN, 0xFFFFFFFD]
    fat += [_FREE] * (_SECTOR // 4 - len(fat))

    def entry(name: str, kind: int, child: int, start: int, length: int) -> bytes:
        raw = name.encode("utf-16-le") + b"\x00\x00" if name else b""
        return (
            raw.ljust(64, b"\x00")
            + struct.pack("<HBB", len(raw), kind, 1 if name else 0)
            + struct.pack("<III", _NO_STREAM, _NO_STREAM, child)
            + b"\x00" * 36  # CLSID, state bits, creation and modification times
            + struct.pack("<III", start, length, 0)
        )

    directory = (
        entry("Root Entry", 5, 1, _END_OF_CHAIN, 0)
        + entry("Workbook", 2, _NO_STREAM, 0, size)  # the padded size: a smaller one means the mini stream
        + entry("", 0, _NO_STREAM, 0, 0) * 2
    )
    header = (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
        + b"\x00" * 16
        + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
        + b"\x00" * 6
        + struct.pack("<IIIIIIIII", 0, 1, directory_sector, 0, 4096, _END_OF_CHAIN, 0, _END_OF_CHAIN, 0)
        + struct.pack("<I", fat_sector)
        + b"\xff" * (4 * 108)
    )
    return header + stream + directory + struct.pack(f"<{_SECTOR // 4}I", *fat)
