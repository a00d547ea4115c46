from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from cakupan.values import (
    clean_nik,
    normalise_village_name,
    parse_date,
    parse_sex,
    resolve_village,
    split_ttl,
)

RUN_DATE = date(2026, 11, 27)


def _one(expr: pl.Expr, value: str | None) -> object:
    return pl.DataFrame({"v": [value]}, schema={"v": pl.String}).select(expr).item()


# ---------------------------------------------------------------------------------------------- parse_date


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12/05/1980", date(1980, 5, 12)),  # DD/MM/YYYY: day first, always
        ("12-05-1980", date(1980, 5, 12)),
        ("2-5-1980", date(1980, 5, 2)),  # single-digit day and month
        ("12.05.1980", date(1980, 5, 12)),  # dots, as Indonesian spreadsheets often write it
        ("1980-05-12", date(1980, 5, 12)),  # ISO, as the xlsx reader renders date cells
        ("1980-05-12 00:00:00", date(1980, 5, 12)),  # ISO datetime from a CSV export
        ("12 Mei 1980", date(1980, 5, 12)),  # Indonesian month name
        ("12 Agustus 1980", date(1980, 8, 12)),
        ("5 Desember 1999", date(1999, 12, 5)),
        ("5 December 1999", date(1999, 12, 5)),  # English month name
        ("1 Pebruari 1990", date(1990, 2, 1)),  # old spelling still typed
        ("01-JUL-1955", date(1955, 7, 1)),  # dd-MMM-yyyy
        ("01-JUL-55", date(1955, 7, 1)),  # 2055 would be after the run date
        ("01-MEI-25", date(2025, 5, 1)),  # 2025 is not after the run date
        ("17-AGS-80", date(1980, 8, 17)),
        ("17-AGT-80", date(1980, 8, 17)),
        ("17-aug-80", date(1980, 8, 17)),  # any case
        ("09-OKT-85", date(1985, 10, 9)),
        ("31-DES-99", date(1999, 12, 31)),
        ("29221", date(1980, 1, 1)),  # Excel serial of 1980-01-01
        ("29221.0", date(1980, 1, 1)),  # the serial as a float rendered by another tool
        ("45717", date(2025, 3, 1)),
        ("  12/05/1980 ", date(1980, 5, 12)),
        ("31/02/1980", None),  # 31 February never exists
        ("29/02/1981", None),
        ("12/13/1980", None),  # month first is never read: month 13 is not a month
        ("1980", None),  # a year alone is not serial 1980
        ("29221.5", None),  # a serial with a time of day is not a plain date
        ("80001", None),  # beyond the serial range (2119)
        ("12 Foo 1980", None),
        ("", None),
        ("-", None),
        (None, None),
    ],
)
def test_parse_date(text: str | None, expected: date | None) -> None:
    assert _one(parse_date(pl.col("v"), not_after=RUN_DATE), text) == expected


@pytest.mark.parametrize(
    ("text", "not_after", "expected"),
    [
        ("31-DES-26", date(2026, 11, 27), date(1926, 12, 31)),  # a birth date is never in the future
        ("31-DES-26", date(2056, 12, 31), date(2026, 12, 31)),  # an end of protection may be
        ("31-DES-26", None, date(2026, 12, 31)),  # no bound: 00-68 are 20yy
        ("01-JUL-69", None, date(1969, 7, 1)),  # no bound: 69-99 are 19yy
        ("29-02-00", date(2026, 11, 27), date(2000, 2, 29)),  # exists in 2000, not in 1900
        ("01-01-2030", date(2026, 11, 27), date(2030, 1, 1)),  # four-digit years are never shifted
    ],
)
def test_parse_date_two_digit_years_take_the_century_before_not_after(
    text: str, not_after: date | None, expected: date
) -> None:
    assert _one(parse_date(pl.col("v"), not_after=not_after), text) == expected


def test_parse_date_reads_a_column_of_mixed_formats_at_once() -> None:
    frame = pl.DataFrame({"v": ["12-05-1980", "1980-05-12", "29353", "12 Mei 1980", "12-MEI-80", "x"]})
    parsed = frame.select(parse_date(pl.col("v"), not_after=RUN_DATE)).to_series().to_list()
    assert parsed == [date(1980, 5, 12)] * 5 + [None]


