"""Coverage metrics per village (desa), district (kecamatan) and regency (kabupaten).

Grain: one row per (run_date, level, kode). Desa and kecamatan rows cover what can be placed in a village; the
kabupaten row covers everything, including rows of files with no known village and regency-paid members that no
village proposed (enrolled_not_submitted), so it can exceed the sum of its kecamatan.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from cakupan.reconcile import STATUSES

ROW_COUNTS = ("submitted_rows", "accepted", "rejected", "duplicates", "superseded")
PERSON_COUNTS = ("persons", *STATUSES)
COUNT_COLUMNS = (*ROW_COUNTS, *PERSON_COUNTS)
LEVELS = ("desa", "kecamatan", "kabupaten")

_ROW_COUNT_EXPRS = [
    pl.len().alias("submitted_rows"),
    (pl.col("outcome") == "accepted").sum().alias("accepted"),
    (pl.col("outcome") == "rejected").sum().alias("rejected"),
    pl.col("outcome").is_in(["duplicate_in_file", "duplicate_across_villages"]).sum().alias("duplicates"),
    (pl.col("outcome") == "superseded").sum().alias("superseded"),
]
_PERSON_COUNT_EXPRS = [pl.len().alias("persons")] + [(pl.col("status") == s).sum().alias(s) for s in STATUSES]


def _counts(frame: pl.DataFrame, key: str, exprs: list[pl.Expr]) -> pl.DataFrame:
    return frame.filter(pl.col(key).is_not_null()).group_by(key).agg(exprs).rename({key: "kode"})


def coverage_metrics(
    *,
    run_date: date,
    rows: pl.DataFrame,
    persons: pl.DataFrame,
    villages: pl.DataFrame,
    members_active_total: int,
    workforce: pl.DataFrame | None,
    region_code: str,
    region_name: str,
    target_total: int | None,
) -> pl.DataFrame:
    """The coverage table of one run.

    rows: the row ledger (kode_desa, outcome); persons: reconciliation (kode_desa, status); villages: reference
    (kode_desa, nama_desa, kode_kecamatan, nama_kecamatan, kuota); workforce: (kode, tahun, penduduk_bekerja,
    sumber), the latest year not after the run date is used. target_attainment = active / kuota, not clipped.
    """
    kecamatan_of = villages.select("kode_desa", "kode_kecamatan")
    rows = rows.select("kode_desa", "outcome").join(kecamatan_of, on="kode_desa", how="left")
    persons = persons.select("kode_desa", "status").join(kecamatan_of, on="kode_desa", how="left")

    desa = villages.select(
        pl.lit("desa").alias("level"), pl.col("kode_desa").alias("kode"), pl.col("nama_desa").alias("nama"), "kuota"
    )
    kecamatan = (
        villages.group_by("kode_kecamatan", "nama_kecamatan")
        .agg(pl.col("kuota").sum())
        .select(
            pl.lit("kecamatan").alias("level"),
            pl.col("kode_kecamatan").alias("kode"),
            pl.col("nama_kecamatan").alias("nama"),
            "kuota",
        )
    )
    desa = desa.join(_counts(rows, "kode_desa", _ROW_COUNT_EXPRS), on="kode", how="left").join(
        _counts(persons, "kode_desa", _PERSON_COUNT_EXPRS), on="kode", how="left"
    )
    kecamatan = kecamatan.join(_counts(rows, "kode_kecamatan", _ROW_COUNT_EXPRS), on="kode", how="left").join(
        _counts(persons, "kode_kecamatan", _PERSON_COUNT_EXPRS), on="kode", how="left"
    )
    kabupaten = pl.concat(
        [
            pl.DataFrame(
                {
                    "level": ["kabupaten"],
                    "kode": [region_code],
                    "nama": [region_name],
                    "kuota": [target_total if target_total is not None else int(villages["kuota"].sum())],
                }
            ),
            rows.select(_ROW_COUNT_EXPRS),
            persons.select(_PERSON_COUNT_EXPRS),
        ],
        how="horizontal",
    )
    table = pl.concat([desa, kecamatan, kabupaten], how="diagonal_relaxed").with_columns(
        pl.col(c).fill_null(0).cast(pl.Int64) for c in COUNT_COLUMNS
    )
    table = table.with_columns(
        pl.col("kuota").cast(pl.Int64),
        pl.when(pl.col("kuota") > 0).then(pl.col("active") / pl.col("kuota")).alias("target_attainment"),
    )

    penduduk_bekerja, source, year = _workforce(workforce, region_code, run_date)
    is_kab = pl.col("level") == "kabupaten"
    table = table.with_columns(
        pl.when(is_kab).then(pl.lit(members_active_total, pl.Int64)).alias("members_active_total"),
        pl.when(is_kab).then(pl.lit(penduduk_bekerja, pl.Int64)).alias("penduduk_bekerja"),
        pl.when(is_kab).then(pl.lit(year, pl.Int64)).alias("workforce_year"),
        pl.when(is_kab).then(pl.lit(source, pl.String)).alias("workforce_source"),
    ).with_columns(
        pl.when(pl.col("penduduk_bekerja") > 0)
        .then(pl.col("members_active_total") / pl.col("penduduk_bekerja"))
        .alias("workforce_coverage")
    )
    level_order = pl.col("level").replace_strict({lvl: i for i, lvl in enumerate(LEVELS)}, return_dtype=pl.Int8)
    return (
        table.with_columns(pl.lit(run_date).alias("run_date"))
        .sort(level_order, "kode")
        .select(
            "run_date",
            "level",
            "kode",
            "nama",
            "kuota",
            *COUNT_COLUMNS,
            "target_attainment",
            "members_active_total",
            "penduduk_bekerja",
            "workforce_coverage",
            "workforce_year",
            "workforce_source",
        )
    )


def _workforce(
    workforce: pl.DataFrame | None, region_code: str, run_date: date
) -> tuple[int | None, str | None, int | None]:
    if workforce is None:
        return None, None, None
    latest = (
        workforce.filter((pl.col("kode") == region_code) & (pl.col("tahun") <= run_date.year))
        .sort("tahun", descending=True)
        .head(1)
    )
    if latest.is_empty():
        return None, None, None
    row = latest.row(0, named=True)
    return int(row["penduduk_bekerja"]), row["sumber"], int(row["tahun"])
