"""Who the regency's money protects today: village lists reconciled with a BPJS Ketenagakerjaan export.

Pure functions over polars frames, no I/O: ``reconcile`` runs the two halves, ``match_exact`` (per NIK) and
``match_near`` (per birth date), that a partitioned run maps over its partitions (``cakupan.partitions``). Grain of
the result: one row per person, i.e. per accepted NIK on the current village lists, plus one row per regency-paid
member who is on no list (``enrolled_not_submitted``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TypeVar

import polars as pl

from cakupan.names import NAME_KEY, key_similarity_of, name_key
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
# The status is this Enum from where it is decided: the halves' files hold it so, and its number leads the result's
# order (``RESULT_ORDER``), which the halves carry as a column for the sorted write to read its runs by.
STATUS = pl.Enum(STATUSES)
MATCH_METHODS = ("nik_exact", "nik_near", "none")
DECISIONS = ("same_person", "different_person")
DECISIONS_SCHEMA: dict[str, pl.DataType] = {
    "nik": pl.String(),
    "kpj": pl.String(),
    "decision": pl.String(),
    "decided_by": pl.String(),
    "decided_at": pl.Datetime("us"),
}
# The member's side of a row; emptied when a reviewer decided the member is someone else.
_MEMBER_COLUMNS = (
    "name_similarity",
    "kpj",
    "member_nik",
    "member_nama",
    "member_birth_date",
    "state",
    "paid_by_regency",
    "paid_through",
    "grace_end",
    "pembayar",
)
# What the reconciliation adds to a person's own columns: the verdict, the member it rests on, the review decision.
EVIDENCE_COLUMNS = ("status", "match_method", *_MEMBER_COLUMNS, "decision", "decision_kpj", "decided_by", "decided_at")
_STATE_STATUS = {"covered": "active", "grace": "grace", "lapsed": "lapsed"}

Frame = TypeVar("Frame", pl.DataFrame, pl.LazyFrame)


def member_states(
    members: Frame,
    run_date: date,
    *,
    grace_months: int,
    regency_payer: str,
    regency_segment: str,
) -> Frame:
    """Each export row's membership state on the run date and whether the regency pays for it.

    covered: tgl_kepesertaan <= run_date <= tgl_berakhir; grace: tgl_berakhir < run_date <= masa_grace (end of
    protection plus ``grace_months`` when the export has no MASA_GRACE); lapsed otherwise. With no dates at all,
    STATUS AKTIF means covered. Adds ``state``, ``grace_end`` and ``paid_by_regency``.
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


def _as_number(nik: pl.Expr) -> pl.Expr:
    """A NIK as the number its 16 digits make: joins, blocks and sorts on an integer run several times faster
    than on its text. Equal for equal 16-digit NIKs only, the only ones the suites let through; a NIK that is not
    a number is null."""
    return nik.cast(pl.UInt64, strict=False)