def test_parse_date_gives_every_cell_its_date_where_texts_repeat() -> None:
    # Each distinct text is parsed once and looked up: every cell must still get its own text's date, in its place.
    texts = ["12-05-1980", None, "01-JUL-55", "12-05-1980", "", "01-jul-55", None, "x", "12-05-1980"]
    parsed = pl.DataFrame({"v": texts}).select(parse_date(pl.col("v"), not_after=RUN_DATE)).to_series().to_list()
    may, july = date(1980, 5, 12), date(1955, 7, 1)
    assert parsed == [may, None, july, may, None, july, None, None, may]


# ---------------------------------------------------------------------------------------------- split_ttl


@pytest.mark.parametrize(
    ("ttl", "place", "date_text"),
    [
        ("Kuala Kapuas, 12-05-1980", "Kuala Kapuas", "12-05-1980"),
        ("Kuala Kapuas 12-05-1980", "Kuala Kapuas", "12-05-1980"),  # no comma
        ("Kuala Kapuas,12/05/1980", "Kuala Kapuas", "12/05/1980"),
        ("Kuala Kapuas, 12 Mei 1980", "Kuala Kapuas", "12 Mei 1980"),  # a date with spaces in it
        ("Pulang Pisau / 01-JUL-55", "Pulang Pisau", "01-JUL-55"),
        ("Sei Pasah, 1980-05-12", "Sei Pasah", "1980-05-12"),
        ("12-05-1980", None, "12-05-1980"),  # the date alone
        ("Kuala Kapuas", "Kuala Kapuas", None),  # the place alone
        (
            "Kuala Kapuas, tidak tahu",
            "Kuala Kapuas",
            "tidak tahu",
        ),  # after the comma: for parse_date to refuse
        ("", None, None),
        (None, None, None),
    ],
)
def test_split_ttl(ttl: str | None, place: str | None, date_text: str | None) -> None:
    place_expr, date_expr = split_ttl(pl.col("v"))
    row = pl.DataFrame({"v": [ttl]}, schema={"v": pl.String}).select(p=place_expr, d=date_expr).row(0)
    assert row == (place, date_text)


# ---------------------------------------------------------------------------------------------- parse_sex


@pytest.mark.parametrize(
    ("given", "sex"),
    [
        ("L", "L"),
        ("l", "L"),
        ("LK", "L"),
        ("Lk.", "L"),
        ("LAKI-LAKI", "L"),
        ("Laki Laki", "L"),
        ("laki2", "L"),
        ("Pria", "L"),
        ("M", "L"),
        ("P", "P"),
        ("PR", "P"),
        ("Perempuan", "P"),
        ("WANITA", "P"),
        ("F", "P"),
        (" p ", "P"),
        ("X", "?"),  # given but not understood: sex_invalid must be able to fire
        ("1", "?"),  # numeric codes differ between systems
        ("-", "?"),
        ("", None),  # empty is not invalid, only missing
        (None, None),
    ],
)
def test_parse_sex(given: str | None, sex: str | None) -> None:
    assert _one(parse_sex(pl.col("v")), given) == sex


# ---------------------------------------------------------------------------------------------- clean_nik


@pytest.mark.parametrize(
    ("given", "nik"),
    [
        ("6203010101900001", "6203010101900001"),
        ("6203 0101 0190 0001", "6203010101900001"),  # spaces
        ("6203.0101.0190.0001", "6203010101900001"),  # dots
        ("'6203010101900001", "6203010101900001"),  # Excel's text apostrophe
        ("’6203010101900001", "6203010101900001"),  # ... as a typographic one
        ("6203-0101-0190-0001", "6203010101900001"),  # dashes
        ("NIK: 6203010101900001 ", "6203010101900001"),  # leading and trailing non-digits
        ("6203010101900001.0", "6203010101900001"),  # a float's ".0"; the reader flags nik_from_number
        ("6.20301E+15", "620301E+15"),  # kept as it is: nik_format fires (and nik_from_number is set)
        ("62030101019000", "62030101019000"),  # 14 digits stay 14: never padded
        ("6203O10101900001", "6203O10101900001"),  # a letter O inside is not guessed at
        ("-", None),
        ("", None),
        (None, None),
    ],
)
def test_clean_nik(given: str | None, nik: str | None) -> None:
    assert _one(clean_nik(pl.col("v")), given) == nik


