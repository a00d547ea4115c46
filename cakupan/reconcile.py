"""Who the regency's money protects today: village lists reconciled with a BPJS Ketenagakerjaan export.

Pure functions over polars frames, no I/O, so the same code runs per partition on a cluster.

Grain of the result: one row per person, i.e. per accepted NIK on the current village lists, plus one row per
regency-paid member who is on no list (``enrolled_not_submitted``).
"""

from __future__ import annotations

from datetime import date

import polars as pl

from cakupan.names import name_key, similarity
from cakupan.settings import Rules

MEMBER_STATES = ("covered", "grace", "lapsed")
STATUSES = (
    "active",
    "grace",
    "lapsed",
    "not_enrolled",
    "identity_conflict",
    "probable_match",
    "enrolled_not_submitted",
)
_STATE_STATUS = {"covered": "active", "grace": "grace", "lapsed": "lapsed"}


def member_states(
    members: pl.DataFrame,
    run_date: date,
    *,
    grace_months: int,
    regency_payer: str,
    regency_segment: str,
) -> pl.DataFrame:
    """Each export row's membership state on the run date and whether the regency pays for it.

    covered: tgl_kepesertaan <= run_date <= tgl_berakhir; grace: tgl_berakhir < run_date <= masa_grace (end of
    protection plus ``grace_months`` when the export has no MASA_GRACE); lapsed otherwise. With no dates at all,
    STATUS AKTIF means covered.
    """
    run = pl.lit(run_date)
    grace_end = pl.coalesce(pl.col("masa_grace"), pl.col("tgl_berakhir").dt.offset_by(f"{grace_months}mo"))
    started = pl.col("tgl_kepesertaan").is_null() | (pl.col("tgl_kepesertaan") <= run)
    state = (
        pl.when(pl.col("tgl_berakhir").is_null())
        .then(
            pl.when(pl.col("status").str.to_uppercase().str.strip_chars() == "AKTIF")
            .then(pl.lit("covered"))
            .otherwise(pl.lit("lapsed"))
        )
        .when(started & (run <= pl.col("tgl_berakhir")))
        .then(pl.lit("covered"))
        .when(started & (run <= grace_end))
        .then(pl.lit("grace"))
        .otherwise(pl.lit("lapsed"))
    )
    paid_by_regency = (pl.col("pembayar").str.strip_chars().str.to_uppercase() == regency_payer.upper()).fill_null(
        False
    ) | (pl.col("segmen").str.strip_chars().str.to_uppercase() == regency_segment.upper()).fill_null(False)
    return members.with_columns(
        state.alias("state"),
        grace_end.alias("grace_end"),
        paid_by_regency.alias("paid_by_regency"),
    )


