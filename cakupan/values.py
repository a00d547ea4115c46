"""Parse the text cells of submissions and BPJS exports into typed values, as polars expressions.

Every function here is vectorised: it takes and returns polars expressions (or frames) and never loops over
rows in Python, so a 60,000-row export is parsed in milliseconds. None of them raises on bad values: a value
that cannot be understood becomes null (or "?" for sex), and the validation rules decide what that means.
"""

from __future__ import annotations

from datetime import date

import polars as pl

# Month names and abbreviations seen in village lists and BPJS exports, Indonesian and English, lower case.
# Old spellings (Pebruari, Nopember) and common misspellings (Febuari) are still typed by village operators.
MONTHS: dict[str, int] = {
    **{m: 1 for m in ("jan", "januari", "january")},
    **{m: 2 for m in ("feb", "peb", "februari", "pebruari", "febuari", "february")},
    **{m: 3 for m in ("mar", "maret", "march")},
    **{m: 4 for m in ("apr", "april")},
    **{m: 5 for m in ("mei", "may")},
    **{m: 6 for m in ("jun", "juni", "june")},
    **{m: 7 for m in ("jul", "juli", "july")},
    **{m: 8 for m in ("ags", "agt", "agu", "agus", "agst", "agustus", "aug", "august")},
    **{m: 9 for m in ("sep", "sept", "september")},
    **{m: 10 for m in ("okt", "oct", "oktober", "october")},
    **{m: 11 for m in ("nov", "nop", "november", "nopember")},
    **{m: 12 for m in ("des", "dec", "desember", "december")},
}

# Excel serial day numbers accepted as dates: 10000 = 1927-05-18, 80000 = 2119-01-10. Four-digit numbers are
# left out on purpose: "1980" in a birth-date cell is a year someone typed, not serial 1980 (1905-06-02).
EXCEL_SERIAL_MIN = 10_000
EXCEL_SERIAL_MAX = 80_000

_TIME = r"(?:[ t]+[0-9]{1,2}[:.][0-9]{2}(?:[:.][0-9]{2}(?:\.[0-9]+)?)?)?"
_ISO = rf"^([0-9]{{4}})[-/.]([0-9]{{1,2}})[-/.]([0-9]{{1,2}}){_TIME}$"
_DMY = rf"^([0-9]{{1,2}})[-/.]([0-9]{{1,2}})[-/.]([0-9]{{4}}|[0-9]{{2}}){_TIME}$"
_NAMED = rf"^([0-9]{{1,2}})[-/.\s]*([a-z]+)\.?[-/.,\s]*([0-9]{{4}}|[0-9]{{2}}){_TIME}$"
_SERIAL = r"^([0-9]{5})(?:\.0+)?$"

# The date part of a TTL cell: any of the shapes parse_date reads, at the end of the cell.
_TTL_DATE = (
    r"([0-9]{4}[-/.][0-9]{1,2}[-/.][0-9]{1,2}"
    r"|[0-9]{1,2}[-/.][0-9]{1,2}[-/.](?:[0-9]{4}|[0-9]{2})"
    r"|[0-9]{1,2}[-/.\s]*[A-Za-z]+\.?[-/.,\s]*(?:[0-9]{4}|[0-9]{2})"
    r"|[0-9]{5}(?:\.0+)?)"
)

SEX_CODES: dict[str, str] = {
    **{k: "L" for k in ("L", "LK", "LAKILAKI", "LAKI2", "LAKI", "PRIA", "M", "MALE")},
    **{k: "P" for k in ("P", "PR", "PEREMPUAN", "WANITA", "W", "F", "FEMALE")},
}

_ROMAN = {"1": "i", "2": "ii", "3": "iii", "4": "iv", "5": "v", "6": "vi", "7": "vii", "8": "viii", "9": "ix"}


def cell_text(expr: pl.Expr) -> pl.Expr:
    """The cell as stripped text, null when empty.

    (Not ``.replace("", None)``: polars' streaming engine holds a replaced column whole, 2.7 GB for a 580 MB
    export, while this streams.)
    """
    text = expr.cast(pl.String).str.strip_chars()
    return pl.when(text.str.len_bytes() > 0).then(text)