# ---------------------------------------------------------------------------------------------- village names


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Sei Pasah", "sungai pasah"),
        ("Sungai Pasah", "sungai pasah"),
        ("SEI. PASAH", "sungai pasah"),
        ("S. Pasah", "sungai pasah"),
        ("Sg. Pasah", "sungai pasah"),
        ("Desa Sei Pasah", "sungai pasah"),
        ("Kelurahan Selat Hilir", "selat hilir"),
        ("Kel. Selat Hilir", "selat hilir"),
        ("Kec. Kapuas Hilir", "kapuas hilir"),
        ("Karetau Manta'a", "karetau mantaa"),
        ("Karetau Manta’a", "karetau mantaa"),
        ("Karetau  Mantaa", "karetau mantaa"),
        ("Barunang II", "barunang ii"),
        ("Barunang 2", "barunang ii"),
        ("Palingkau Baru", "palingkau baru"),
        ("Palangkau Baru", "palangkau baru"),  # one letter apart, and it stays apart
        ("Anjir Serapat-Barat", "anjir serapat barat"),
        ("Kapuas", "kapuas"),  # the "s" at the end of a word is not "S." for Sungai
        ("", None),
        (None, None),
    ],
)
def test_normalise_village_name(name: str | None, key: str | None) -> None:
    assert _one(normalise_village_name(pl.col("v")), name) == key


# Villages from domain.md §4, chosen for their traps.
VILLAGES = pl.DataFrame(
    [
        ("62.03.02.1005", "Sei Pasah", "62.03.02", "Kapuas Hilir"),
        ("62.03.02.2007", "Sei Asam", "62.03.02", "Kapuas Hilir"),
        ("62.03.07.1001", "Palingkau Baru", "62.03.07", "Kapuas Murung"),
        ("62.03.07.1002", "Palingkau Lama", "62.03.07", "Kapuas Murung"),
        ("62.03.07.2008", "Palangkau Lama", "62.03.07", "Kapuas Murung"),
        ("62.03.07.2010", "Palangkau Baru", "62.03.07", "Kapuas Murung"),
        ("62.03.08.2003", "Basarang", "62.03.08", "Basarang"),
        ("62.03.08.2009", "Basarang Jaya", "62.03.08", "Basarang"),
        ("62.03.09.2034", "Sidomulyo", "62.03.09", "Mantangai"),
        ("62.03.11.2011", "Barunang", "62.03.11", "Kapuas Tengah"),
        ("62.03.12.2013", "Barunang II", "62.03.12", "Kapuas Hulu"),
        ("62.03.13.2009", "Sidomulyo", "62.03.13", "Tamban Catur"),
        ("62.03.15.2004", "Karetau Manta'a", "62.03.15", "Mandau Talawang"),
        ("62.03.01.2011", "Pulau Telo", "62.03.01", "Selat"),
    ],
    schema=["kode_desa", "nama_desa", "kode_kecamatan", "nama_kecamatan"],
    orient="row",
)