def resolve_member_duplicates(members: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """One member per NIK: covered before grace before lapsed, then the latest tgl_berakhir, then the highest KPJ.

    Returns the deduplicated members and the number of export rows dropped. One NIK may hold several KPJ (an old
    self-registration next to the regency's), so the decision is made on what protects the person today.
    """
    rank = pl.col("state").replace_strict({s: i for i, s in enumerate(MEMBER_STATES)}, return_dtype=pl.Int8)
    ordered = members.with_columns(rank.alias("_rank")).sort(
        ["nik", "_rank", "tgl_berakhir", "kpj"], descending=[False, False, True, True], nulls_last=True
    )
    unique = ordered.unique(subset="nik", keep="first", maintain_order=True).drop("_rank")
    return unique, members.height - unique.height


def _nik_one_edit_apart(left: str, right: str) -> pl.Expr:
    """True when two 16-digit NIKs differ by one substituted digit or one swap of adjacent digits."""
    differs = [pl.col(left).str.slice(i, 1) != pl.col(right).str.slice(i, 1) for i in range(16)]
    n_diff = pl.sum_horizontal(differs)
    swapped = pl.any_horizontal(
        differs[i]
        & differs[i + 1]
        & (pl.col(left).str.slice(i, 1) == pl.col(right).str.slice(i + 1, 1))
        & (pl.col(left).str.slice(i + 1, 1) == pl.col(right).str.slice(i, 1))
        for i in range(15)
    )
    return (n_diff == 1) | ((n_diff == 2) & swapped)


def probable_matches(persons: pl.DataFrame, unclaimed: pl.DataFrame, rules: Rules) -> pl.DataFrame:
    """Pairs (person nik, member nik) where the member is very probably the person under a mistyped NIK.

    Same birth date, similar name, NIKs one substitution or one adjacent swap apart, and the pairing is unique on
    both sides. Blocking on the birth date with either end of the NIK: one edit touches at most two neighbouring
    digits, so digits 1-7 or digits 10-16 survive it. Birth dates heap on 1 July and 31 December (Dukcapil
    defaults), so the date alone never decides.
    """
    p = persons.select(pl.col("nik").alias("nik_person"), "birth_date", pl.col("name_key").alias("name_key_person"))
    m = unclaimed.select(
        pl.col("nik").alias("nik_member"),
        pl.col("tgl_lahir").alias("birth_date"),
        pl.col("name_key").alias("name_key_member"),
    )
    blocks = []
    for offset, length in ((0, 7), (9, 7)):
        block = pl.col("nik_person").str.slice(offset, length)
        blocks.append(
            p.with_columns(block.alias("_block")).join(
                m.with_columns(pl.col("nik_member").str.slice(offset, length).alias("_block")),
                on=["birth_date", "_block"],
            )
        )
    pairs = (
        pl.concat(blocks)
        .drop("_block")
        .unique(subset=["nik_person", "nik_member"])
        .filter(_nik_one_edit_apart("nik_person", "nik_member"))
    )
    pairs = pairs.with_columns(similarity(pairs["name_key_person"], pairs["name_key_member"]).alias("name_similarity"))
    pairs = pairs.filter(pl.col("name_similarity") >= rules.probable_name_min)
    unique_both_sides = (pl.len().over("nik_person") == 1) & (pl.len().over("nik_member") == 1)
    return pairs.filter(unique_both_sides).select("nik_person", "nik_member", "name_similarity").sort("nik_person")


def reconcile(persons: pl.DataFrame, members: pl.DataFrame, rules: Rules) -> pl.DataFrame:
    """Every person's status against the (deduplicated, state-annotated) members, with the evidence for it.

    persons: nik, nama, birth_date, sex, kode_desa, kode_kecamatan, pekerjaan (one row per nik).
    members: output of ``member_states`` then ``resolve_member_duplicates``.
    Result columns: the person's columns, status, match_method (nik_exact | nik_near | none), name_similarity,
    kpj, member_nik, member_nama, state, paid_by_regency, paid_through (the member's tgl_berakhir).
    """
    persons = persons.with_columns(name_key(pl.col("nama")).alias("name_key"))
    members = members.with_columns(name_key(pl.col("nama")).alias("name_key"))
    member_cols = members.select(
        pl.col("nik").alias("member_nik"),
        "kpj",
        pl.col("nama").alias("member_nama"),
        pl.col("name_key").alias("member_name_key"),
        "state",
        "paid_by_regency",
        pl.col("tgl_berakhir").alias("paid_through"),
    )

    exact = persons.join(member_cols, left_on="nik", right_on="member_nik", how="left", coalesce=False)
    exact = exact.with_columns(similarity(exact["name_key"], exact["member_name_key"]).alias("name_similarity"))
    found = exact.filter(pl.col("member_nik").is_not_null())
    missing = exact.filter(pl.col("member_nik").is_null()).select(persons.columns)

    listed_niks = persons.select("nik")
    unclaimed = members.join(listed_niks, on="nik", how="anti")
    near = probable_matches(missing, unclaimed, rules)
    near_rows = missing.join(near, left_on="nik", right_on="nik_person", how="left").join(
        member_cols, left_on="nik_member", right_on="member_nik", how="left", coalesce=False
    )
    near_rows = near_rows.drop("nik_member")

    same_person = pl.col("name_similarity") >= rules.name_match_min
    found = found.with_columns(
        pl.when(same_person)
        .then(pl.col("state").replace_strict(_STATE_STATUS, return_dtype=pl.String))
        .otherwise(pl.lit("identity_conflict"))
        .alias("status"),
        pl.lit("nik_exact").alias("match_method"),
    )
    near_rows = near_rows.with_columns(
        pl.when(pl.col("member_nik").is_not_null())
        .then(pl.lit("probable_match"))
        .otherwise(pl.lit("not_enrolled"))
        .alias("status"),
        pl.when(pl.col("member_nik").is_not_null())
        .then(pl.lit("nik_near"))
        .otherwise(pl.lit("none"))
        .alias("match_method"),
    )

    claimed = pl.concat([listed_niks, near.select(pl.col("nik_member").alias("nik"))])
    unlisted = (
        members.join(claimed, on="nik", how="anti")
        .filter(pl.col("paid_by_regency") & pl.col("state").is_in(["covered", "grace"]))
        .select(
            "nik",
            "nama",
            pl.col("tgl_lahir").alias("birth_date"),
            pl.when(pl.col("nik").str.slice(6, 2).cast(pl.Int32, strict=False) > 40)
            .then(pl.lit("P"))
            .otherwise(pl.lit("L"))
            .alias("sex"),
            pl.lit("enrolled_not_submitted").alias("status"),
            pl.lit("none").alias("match_method"),
            pl.col("nik").alias("member_nik"),
            "kpj",
            pl.col("nama").alias("member_nama"),
            "state",
            "paid_by_regency",
            pl.col("tgl_berakhir").alias("paid_through"),
        )
    )

    result = pl.concat([found, near_rows], how="diagonal_relaxed").drop("name_key", "member_name_key")
    result = pl.concat([result, unlisted], how="diagonal_relaxed")
    return result.with_columns(pl.col("status").cast(pl.Enum(STATUSES))).sort("status", "nik")