def _ymd(year: pl.Expr, month: pl.Expr, day: pl.Expr) -> pl.Expr:
    """A date from integer parts; null for impossible dates (31/02) and out-of-range parts.

    Integer arithmetic on whole columns (days since 1970 by the proleptic Gregorian calendar, H. Hinnant's
    days_from_civil) rather than formatting and parsing text: a national export has 200 million date cells.
    """
    y, m, d = year.cast(pl.Int64), month.cast(pl.Int64), day.cast(pl.Int64)
    leap = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
    days_in_month = (
        pl.when(m == 2).then(pl.when(leap).then(29).otherwise(28)).when(m.is_in([4, 6, 9, 11])).then(30).otherwise(31)
    )
    possible = y.is_between(0, 9999) & m.is_between(1, 12) & d.is_between(1, days_in_month)
    shifted = y - (m <= 2).cast(pl.Int64)  # the year counted from March, so 29 February ends it
    era = shifted.floordiv(400)
    year_of_era = shifted - era * 400
    day_of_year = (153 * (m + pl.when(m > 2).then(-3).otherwise(9)) + 2).floordiv(5) + d - 1
    day_of_era = year_of_era * 365 + year_of_era.floordiv(4) - year_of_era.floordiv(100) + day_of_year
    days = era * 146097 + day_of_era - 719468
    return pl.when(possible).then(days.cast(pl.Int32).cast(pl.Date))


def parse_date(expr: pl.Expr, *, not_after: date | None) -> pl.Expr:
    """The calendar date a cell means, or null when it does not clearly mean one.

    Reads DD/MM/YYYY, DD-MM-YYYY (also with dots), YYYY-MM-DD (also with a time, as rendered from datetime
    cells), "12 Mei 1980", "01-JUL-55" and "1-Agustus-1980" with Indonesian or English month names, and Excel
    serial day numbers such as "29221" or "29221.0" (1900 date system: 29221 = 1980-01-01). Day comes before
    month: Indonesian lists never write month first.

    A two-digit year takes the century that puts the date on or before `not_after` (pass the run date for
    birth dates: "01-JUL-55" -> 1955-07-01, "01-MEI-25" -> 2025-05-01). With `not_after=None` (dates that
    may lie in the future, such as a BPJS protection end date) 00-68 mean 20yy and 69-99 mean 19yy, the POSIX
    rule. Four-digit years are never shifted, even when the date is in the future.

    Example:
        >>> frame.select(parse_date(pl.col("tanggal_lahir"), not_after=run_date))
    """
    return (
        cell_text(expr)
        .str.to_lowercase()
        .map_batches(lambda text: _parse_dates(text, not_after), return_dtype=pl.Date, is_elementwise=True)
    )


def _parse_dates(text: pl.Series, not_after: date | None) -> pl.Series:
    """``parse_date`` on lowercase stripped text, each distinct text parsed once: a column of dates holds few
    (a regency's export: 60,000 birth dates, 18,000 distinct; dates of membership repeat more), and matching the
    patterns costs far more than looking a text up."""
    distinct = text.unique()
    parsed = pl.DataFrame({"text": distinct, "date": _parse_distinct_dates(distinct, not_after)})
    looked_up = pl.DataFrame({"text": text}).join(
        parsed, on="text", how="left", nulls_equal=True, maintain_order="left"
    )
    return looked_up["date"].alias(text.name)


