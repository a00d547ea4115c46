"""Coverage metrics per village (desa), district (kecamatan) and regency (kabupaten).

Grain: one row per (run_date, level, kode). Desa and kecamatan rows cover what can be placed in a village; the
kabupaten row covers everything, including rows of files with no known village and regency-paid members that no
village proposed (enrolled_not_submitted), so it can exceed the sum of its kecamatan.

``coverage_metrics`` gives the counts; ``with_premium`` adds what the regency pays each month, ``with_changes`` the
change of every count since the previous run, and ``invariant_checks`` the typed differences that
expectations/suites/coverage_metrics.json checks before anything is published.
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


# --- What the regency pays, what changed, and the invariants the published table keeps --------------------------

PREMIUM_COLUMNS = ("premium_members", "premium_rate_rp", "premium_monthly_rp")
# The counts whose change since the previous run is published next to them as ``<count>_delta``.
DELTA_COUNTS = (*COUNT_COLUMNS, "premium_members", "members_active_total")
DELTA_COLUMNS = ("previous_run_date", *(f"{c}_delta" for c in DELTA_COUNTS))
_PAYING_STATES = ("covered", "grace")
_MATCH_PRIORITY = {"nik_exact": 0, "nik_near": 1, "none": 2}


# What ``with_premium`` reads of the reconciliation (read only these: a national one has ten million rows).
PREMIUM_PERSON_COLUMNS = ("kode_desa", "kode_kecamatan", "member_nik", "match_method", "state", "paid_by_regency")


def with_premium(metrics: pl.DataFrame, persons: pl.DataFrame, *, rate_rp: int) -> pl.DataFrame:
    """Add the monthly premium the regency pays: members it pays for who are covered or in grace, times the rate.

    persons: the reconciliation (kode_desa, kode_kecamatan, member_nik, match_method, state, paid_by_regency).
    A member counts once, where the person who claims them is listed (an exact NIK match before a near one);
    regency-paid members no village proposed (enrolled_not_submitted) count at kabupaten level only.
    premium_monthly_rp = premium_members * premium_rate_rp.
    """
    paying = (
        persons.filter(pl.col("paid_by_regency").fill_null(False) & pl.col("state").is_in(_PAYING_STATES))
        .sort(pl.col("match_method").cast(pl.String).replace_strict(_MATCH_PRIORITY, default=3), "kode_desa")
        .unique("member_nik", keep="first", maintain_order=True)
    )
    by_desa = _premium_counts(paying, "kode_desa", "desa")
    by_kecamatan = _premium_counts(paying, "kode_kecamatan", "kecamatan")
    by_kabupaten = pl.DataFrame(
        {"level": ["kabupaten"], "premium_members": [paying.height]}, schema_overrides={"premium_members": pl.Int64}
    )
    counts = pl.concat(
        [by_desa, by_kecamatan, by_kabupaten.join(metrics.select("level", "kode"), on="level")], how="diagonal"
    )
    return (
        metrics.drop(PREMIUM_COLUMNS, strict=False)
        .join(counts, on=["level", "kode"], how="left", maintain_order="left")
        .with_columns(pl.col("premium_members").fill_null(0), pl.lit(rate_rp, pl.Int64).alias("premium_rate_rp"))
        .with_columns((pl.col("premium_members") * pl.col("premium_rate_rp")).alias("premium_monthly_rp"))
    )


def _premium_counts(paying: pl.DataFrame, key: str, level: str) -> pl.DataFrame:
    return (
        paying.filter(pl.col(key).is_not_null())
        .group_by(key)
        .agg(pl.len().cast(pl.Int64).alias("premium_members"))
        .select(pl.lit(level).alias("level"), pl.col(key).alias("kode"), "premium_members")
    )


def with_changes(metrics: pl.DataFrame, previous: pl.DataFrame | None) -> pl.DataFrame:
    """Add each count's change since the previous run: ``<count>_delta`` = now - then, and ``previous_run_date``.

    previous: the coverage rows of the latest earlier run_date (None when there is none). A delta is null when
    there is no previous run, when the (level, kode) was not in it, or when it did not have that count then.
    """
    table = metrics.drop(DELTA_COLUMNS, strict=False)
    if previous is None or previous.is_empty():
        return table.with_columns(
            pl.lit(None, pl.Date).alias("previous_run_date"),
            *(pl.lit(None, pl.Int64).alias(f"{c}_delta") for c in DELTA_COUNTS),
        )
    previous_date = previous["run_date"].max()
    then = previous.select(
        "level",
        "kode",
        *(
            (pl.col(c) if c in previous.columns else pl.lit(None)).cast(pl.Int64).alias(f"{c}__then")
            for c in DELTA_COUNTS
        ),
    )
    return (
        table.join(then, on=["level", "kode"], how="left", maintain_order="left")
        .with_columns(
            pl.lit(previous_date, pl.Date).alias("previous_run_date"),
            *((pl.col(c) - pl.col(f"{c}__then")).alias(f"{c}_delta") for c in DELTA_COUNTS),
        )
        .drop(f"{c}__then" for c in DELTA_COUNTS)
    )


# Row outcomes of files whose village is unknown are counted at kabupaten level only, so there the kabupaten may
# exceed the sum of its kecamatan. Persons always have a village, except enrolled_not_submitted (never placed).
_PLACED_STATUSES = tuple(s for s in STATUSES if s != "enrolled_not_submitted")
_NESTED_COUNTS = ("kuota", *COUNT_COLUMNS, "premium_members")


def invariant_checks(metrics: pl.DataFrame) -> pl.DataFrame:
    """The typed check columns the suite expectations/suites/coverage_metrics.json validates, one row per metric row.

    Each ``check_*`` column is a difference that must be 0 (or, for rows of unplaced files, at least 0), or null
    where the rule does not apply to the row's level:

    - check_outcomes_minus_submitted_rows, check_statuses_minus_persons, check_accepted_minus_listed_persons:
      within a row, row outcomes add up to the rows read, statuses to persons, and each accepted row is one listed
      person (persons - enrolled_not_submitted);
    - check_kecamatan_minus_desa_<count> (kecamatan rows): the kecamatan equals the sum of its desa, kuota included;
    - check_kabupaten_minus_kecamatan_<row count> (kabupaten row): rows of files with no known village, >= 0;
    - check_kabupaten_minus_kecamatan_<status> (kabupaten row, every status placed in a village): 0;
    - check_placed_enrolled_not_submitted (desa and kecamatan rows): 0, such members are never placed;
    - check_unplaced_premium_minus_enrolled_not_submitted (kabupaten row): the members paid for outside the
      kecamatan sums are exactly the enrolled_not_submitted ones;
    - check_min_count: the smallest count of the row, >= 0; check_kabupaten_rows: exactly 1.
    """
    kecamatan_of_desa = pl.col("kode").str.slice(0, 8)
    desa_sums = (
        metrics.filter(pl.col("level") == "desa")
        .group_by(kecamatan_of_desa.alias("kode"))
        .agg(pl.col(c).sum().alias(f"{c}__children") for c in _NESTED_COUNTS)
        .with_columns(pl.lit("kecamatan").alias("level"))
    )
    kecamatan_sums = (
        metrics.filter(pl.col("level") == "kecamatan")
        .select(pl.col(c).sum().alias(f"{c}__children") for c in _NESTED_COUNTS)
        .with_columns(pl.lit("kabupaten").alias("level"))
    )
    children = pl.concat(
        [
            desa_sums,
            kecamatan_sums.join(metrics.filter(pl.col("level") == "kabupaten").select("level", "kode"), on="level"),
        ],
        how="diagonal_relaxed",
    )
    table = metrics.join(children, on=["level", "kode"], how="left", maintain_order="left")
    # A kecamatan with no desa row has nothing under it: its children sum to 0, not to unknown.
    table = table.with_columns(
        pl.when(pl.col("level").is_in(["kecamatan", "kabupaten"]))
        .then(pl.col(f"{c}__children").fill_null(0))
        .alias(f"{c}__children")
        for c in _NESTED_COUNTS
    )
    is_kecamatan = pl.col("level") == "kecamatan"
    is_kabupaten = pl.col("level") == "kabupaten"

    def gap(count: str) -> pl.Expr:
        return pl.col(count) - pl.col(f"{count}__children")

    return table.select(
        "level",
        "kode",
        (pl.sum_horizontal("accepted", "rejected", "duplicates", "superseded") - pl.col("submitted_rows")).alias(
            "check_outcomes_minus_submitted_rows"
        ),
        (pl.sum_horizontal(STATUSES) - pl.col("persons")).alias("check_statuses_minus_persons"),
        (pl.col("accepted") - (pl.col("persons") - pl.col("enrolled_not_submitted"))).alias(
            "check_accepted_minus_listed_persons"
        ),
        pl.min_horizontal(*COUNT_COLUMNS, "premium_members", pl.col("kuota").fill_null(0)).alias("check_min_count"),
        is_kabupaten.sum().cast(pl.Int64).alias("check_kabupaten_rows"),
        *(pl.when(is_kecamatan).then(gap(c)).alias(f"check_kecamatan_minus_desa_{c}") for c in _NESTED_COUNTS),
        *(pl.when(is_kabupaten).then(gap(c)).alias(f"check_kabupaten_minus_kecamatan_{c}") for c in ROW_COUNTS),
        *(pl.when(is_kabupaten).then(gap(c)).alias(f"check_kabupaten_minus_kecamatan_{c}") for c in _PLACED_STATUSES),
        pl.when(~is_kabupaten).then(pl.col("enrolled_not_submitted")).alias("check_placed_enrolled_not_submitted"),
        pl.when(is_kabupaten)
        .then(gap("premium_members") - pl.col("enrolled_not_submitted"))
        .alias("check_unplaced_premium_minus_enrolled_not_submitted"),
        "target_attainment",
        "workforce_coverage",
    ).with_columns(pl.col(pl.Int32, pl.UInt32, pl.UInt64).cast(pl.Int64))
