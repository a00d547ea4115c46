"""Typed columns that the validation suites compare.

Village files hold text. Before Great Expectations can check a rule such as "the date inside the NIK is possible"
the text is parsed into typed columns here; the rules themselves (which column, which bound, which reason code)
live only in the suites under ``expectations/suites/``.
"""

from __future__ import annotations

from datetime import date
from typing import TypeVar

import polars as pl

from cakupan import values
from cakupan.names import NAME_KEY, name_key
from cakupan.nik import nik_columns

# The columns of submission_rows.json, in the order GX sees them.
SUBMISSION_CHECK_COLUMNS = (
    "nik",
    "nik_from_number",
    "nik_checked",
    "nik_province",
    "nik_date_valid",
    "names_per_nik",
    "nama",
    "birth_date",
    "age_days",
    "age_years",
    "sex_stated",
    "sex_valid",
    "sex_source",
    "nik_sex",
    "nik_dmy",
    "stated_dmy",
    "kode_desa",
)


Frame = TypeVar("Frame", pl.DataFrame, pl.LazyFrame)


def _ddmmyy(day: pl.Expr, month: pl.Expr, yy: pl.Expr) -> pl.Expr:
    return pl.concat_str([e.cast(pl.String).str.zfill(2) for e in (day, month, yy)])


def prepare_rows(raw: pl.DataFrame, villages: pl.DataFrame, run_date: date) -> pl.DataFrame:
    """Parse raw submission rows (reader contract plus ``file_id`` and ``file_kode_desa``) into typed columns.

    Adds nik (cleaned), nama, birth_date, sex (stated, else from the NIK), kode_desa (the row's village, else the
    file's; null when a village was named but is not in the reference list) and the check columns of the suite.
    The values as given stay in their ``*_given`` columns for the row ledger and the village feedback.
    """
    given = ["nik", "nama", "tanggal_lahir", "ttl", "jenis_kelamin", "desa", "kecamatan"]
    frame = raw.with_columns(pl.col(c).alias(f"{c}_given") for c in given)
    ttl_place, ttl_date = values.split_ttl(pl.col("ttl"))
    frame = frame.with_columns(
        values.clean_nik(pl.col("nik")).alias("nik"),
        values.cell_text(pl.col("nama")).alias("nama"),
        values.parse_date(pl.coalesce(pl.col("tanggal_lahir"), ttl_date), not_after=run_date).alias("birth_date"),
        pl.coalesce(pl.col("tempat_lahir"), ttl_place).alias("birth_place"),
        values.parse_sex(pl.col("jenis_kelamin")).alias("sex_stated"),
    )
    frame = values.resolve_village(frame, villages).rename({"kode_desa": "kode_desa_row"})
    village_named = pl.col("desa").str.strip_chars().str.len_chars().fill_null(0) > 0
    frame = frame.with_columns(
        pl.when(village_named).then(pl.col("kode_desa_row")).otherwise(pl.col("file_kode_desa")).alias("kode_desa"),
        pl.when(~pl.col("nik_from_number")).then(pl.col("nik")).alias("nik_checked"),
    ).drop("kode_desa_row")
    frame = frame.with_columns(*nik_columns("nik_checked"), name_key(pl.col("nama")).alias(NAME_KEY))
    frame = frame.with_columns(
        pl.when(pl.col("nik").is_not_null())
        .then(pl.col(NAME_KEY).drop_nulls().n_unique().over("file_id", "nik"))
        .alias("names_per_nik"),
        (pl.lit(run_date) - pl.col("birth_date")).dt.total_days().alias("age_days"),
    )
    # Checks that read the NIK as the person's own (its date, its sex) are skipped when the NIK belongs to several
    # names (a family-card number), and checks that read the stated birth date are skipped when it is impossible:
    # the row is rejected for that already, and a second message about the same cell only confuses the village.
    own_nik = pl.col("nik_date_valid").fill_null(False) & (pl.col("names_per_nik").fill_null(1) <= 1)
    birth_ok = pl.col("age_days") >= 0
    birth = pl.col("birth_date")
    age_years = (
        pl.lit(run_date.year)
        - birth.dt.year()
        # dt.month() is Int8: widened before "* 100", which would otherwise wrap around for October-December.
        - (
            pl.lit(run_date.month * 100 + run_date.day)
            < birth.dt.month().cast(pl.Int32) * 100 + birth.dt.day().cast(pl.Int32)
        ).cast(pl.Int32)
    )
    frame = frame.with_columns(
        pl.when(birth_ok).then(age_years).alias("age_years"),
        pl.when(pl.col("sex_stated").is_in(["L", "P"])).then(pl.col("sex_stated")).alias("sex_valid"),
        pl.when(own_nik).then(pl.col("nik_sex")).alias("nik_sex"),
        pl.when(own_nik).then(_ddmmyy(pl.col("nik_day"), pl.col("nik_month"), pl.col("nik_yy"))).alias("nik_dmy"),
        pl.when(birth_ok).then(_ddmmyy(birth.dt.day(), birth.dt.month(), birth.dt.year() % 100)).alias("stated_dmy"),
    )
    return frame.with_columns(
        pl.when(pl.col("sex_valid").is_not_null())
        .then(pl.lit("stated"))
        .when(pl.col("sex_stated").is_null() & pl.col("nik_sex").is_not_null())
        .then(pl.lit("nik"))
        .alias("sex_source"),
        pl.coalesce(pl.col("sex_valid"), pl.col("nik_sex")).alias("sex"),
    )


def prepare_members(raw: Frame, run_date: date) -> Frame:
    """Parse a BPJS export (reader contract) into typed members and the check columns of bpjs_export.json.

    dates_parse is False when a date cell holds text that is not a date; dates_ordered is False when protection
    ends before it starts.
    """
    end_dates = ("tgl_kepesertaan", "tgl_berakhir", "masa_grace")
    given_dates = [pl.col(c).str.strip_chars().str.len_chars().fill_null(0) > 0 for c in end_dates]
    frame = raw.with_columns(
        values.clean_nik(pl.col("nik")).alias("nik"),
        pl.col("kpj").str.replace_all(r"[\s.'\-]", "").alias("kpj"),
        pl.col("nama").str.strip_chars(),
        pl.col("status").str.strip_chars().str.to_uppercase().alias("status_norm"),
        # A birth date is never after the run date; the end of protection may lie years ahead.
        values.parse_date(pl.col("tgl_lahir"), not_after=run_date).alias("tgl_lahir"),
        *(values.parse_date(pl.col(c), not_after=date(run_date.year + 30, 12, 31)).alias(c) for c in end_dates),
        *(g.alias(f"_given_{c}") for g, c in zip(given_dates, end_dates, strict=True)),
    )
    parsed = pl.all_horizontal(~pl.col(f"_given_{c}") | pl.col(c).is_not_null() for c in end_dates)
    ordered = (pl.col("tgl_berakhir") >= pl.col("tgl_kepesertaan")).fill_null(True)
    # A NIK that came through a number is reported once, as nik_precision_lost, not also as a format error.
    checked = pl.when(~pl.col("nik_from_number")).then(pl.col("nik"))
    return frame.with_columns(
        parsed.alias("dates_parse"), ordered.alias("dates_ordered"), checked.alias("nik_checked")
    ).drop(*(f"_given_{c}" for c in end_dates))