def _parse_distinct_dates(text: pl.Series, not_after: date | None) -> pl.Series:
    """``_parse_dates`` step by step over a frame, so that each pattern is matched once per cell: written as one
    expression, every use of the year or the month matched the patterns again."""
    frame = pl.DataFrame({"text": text}).with_columns(
        iso=pl.col("text").str.extract_groups(_ISO),
        dmy=pl.col("text").str.extract_groups(_DMY),
        named=pl.col("text").str.extract_groups(_NAMED),
        serial=pl.col("text").str.extract(_SERIAL, 1).cast(pl.Int64),
    )
    iso, dmy, named = pl.col("iso").struct, pl.col("dmy").struct, pl.col("named").struct
    frame = frame.select(
        "serial",
        pl.coalesce(iso.field("1"), dmy.field("3"), named.field("3")).alias("year_text"),
        pl.coalesce(
            iso.field("2").cast(pl.Int32),
            dmy.field("2").cast(pl.Int32),
            named.field("2").replace_strict(MONTHS, default=None, return_dtype=pl.Int32),
        ).alias("month"),
        pl.coalesce(
            iso.field("3").cast(pl.Int32),
            dmy.field("1").cast(pl.Int32),
            named.field("1").cast(pl.Int32),
        ).alias("day"),
    ).with_columns(pl.col("year_text").cast(pl.Int32).alias("year"))
    year, month, day = pl.col("year"), pl.col("month"), pl.col("day")
    frame = frame.with_columns(
        _ymd(year, month, day).alias("four_digit"),
        _ymd(year + 2000, month, day).alias("in_2000s"),
        _ymd(year + 1900, month, day).alias("in_1900s"),
    )
    if not_after is None:
        two_digit = pl.when(year >= 69).then(pl.col("in_1900s")).otherwise(pl.col("in_2000s"))
    else:
        two_digit = pl.when(pl.col("in_2000s") <= pl.lit(not_after)).then("in_2000s").otherwise("in_1900s")
    from_parts = pl.when(pl.col("year_text").str.len_bytes() == 4).then(pl.col("four_digit")).otherwise(two_digit)
    serial = pl.col("serial")
    # Serial 1 is 1900-01-01 and Excel counts a 29 Feb 1900 that never was (serial 60), so from serial 61 on
    # the day is 1899-12-30 + serial; the accepted range starts far above that.
    from_serial = (
        pl.when(serial.is_between(EXCEL_SERIAL_MIN, EXCEL_SERIAL_MAX))
        .then(pl.lit(date(1899, 12, 30)) + pl.duration(days=serial))
        .cast(pl.Date)
    )
    return frame.select(pl.coalesce(from_serial, from_parts)).to_series().alias(text.name)