def _keep_one_edit_apart(pairs: pl.LazyFrame, left: str, right: str) -> pl.LazyFrame:
    """The pairs whose two 16-digit NIKs differ by one substituted digit or one swap of adjacent digits.

    Compared as the digits of their numbers, held as columns while comparing: written as one expression, each of
    its hundred references to a digit was worked out again (eight times slower). A NIK that is not a number pairs
    with nothing.
    """
    digits = [f"_{side}{i}" for side in ("a", "b") for i in range(16)]
    a, b = [pl.col(f"_a{i}") for i in range(16)], [pl.col(f"_b{i}") for i in range(16)]
    differs = [a[i] != b[i] for i in range(16)]
    swapped = pl.any_horizontal(
        differs[i] & differs[i + 1] & (a[i] == b[i + 1]) & (a[i + 1] == b[i]) for i in range(15)
    )
    n_diff = pl.sum_horizontal(differs)
    return (
        pairs.with_columns(
            ((_as_number(pl.col(column)) // 10 ** (15 - i)) % 10).cast(pl.UInt8).alias(f"_{side}{i}")
            for side, column in (("a", left), ("b", right))
            for i in range(16)
        )
        .filter((n_diff == 1) | ((n_diff == 2) & swapped))
        .drop(digits)
    )


# What matching reads of a member; the export's other columns are never read past its checks.
MATCH_COLUMNS = (
    "nik",
    "kpj",
    "nama",
    "tgl_lahir",
    "state",
    "paid_by_regency",
    "tgl_berakhir",
    "grace_end",
    "pembayar",
)
# Near-match blocks, each a window of NIK digits left out (start, length, counted from 0): two NIKs one edit apart
# (one substituted digit, or two neighbours swapped) agree outside at least one window of each set. The near pass
# blocks on five: every edit falls inside one, and each keeps 10 to 14 digits, so few pairs meet (a block on digits
# 1-7, the kecamatan and the day's first digit, paired everyone of one kecamatan born on one day: 77,000 pairs per
# partition for 3,900 one edit apart). The members it may use are picked on two wider ones (digits 8-16 or 1-9 left
# out), each holding several of the five: two lookups over a national export instead of five.
_NEAR_WINDOWS = ((0, 9), (7, 6), (12, 2), (13, 2), (14, 2))
_PICK_WINDOWS = ((7, 9), (0, 9))


def _block(birth_date: pl.Expr, nik: pl.Expr, window: tuple[int, int]) -> pl.Expr:
    """A near-match block as one integer: the birth date's day number and the NIK's digits outside ``window``.

    An integer joins and looks up several times faster than (date, string) over tens of millions of members, and
    its digits are taken from the NIK's number: slicing and parsing the text cost as much as the lookups. Both
    suites only let 16-digit NIKs through; a NIK that is not a number has no block. At most 14 digits are kept, so
    the date's day number times 10^14 stays within 64 bits for any birth date from 1717 to 2222.
    """
    start, length = window
    number = _as_number(nik)
    after = 10 ** (16 - start - length)
    # A window at either end needs one division, not three: a national export's blocks in half the time.
    if start == 0:
        kept = number % after
    elif after == 1:
        kept = number // 10**length
    else:
        kept = number // (after * 10**length) * after + number % after
    return (birth_date.cast(pl.Int64) * 10 ** (16 - length) + kept.cast(pl.Int64)).alias("_block")


_NIK_NUMBER = "_nik_number"


def _nik_number(column: str) -> pl.Expr:
    """The NIK in ``column`` as a number to join on (a NIK that is not a number joins nothing)."""
    return _as_number(pl.col(column)).alias(_NIK_NUMBER)


def _numbered(frame: pl.DataFrame | pl.LazyFrame, column: str) -> pl.DataFrame | pl.LazyFrame:
    """``frame`` with the number of the NIK in ``column`` (``_nik_number``), which polars is told is sorted when it
    is (a frame in memory, in NIK order): it then joins two such frames by merging them, several times faster than
    by hashing (a national partition's persons and members: 0.04 s against 0.17 s). Checking the order is one pass
    over a column."""
    numbered = frame.with_columns(_nik_number(column))
    if isinstance(numbered, pl.DataFrame) and numbered[_NIK_NUMBER].is_sorted():
        return numbered.with_columns(pl.col(_NIK_NUMBER).set_sorted())
    return numbered


def unclaimed_members(persons: pl.LazyFrame, members: pl.LazyFrame) -> pl.LazyFrame:
    """The members whose NIK none of ``persons`` has, with what the near pass reads of them. ``persons`` are the
    listed persons, or only those found under their NIK: either claims the same members."""
    return (
        members.with_columns(_nik_number("nik"))
        .join(persons.select(_nik_number("nik")), on=_NIK_NUMBER, how="anti")
        .select(MATCH_COLUMNS)
    )


def reviewed_members(decided: pl.DataFrame) -> pl.Expr:
    """The members a reviewer paired with someone (by KPJ): only they can be the member of a confirmed pair."""
    return pl.col("kpj").is_in(decided.filter(pl.col("decision") == "same_person")["kpj"].implode())


def near_pass(missing: pl.LazyFrame, confirmed: pl.LazyFrame) -> Callable[[pl.LazyFrame], pl.LazyFrame]:
    """Which unclaimed members ``match_near`` can use: those in a near-match block (birth date and either end of
    the NIK) of a person not found under their NIK (``missing``), the members of ``confirmed`` pairs, and
    regency-paid members in cover, who are enrolled_not_submitted when nobody claims them.

    ``match_near`` on these gives what it gives on all unclaimed members. A national export leaves tens of millions
    unclaimed, and most of them are none of these: routing only these keeps the near pass small. Collects the
    blocks and the confirmed members once, and gives a function that picks these out of members (reading member
    columns alone), so a caller can apply it to the export first and take out the claimed members
    (``unclaimed_members``) from the few that pass, in one pass: the set of blocks is built once (looked up in
    each of a national run's thirty NIK partitions, their set of four million was built thirty times, 67 s), and
    looked up rather than joined (a join gathered every member column twice; a province: 0.3 s against 0.55 s).
    """
    confirmed_niks, *blocks = pl.collect_all(
        [
            confirmed.select("member_nik"),
            *(
                missing.select(_block(pl.col("birth_date"), pl.col("nik"), window)).drop_nulls().unique()
                for window in _PICK_WINDOWS
            ),
        ]
    )
    # Both blocks from one number per member (each casting the NIK again cost a tenth of the pick).
    near = [
        _block(pl.col("tgl_lahir"), pl.col(_NIK_NUMBER), window).is_in(listed.to_series().implode())
        for window, listed in zip(_PICK_WINDOWS, blocks, strict=True)
    ]

    # Without confirmed pairs (most nights) no member's NIK needs looking up: hashing a national export's fifty
    # million NIKs against an empty set still took 0.1 s.
    wanted = _UNLISTED
    if confirmed_niks.height:
        wanted = wanted | pl.col("nik").is_in(confirmed_niks.to_series().implode())

    def pick(members: pl.LazyFrame) -> pl.LazyFrame:
        return members.with_columns(_nik_number("nik")).filter(pl.any_horizontal(wanted, *near)).drop(_NIK_NUMBER)

    return pick


def _near_candidates(persons: pl.LazyFrame, unclaimed: pl.LazyFrame, rules: Rules) -> pl.LazyFrame:
    """Pairs (nik_person, nik_member, kpj, name_similarity) that could be one person under a mistyped NIK.

    Same birth date, a name at least ``probable_name_min`` similar, NIKs one substitution or one adjacent swap
    apart. Blocking on the birth date with the NIK's digits outside each of ``_NEAR_WINDOWS``: one edit touches at
    most two neighbouring digits, all inside one window. Birth dates heap on 1 July and 31 December (Dukcapil
    defaults), so the date alone never decides. Uniqueness is the caller's business.
    """
    p = persons.select(
        pl.col("nik").alias("nik_person"),
        "birth_date",
        pl.col("nama").alias("nama_person"),
        pl.col(NAME_KEY).alias("key_person"),
    )
    m = unclaimed.select(
        pl.col("nik").alias("nik_member"),
        "kpj",
        pl.col("tgl_lahir").alias("birth_date"),
        pl.col("nama").alias("nama_member"),
    )
    blocks = [
        p.with_columns(_block(pl.col("birth_date"), pl.col("nik_person"), window))
        .drop("birth_date")
        .join(
            m.with_columns(_block(pl.col("birth_date"), pl.col("nik_member"), window)).drop("birth_date"), on="_block"
        )
        for window in _NEAR_WINDOWS
    ]
    return (
        pl.concat(blocks)
        .unique(subset=["nik_person", "nik_member"])
        .pipe(_keep_one_edit_apart, "nik_person", "nik_member")
        .with_columns(_name_similarity("key_person", "nama_person", "nama_member"))
        .filter(pl.col("name_similarity") >= rules.probable_name_min)
        .select("nik_person", "nik_member", "kpj", "name_similarity")
    )


def latest_decisions(decisions: pl.DataFrame | pl.LazyFrame | None) -> pl.LazyFrame:
    """One decision per (nik, kpj): a reviewer who changes their mind is heard on the later date."""
    if decisions is None:
        return pl.LazyFrame(schema=DECISIONS_SCHEMA)
    return (
        decisions.lazy()
        .select(pl.col(c).cast(t) for c, t in DECISIONS_SCHEMA.items())
        .sort("decided_at", nulls_last=False)
        .unique(subset=["nik", "kpj"], keep="last", maintain_order=True)
    )


def reconcile(
    persons: pl.DataFrame | pl.LazyFrame,
    members: pl.DataFrame | pl.LazyFrame,
    rules: Rules,
    decisions: pl.DataFrame | pl.LazyFrame | None = None,
) -> pl.DataFrame:
    """Every person's status against the (deduplicated, state-annotated) members, with the evidence for it.

    Args:
        persons: one row per accepted NIK: nik, nama, birth_date, sex, kode_desa, kode_kecamatan, pekerjaan (any
            further columns, e.g. alamat, no_hp, source_file, are carried through unchanged).
        members: output of ``member_states`` then ``resolve_member_duplicates`` (one row per NIK).
        Both with NIKs of 16 digits (or null), as the suites leave them: near matching reads a NIK as a number.
        rules: the thresholds of ``cakupan/config/rules.toml``.
        decisions: reviewers' verdicts on pairs from the review queue (nik of the listed person, kpj of the member,
            decision same_person | different_person, decided_by, decided_at), as ``load_review_decisions`` reads
            them; None when there are none.

    Returns:
        One row per person: the person's columns, then ``EVIDENCE_COLUMNS``. A pair decided ``same_person`` takes
        the member's state (active/grace/lapsed) and keeps its match_method (nik_exact or nik_near); a pair decided
        ``different_person`` makes the person not_enrolled with no member. A rejected near member is unclaimed again
        (so enrolled_not_submitted when the regency pays for it); a rejected same-NIK member stays claimed by that
        NIK, because one NIK is one person_key. A decision about a pair that no longer occurs (the member left the
        export, the NIK was corrected, it matches exactly elsewhere) changes nothing.

    Example:
        >>> result = reconcile(persons, members, load_rules(), decisions=None)  # doctest: +SKIP
        >>> result.group_by("status").len()  # doctest: +SKIP
    """
    decided = latest_decisions(decisions).collect().lazy()
    # Materialised between the two halves, as the partitioned run does: one query over both computed the name
    # keys of every member several times.
    exact, missing, unclaimed = (f.lazy() for f in pl.collect_all(match_exact(persons, members, rules, decided)))
    confirmed = confirmed_near_pairs(decided, missing, unclaimed)
    noted = match_near(missing, unclaimed, rules, decided, confirmed).collect().lazy()
    rows = pl.concat([exact, noted, unnoted(not_enrolled(missing), noted)], how="diagonal_relaxed")
    return finish(rows, persons.lazy().collect_schema().names()).collect()


def with_name_key(persons: pl.LazyFrame) -> pl.LazyFrame:
    """The persons with ``NAME_KEY``, made here when they do not carry it."""
    if NAME_KEY in persons.collect_schema().names():
        return persons
    return persons.with_columns(name_key(pl.col("nama")).alias(NAME_KEY))


def _name_similarity(keys: str, names: str, other: str) -> pl.Expr:
    """``name_similarity`` of a person's name (``names``, with its ``keys``) and a member's (``other``). A member's
    key is made here, on the pairs to compare, rather than for every member of the export: a national export has
    fifty million names and only the matched ones are compared."""
    return key_similarity_of(keys, names, other).alias("name_similarity")


def _member_side(export: pl.LazyFrame, *carried: str) -> pl.LazyFrame:
    return export.select(
        *carried,
        pl.col("nik").alias("member_nik"),
        "kpj",
        pl.col("nama").alias("member_nama"),
        pl.col("tgl_lahir").alias("member_birth_date"),
        "state",
        "paid_by_regency",
        pl.col("tgl_berakhir").alias("paid_through"),
        "grace_end",
        "pembayar",
    )


# A member the regency pays for and who is in cover: enrolled_not_submitted when on no list.
# Two comparisons, not is_in: a state is a short text held inside its view, compared there without hashing it (over
# a national export's fifty million members, 0.09 s against 0.29 s).
_UNLISTED = pl.col("paid_by_regency") & ((pl.col("state") == "covered") | (pl.col("state") == "grace"))
_STATE_STATUS_EXPR = pl.col("state").replace_strict(_STATE_STATUS, return_dtype=pl.String)
_CONFIRMED = (pl.col("decision") == "same_person").fill_null(False)
_REJECTED = (pl.col("decision") == "different_person").fill_null(False)


def match_exact(
    persons: pl.DataFrame | pl.LazyFrame,
    members: pl.DataFrame | pl.LazyFrame,
    rules: Rules,
    decided: pl.LazyFrame,
) -> tuple[pl.LazyFrame, pl.LazyFrame, pl.LazyFrame]:
    """The same-NIK half of ``reconcile``: (rows of persons found under their own NIK, persons not found, members
    no listed NIK claims). Answers only questions about one NIK, so it runs per NIK partition; the partitioned
    run leaves the third unread and takes the few members it needs later (``near_pass``)."""
    listed = with_name_key(_numbered(persons, "nik").lazy())
    export = _numbered(members, "nik").lazy()
    # One join gives both: a person with a member under their NIK (the names decide, unless a reviewer already
    # has), and a person without (an anti join took two thirds as long again as the join). Joined on the NIK's
    # number: half the time of joining on its text, and merged when both sides come in NIK order (``_numbered``).
    joined = listed.join(_member_side(export, _NIK_NUMBER), on=_NIK_NUMBER, how="left").drop(_NIK_NUMBER)
    found = pl.col("member_nik").is_not_null()
    exact = (
        joined.filter(found)
        .with_columns(_name_similarity(NAME_KEY, "nama", "member_nama"))
        .join(decided, on=["nik", "kpj"], how="left")
        .with_columns(
            pl.when(_REJECTED)
            .then(pl.lit("not_enrolled"))
            .when(_CONFIRMED | (pl.col("name_similarity") >= rules.name_match_min))
            .then(_STATE_STATUS_EXPR)
            .otherwise(pl.lit("identity_conflict"))
            .cast(STATUS)
            .alias("status"),
            pl.when(_REJECTED).then(pl.lit("none")).otherwise(pl.lit("nik_exact")).alias("match_method"),
            pl.when(pl.col("decision").is_not_null()).then(pl.col("kpj")).alias("decision_kpj"),
        )
        .with_columns(pl.when(~_REJECTED).then(pl.col(c)).alias(c) for c in _MEMBER_COLUMNS)
        .drop(NAME_KEY)
    )
    missing = joined.filter(~found).select(c for c in listed.collect_schema().names() if c != _NIK_NUMBER)
    return exact, missing, unclaimed_members(listed, export)


def confirmed_near_pairs(decided: pl.LazyFrame, missing: pl.LazyFrame, unclaimed: pl.LazyFrame) -> pl.LazyFrame:
    """Reviewer-confirmed pairs of a person not found under their NIK and an unclaimed member, when unambiguous.

    A confirmed pair holds whatever the automatic rules now say. Small (one row per decision at most), so in a
    partitioned run it is computed once over all partitions and handed to each. Carries the person's birth_date,
    which decides the near-match partition of both sides.
    """
    return (
        decided.filter(pl.col("decision") == "same_person")
        .join(missing.select("nik", "birth_date"), on="nik", how="inner")
        .join(unclaimed.select(pl.col("nik").alias("member_nik"), "kpj"), on="kpj", how="inner")
        .filter((pl.len().over("nik") == 1) & (pl.len().over("kpj") == 1))
        .select(
            "nik",
            "member_nik",
            "birth_date",
            "decision",
            pl.col("kpj").alias("decision_kpj"),
            "decided_by",
            "decided_at",
        )
    )


def match_near(
    missing: pl.LazyFrame,
    unclaimed: pl.LazyFrame,
    rules: Rules,
    decided: pl.LazyFrame,
    confirmed: pl.LazyFrame,
) -> pl.LazyFrame:
    """The rest of ``reconcile``: the persons not found under their NIK that the near pass notes something of
    (probable_match, a confirmed near match, or not_enrolled for a reviewer's rejection), and regency-paid members
    on no list (enrolled_not_submitted). The other persons of ``missing`` are ``not_enrolled`` with no evidence
    (``unnoted``): most of them at national size, so they are not copied into these rows.

    Every near pair shares a birth date, so this runs per birth-date partition, given the members of a confirmed
    pair are placed with their person (see ``cakupan.partitions``).
    """
    member_side = _member_side(unclaimed)
    confirmed = confirmed.join(missing.select("nik"), on="nik", how="semi").drop("birth_date")
    candidates = _near_candidates(
        missing.join(confirmed, on="nik", how="anti"),
        unclaimed.join(confirmed.select(pl.col("member_nik").alias("nik")), on="nik", how="anti"),
        rules,
    ).join(
        decided.filter(pl.col("decision") == "different_person"),
        left_on=["nik_person", "kpj"],
        right_on=["nik", "kpj"],
        how="left",
    )
    # Made once, here: the plan reads the candidates in five places, and polars made them again for each (a
    # province's birth-date partition took 0.26 s instead of 0.08). They are few (one row per near pair), and
    # held in memory anyway: the in-memory engine makes them in a third of the streaming engine's time.
    candidates = candidates.collect(engine="in-memory").lazy()
    unique_both_sides = (pl.len().over("nik_person") == 1) & (pl.len().over("nik_member") == 1)
    near = (
        candidates.filter(pl.col("decision").is_null())
        .filter(unique_both_sides)
        .select(pl.col("nik_person").alias("nik"), pl.col("nik_member").alias("member_nik"))
    )
    # A person whose only near candidate a reviewer rejected carries that decision as the reason for no match.
    rejected_near = (
        candidates.filter(pl.col("decision").is_not_null())
        .join(near, left_on="nik_person", right_on="nik", how="anti")
        .sort("decided_at", "kpj")
        .unique(subset="nik_person", keep="last", maintain_order=True)
        .select(
            pl.col("nik_person").alias("nik"),
            "decision",
            pl.col("kpj").alias("decision_kpj"),
            "decided_by",
            "decided_at",
        )
    )
    notes = pl.concat([confirmed, near, rejected_near], how="diagonal_relaxed")
    has_member = pl.col("member_nik").is_not_null()
    # The evidence is made on the noted persons alone (a few in a hundred): names are compared only where there is
    # a member, and the other persons' columns are gathered once.
    evidence = (
        notes.join(member_side, on="member_nik", how="left")
        .join(missing.select("nik", "nama", NAME_KEY), on="nik", how="left")
        .with_columns(
            pl.when(has_member).then(_name_similarity(NAME_KEY, "nama", "member_nama")).alias("name_similarity")
        )
        .drop("nama", NAME_KEY)
    )
    near_rows = missing.join(evidence, on="nik", how="inner").with_columns(
        pl.when(has_member & _CONFIRMED)
        .then(_STATE_STATUS_EXPR)
        .when(has_member)
        .then(pl.lit("probable_match"))
        .otherwise(pl.lit("not_enrolled"))
        .cast(STATUS)
        .alias("status"),
        pl.when(has_member).then(pl.lit("nik_near")).otherwise(pl.lit("none")).alias("match_method"),
    )
    unlisted = (
        unclaimed.join(notes.select(pl.col("member_nik").alias("nik")).drop_nulls(), on="nik", how="anti")
        .filter(_UNLISTED)
        .select(
            "nik",
            "nama",
            pl.col("tgl_lahir").alias("birth_date"),
            pl.when(pl.col("nik").str.slice(6, 2).cast(pl.Int32, strict=False) > 40)
            .then(pl.lit("P"))
            .otherwise(pl.lit("L"))
            .alias("sex"),
            pl.lit("enrolled_not_submitted", STATUS).alias("status"),
            pl.lit("none").alias("match_method"),
            pl.col("nik").alias("member_nik"),
            "kpj",
            pl.col("nama").alias("member_nama"),
            pl.col("tgl_lahir").alias("member_birth_date"),
            "state",
            "paid_by_regency",
            pl.col("tgl_berakhir").alias("paid_through"),
            "grace_end",
            "pembayar",
        )
    )
    return pl.concat([near_rows.drop(NAME_KEY), unlisted], how="diagonal_relaxed")


# The result's order: by status, then NIK (unique within a status). The status and the NIK's number make one integer
# that sorts as the status and the text do for 16-digit NIKs, the only ones the suites let through, about three
# times faster (a million rows: 0.1 s against 0.3 s); the text after it breaks the remaining ties.
RESULT_ORDER = (
    pl.col("status").to_physical().cast(pl.UInt64) * 10**16 + _as_number(pl.col("nik")).fill_null(0) % 10**16,
    pl.col("nik"),
)
# RESULT_ORDER's integer as a column of the halves' rows, worked out where each half is made (``with_order_key``).
ORDER_KEY = "_order"
# What ORDER_KEY's leading digits hold: the status and the NIK's first four digits (province and kabupaten/kota).
# Its values cut the result into runs that follow one another in RESULT_ORDER, each read by comparing integers.
ORDER_KEY_PREFIX = pl.col(ORDER_KEY) // 10**12


def prefix_status(prefix: pl.Expr) -> pl.Expr:
    """The status number of an ``ORDER_KEY_PREFIX`` value: its digits above the NIK's four."""
    return prefix // 10**4


def with_order_key(rows: Frame) -> Frame:
    """``rows`` (with their status) and ``ORDER_KEY``: a partitioned run's halves carry it, so the rows can be
    written in ``RESULT_ORDER`` a range of it at a time, each range read by comparing integers."""
    return rows.with_columns(RESULT_ORDER[0].alias(ORDER_KEY))


def not_enrolled(missing: Frame) -> Frame:
    """Persons not found under their NIK as ``not_enrolled``, with no evidence and with ``ORDER_KEY``: what they
    are unless ``match_near`` notes something of them."""
    return with_order_key(
        missing.with_columns(pl.lit("not_enrolled", STATUS).alias("status"), pl.lit("none").alias("match_method"))
    )


def unnoted(missing: pl.LazyFrame, noted: pl.LazyFrame) -> pl.LazyFrame:
    """The rows of ``missing`` (persons not found under their NIK, as ``not_enrolled`` makes them) whose person has
    no row among ``noted`` (``match_near``'s rows, or their ``nik`` and ``status``). Its unlisted members are left
    out of the lookup: none has a listed NIK, and at national size they are most of ``noted``.

    Joined on the order key each would have as not_enrolled, which the rows carry: an integer, and a filter on the
    key reaches the scan of ``missing`` below the join, so that a partitioned run writing its result a range of
    keys at a time looks up each person once (a filter by lookup was worked out on every row for every range). The
    key tells persons apart by their 16-digit NIKs, the only ones the suites let through (``RESULT_ORDER``).
    """
    persons = noted.filter(pl.col("status") != "enrolled_not_submitted").select("nik")
    keys = not_enrolled(persons).select(ORDER_KEY)
    return missing.join(keys, on=ORDER_KEY, how="anti")


def result_rows(rows: pl.LazyFrame, person_columns: list[str], *carried: str) -> pl.LazyFrame:
    """The result's columns: person columns, then the evidence, then any ``carried``; the status as its Enum."""
    person_columns = [c for c in person_columns if c != NAME_KEY]
    return rows.select(*person_columns, *EVIDENCE_COLUMNS, *carried).with_columns(pl.col("status").cast(STATUS))


def finish(rows: pl.LazyFrame, person_columns: list[str]) -> pl.LazyFrame:
    """``result_rows`` in ``RESULT_ORDER``."""
    return result_rows(rows, person_columns).sort(RESULT_ORDER)