@pytest.mark.parametrize(
    ("desa", "kecamatan", "kode_desa"),
    [
        ("Palingkau Baru", None, "62.03.07.1001"),  # the kelurahan ...
        ("Palangkau Baru", None, "62.03.07.2010"),  # ... and the desa one letter away: never confused
        ("Palingkau", None, None),  # a prefix of two villages is neither
        ("Sidomulyo", None, None),  # in Mantangai and in Tamban Catur: ambiguous without the kecamatan
        ("Sidomulyo", "Mantangai", "62.03.09.2034"),
        ("Sidomulyo", "Kec. Tamban Catur", "62.03.13.2009"),
        ("Sidomulyo", "62.03.13", "62.03.13.2009"),  # the kecamatan by code
        ("Sidomulyo", "620309", "62.03.09.2034"),  # ... undotted
        ("Sidomulyo", "Kapuas Hilir", None),  # no Sidomulyo in the kecamatan given
        ("Sidomulyo", "Katingan Hilir", None),  # an unknown kecamatan is ignored: still ambiguous
        ("Sungai Pasah", None, "62.03.02.1005"),  # Sei Pasah spelled out
        ("Sei Pasah", "Kapuas Hilir", "62.03.02.1005"),
        ("Sei Pasah", "Kapuas Murung", None),  # a name outside the kecamatan given is not accepted
        ("Karetau Mantaa", None, "62.03.15.2004"),  # without the apostrophe
        ("Barunang II", None, "62.03.12.2013"),  # the Roman numeral tells it from Barunang ...
        ("Barunang", None, "62.03.11.2011"),  # ... in another kecamatan
        ("62.03.01.2011", None, "62.03.01.2011"),  # a dotted code
        ("6203012011", None, "62.03.01.2011"),  # the same code as 10 digits
        ("62 03 01 2011", None, "62.03.01.2011"),  # ... with spaces
        ("6203012011 Pulau Telo", None, "62.03.01.2011"),
        ("6203012099", None, None),  # a code not on the list is never read as a name
        ("Kapuas Hilir", None, None),  # a kecamatan name, and no desa has that name
        ("Basarang", None, "62.03.08.2003"),  # a desa named like its kecamatan
        ("Basarang", "Basarang", "62.03.08.2003"),
        ("Desa Basarang Jaya", None, "62.03.08.2009"),
        ("", None, None),
        (None, "Mantangai", None),
    ],
)
def test_resolve_village(desa: str | None, kecamatan: str | None, kode_desa: str | None) -> None:
    rows = pl.DataFrame({"desa": [desa], "kecamatan": [kecamatan]}, schema={"desa": pl.String, "kecamatan": pl.String})
    assert resolve_village(rows, VILLAGES)["kode_desa"].to_list() == [kode_desa]


def test_resolve_village_keeps_row_order_height_and_columns_without_a_kecamatan_column() -> None:
    rows = pl.DataFrame({"desa": ["Sidomulyo", "Sei Pasah", None, "Palangkau Lama", "Sei Pasah"], "nik": list("abcde")})
    resolved = resolve_village(rows, VILLAGES)
    assert resolved.columns == ["desa", "nik", "kode_desa"]
    assert resolved["nik"].to_list() == list("abcde")
    assert resolved["kode_desa"].to_list() == [None, "62.03.02.1005", None, "62.03.07.2008", "62.03.02.1005"]


def test_resolve_village_accepts_a_villages_list_with_undotted_codes() -> None:
    villages = VILLAGES.with_columns(
        pl.col("kode_desa").str.replace_all(".", "", literal=True),
        pl.col("kode_kecamatan").str.replace_all(".", "", literal=True),
    )
    rows = pl.DataFrame({"desa": ["Sidomulyo", "62.03.07.1001"], "kecamatan": ["Mantangai", None]})
    assert resolve_village(rows, villages)["kode_desa"].to_list() == ["62.03.09.2034", "62.03.07.1001"]


WILAYAH = Path(__file__).resolve().parents[3] / "shared" / "reference" / "kapuas_wilayah.csv"


@pytest.mark.skipif(not WILAYAH.is_file(), reason="the shared Kapuas region list is not on this machine")
def test_every_kapuas_village_resolves_to_itself_by_name_within_its_kecamatan_and_by_code() -> None:
    wilayah = pl.read_csv(WILAYAH, infer_schema=False).filter(pl.col("level") != "kecamatan")
    villages = wilayah.select(
        kode_desa="kode", nama_desa="nama", kode_kecamatan="kode_kecamatan", nama_kecamatan="nama_kecamatan"
    )
    by_name = resolve_village(villages.select(desa="nama_desa", kecamatan="nama_kecamatan"), villages)
    by_code = resolve_village(
        villages.select(desa=pl.col("kode_desa").str.replace_all(".", "", literal=True)), villages
    )
    assert by_name["kode_desa"].to_list() == villages["kode_desa"].to_list()
    assert by_code["kode_desa"].to_list() == villages["kode_desa"].to_list()
    # Without the kecamatan only Sidomulyo (two kecamatan) stays unresolved.
    alone = resolve_village(villages.select(desa="nama_desa"), villages)
    unresolved = villages.filter(alone["kode_desa"].is_null())["nama_desa"].to_list()
    assert unresolved == ["Sidomulyo", "Sidomulyo"]