def split_ttl(expr: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """Split a TTL (tempat, tanggal lahir) cell into its place and its date text.

    "Kuala Kapuas, 12-05-1980", "Kuala Kapuas 12-05-1980" and "Kuala Kapuas, 12 Mei 1980" all give
    ("Kuala Kapuas", the date text). The date text still needs `parse_date`. Without a recognisable date the
    text after the last comma is taken as the date text, and without a comma the whole cell is the place.
    Either part is null when empty.
    """
    text = cell_text(expr)
    matched = text.str.extract_groups(rf"^(.*?)[\s,;/]*{_TTL_DATE}{_TIME}\s*$")
    by_comma = text.str.extract_groups(r"^(.*),(.*)$")

    place = (
        pl.when(matched.struct.field("2").is_not_null())
        .then(matched.struct.field("1"))
        .when(by_comma.struct.field("1").is_not_null())
        .then(by_comma.struct.field("1"))
        .otherwise(text)
    )
    date_text = pl.coalesce(matched.struct.field("2"), by_comma.struct.field("2"))
    return cell_text(place.str.strip_chars(" \t,;/")), cell_text(date_text)


def parse_sex(expr: pl.Expr) -> pl.Expr:
    """Jenis kelamin as "L" (laki-laki) or "P" (perempuan); null when empty; "?" when not understood.

    Case, spaces and punctuation are ignored, so "Laki-laki", "LAKI LAKI", "Lk." and "laki2" are all "L", and
    "Perempuan", "Wanita", "Pr" and "P" are all "P". English M/F are accepted too. Anything else that is not
    empty (including the numeric codes 1/2, whose meaning differs between systems) is "?", so the
    sex_invalid rule can fire.
    """
    text = cell_text(expr)
    key = text.str.to_uppercase().str.replace_all(r"[^A-Z0-9]", "")
    return pl.when(text.is_not_null()).then(key.replace_strict(SEX_CODES, default="?", return_dtype=pl.String))


def clean_nik(expr: pl.Expr) -> pl.Expr:
    """The NIK as typed, without the separators and marks people add around the 16 digits.

    Removes spaces, dots, apostrophes (Excel's text marker "'620..."), dashes and any leading or trailing
    non-digits, and the ".0" a float rendering appends. Anything else is kept, so a NIK that is still not 16
    digits afterwards is reported by the format rule instead of being guessed at. Whether the value came
    through a number (`nik_from_number`) is the reader's flag and is not changed here; this function never
    restores lost digits.
    """
    text = cell_text(expr)
    cleaned = (
        text.str.replace(r"^([0-9]+)\.0+$", "${1}")
        .str.replace_all(r"[\s.'`´‘’\-‐‑–—]", "")
        # Any script's digits count here, so a NIK typed in full-width digits stays for nik_format to report.
        .str.replace_all(r"^\D+|\D+$", "")
    )
    return cell_text(cleaned)


def normalise_village_name(expr: pl.Expr) -> pl.Expr:
    """The comparison key of a village (or kecamatan) name; never shown to anyone.

    Lower case; "Sei", "Sei.", "Sg." and "S." become "sungai" (the name list writes Sei, villages often write
    Sungai); apostrophes vanish ("Manta'a" = "Mantaa"); other punctuation becomes a space; a leading "desa",
    "kelurahan", "kel.", "ds." or "kecamatan"/"kec." is dropped; a standalone digit 1-9 becomes its Roman
    numeral ("Barunang 2" = "Barunang II"); spaces are single. "Palingkau" and "Palangkau" stay different.
    """
    key = (
        cell_text(expr)
        .str.to_lowercase()
        .str.replace_all(r"['`´‘’]", "")
        .str.replace_all(r"\b(?:sei|sg)\b\.?|\bs\.", " sungai ")
        .str.replace_all(r"[^\p{L}\p{N}]+", " ")
        .str.strip_chars()
        .str.replace(r"^(?:desa|kelurahan|kel|ds|kecamatan|kec)\s+", "")
    )
    for digit, roman in _ROMAN.items():
        key = key.str.replace_all(rf"\b{digit}\b", roman)
    return cell_text(key)


def normalise_village_code(expr: pl.Expr) -> pl.Expr:
    """A 10-digit desa/kelurahan code in Kemendagri dotted form ("62.03.01.2001"), from "6203012001",
    "62.03.01.2001" or "62 03 01 2001" (also followed by a name: "6203012001 Selat Hilir"); else null."""
    parts = cell_text(expr).str.extract_groups(
        r"^([0-9]{2})[.\s]*([0-9]{2})[.\s]*([0-9]{2})[.\s]*([0-9]{4})(?:[^0-9].*)?$"
    )
    return pl.concat_str([parts.struct.field(k) for k in ("1", "2", "3", "4")], separator=".")


def normalise_kecamatan_code(expr: pl.Expr) -> pl.Expr:
    """A 6-digit kecamatan code, dotted ("62.03.01"), from "620301", "62.03.01" or "62 03 01"; else null."""
    parts = cell_text(expr).str.extract_groups(r"^([0-9]{2})[.\s]*([0-9]{2})[.\s]*([0-9]{2})(?:[^0-9].*)?$")
    return pl.concat_str([parts.struct.field(k) for k in ("1", "2", "3")], separator=".")


def resolve_village(rows: pl.DataFrame, villages: pl.DataFrame) -> pl.DataFrame:
    """`rows` with `kode_desa`: the village each row names, in dotted form, or null when it cannot be told.

    `desa` may hold a code (10 digits, dotted or not) or a name; `kecamatan` (optional column) a name or a
    6-digit code. `villages` is the office's list: kode_desa, nama_desa, kode_kecamatan, nama_kecamatan.

    - A code resolves when it is on the list; a code that is not is null (never read as a name).
    - A name resolves when its normalised key (`normalise_village_name`) equals exactly one village's key,
      within the row's kecamatan when one is given. There is no fuzzy matching: "Palingkau Baru" never
      becomes "Palangkau Baru". A name in two kecamatan (Sidomulyo) without a kecamatan is null.
    - A kecamatan that matches no kecamatan on the list (a typo, another regency's) is treated as absent.
    - A desa cell naming a kecamatan ("Kapuas Hilir") is null unless a desa of that name exists (Basarang).

    Row order and height are kept; an existing `kode_desa` column is replaced.

    Example:
        >>> resolve_village(pl.DataFrame({"desa": ["Sungai Pasah"], "kecamatan": [None]}), villages)
        # kode_desa = "62.03.02.1005" (Sei Pasah)
    """
    vill = villages.select(
        kode_desa=normalise_village_code(pl.col("kode_desa")),
        key=normalise_village_name(pl.col("nama_desa")),
        kode_kecamatan=pl.coalesce(
            normalise_kecamatan_code(pl.col("kode_kecamatan")),
            normalise_kecamatan_code(pl.col("kode_desa")),
        ),
        kecamatan_key=normalise_village_name(pl.col("nama_kecamatan")),
    ).filter(pl.col("kode_desa").is_not_null())

    known_codes = vill.select(_code=pl.col("kode_desa"), _code_known=pl.lit(True)).unique("_code")
    kecamatan_by_name = (
        vill.group_by("kecamatan_key")
        .agg(_kec_by_name=pl.col("kode_kecamatan").unique())
        # A kecamatan name on the list points at one code; keep only such names.
        .filter(pl.col("_kec_by_name").list.len() == 1)
        .select(_kec_key="kecamatan_key", _kec_by_name=pl.col("_kec_by_name").list.first())
    )
    known_kecamatan = vill.select(_kec_code=pl.col("kode_kecamatan"), _kec_code_known=pl.lit(True)).unique()
    by_name = (
        vill.group_by("key")
        .agg(_n=pl.col("kode_desa").n_unique(), _kode=pl.col("kode_desa").first())
        .select(_key="key", _by_name=pl.when(pl.col("_n") == 1).then(pl.col("_kode")))
    )
    by_name_in_kecamatan = (
        vill.group_by("key", "kode_kecamatan")
        .agg(_n=pl.col("kode_desa").n_unique(), _kode=pl.col("kode_desa").first())
        .select(
            _key="key",
            _kec="kode_kecamatan",
            _by_name_kec=pl.when(pl.col("_n") == 1).then(pl.col("_kode")),
        )
    )

    kecamatan = pl.col("kecamatan") if "kecamatan" in rows.columns else pl.lit(None, dtype=pl.String)
    work = rows.select(
        _code=normalise_village_code(pl.col("desa")),
        _key=normalise_village_name(pl.col("desa")),
        _kec_code=normalise_kecamatan_code(kecamatan),
        _kec_key=normalise_village_name(kecamatan),
    )
    work = (
        work.join(known_codes, on="_code", how="left", maintain_order="left")
        .join(kecamatan_by_name, on="_kec_key", how="left", maintain_order="left")
        .join(known_kecamatan, on="_kec_code", how="left", maintain_order="left")
        .with_columns(
            _kec=pl.coalesce(
                pl.when(pl.col("_kec_code_known")).then(pl.col("_kec_code")),
                pl.col("_kec_by_name"),
            )
        )
        .join(by_name, on="_key", how="left", maintain_order="left")
        .join(by_name_in_kecamatan, on=["_key", "_kec"], how="left", maintain_order="left")
    )
    kode = (
        pl.when(pl.col("_code").is_not_null())
        .then(pl.when(pl.col("_code_known")).then(pl.col("_code")))
        .when(pl.col("_kec").is_not_null())
        .then(pl.col("_by_name_kec"))
        .otherwise(pl.col("_by_name"))
    )
    return rows.with_columns(work.select(kode_desa=kode).to_series())
