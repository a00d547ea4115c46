"""What a NIK says about its holder, as typed columns that the validation suite compares.

A NIK is ``PP KK CC DD MM YY SSSS``: province, regency and kecamatan of first registration, the birth date with 40
added to the day for women, and a serial from 0001 (Permendagri/Dukcapil; see README, "NIK"). The prefix is where
the NIK was first issued, not where the person lives, so it is information, never a reason to reject.
"""

from __future__ import annotations

import polars as pl

# Province codes of the 38 provinces (Kepmendagri wilayah data; 93-96 are the 2022 Papua provinces).
PROVINCE_CODES: tuple[str, ...] = (
    *(str(c) for c in range(11, 20)),
    "21",
    *(str(c) for c in range(31, 37)),
    *(str(c) for c in range(51, 54)),
    *(str(c) for c in range(61, 66)),
    *(str(c) for c in range(71, 77)),
    "81",
    "82",
    "91",
    "92",
    "93",
    "94",
    "95",
    "96",
)

# ASCII digits only: a regex \d also matches other scripts' digits, which no NIK is written in.
NIK_PATTERN = r"^[0-9]{16}$"


def _part(nik: pl.Expr, offset: int, length: int) -> pl.Expr:
    return nik.str.slice(offset, length).cast(pl.Int32, strict=False)


def nik_columns(nik: str = "nik") -> list[pl.Expr]:
    """Columns parsed from a cleaned NIK; all null when the NIK is not 16 digits.

    nik_province (2-digit text), nik_day (1-31, women's +40 removed), nik_month, nik_yy (two-digit year),
    nik_sex ("L"/"P"), nik_date_valid (False for month 00/13, day outside 01-31/41-71, 31 February, serial 0000).
    """
    col = pl.col(nik)
    well_formed = col.str.contains(NIK_PATTERN).fill_null(False)
    raw_day = _part(col, 6, 2)
    month = _part(col, 8, 2)
    yy = _part(col, 10, 2)
    day = pl.when(raw_day > 40).then(raw_day - 40).otherwise(raw_day)
    date_valid = (
        (raw_day.is_between(1, 31) | raw_day.is_between(41, 71))
        & month.is_between(1, 12)
        & (col.str.slice(12, 4) != "0000")
    )

    def when_formed(expr: pl.Expr) -> pl.Expr:
        return pl.when(well_formed).then(expr)

    return [
        when_formed(col.str.slice(0, 2)).alias("nik_province"),
        when_formed(day).alias("nik_day"),
        when_formed(month).alias("nik_month"),
        when_formed(yy).alias("nik_yy"),
        when_formed(pl.when(raw_day > 40).then(pl.lit("P")).otherwise(pl.lit("L"))).alias("nik_sex"),
        when_formed(date_valid & _date_exists(day, month, yy)).alias("nik_date_valid"),
    ]


def _date_exists(day: pl.Expr, month: pl.Expr, yy: pl.Expr) -> pl.Expr:
    # The century is not in the NIK: the date is possible when it exists in 19yy or in 20yy (29 February 2000).
    # Built as text and parsed leniently, since impossible components must give False, not an error.
    def as_date(century: str) -> pl.Expr:
        text = pl.concat_str(
            [pl.lit(century), *(part.cast(pl.String).str.zfill(2) for part in (yy, month, day))], separator=""
        )
        return text.str.to_date("%Y%m%d", strict=False).is_not_null()

    return (as_date("19") | as_date("20")).fill_null(False)
