"""Coverage metrics: the premium the regency pays, the change since the previous run, the invariant checks."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from cakupan.metrics import DELTA_COUNTS, coverage_metrics, invariant_checks, with_changes, with_premium

RUN = date(2026, 11, 27)
VILLAGES = pl.DataFrame(
    {
        "kode_desa": ["62.03.01.2001", "62.03.01.2002", "62.03.02.2001"],
        "nama_desa": ["Sei Asam", "Sei Tatas", "Mambulau"],
        "kode_kecamatan": ["62.03.01", "62.03.01", "62.03.02"],
        "nama_kecamatan": ["Selat", "Selat", "Kapuas Hilir"],
        "kuota": [4, 2, 3],
    }
)
# The row ledger: a rejected row of a file whose village nobody could tell (kode_desa null) counts at kabupaten only.
ROWS = pl.DataFrame(
    {
        "kode_desa": ["62.03.01.2001"] * 4 + ["62.03.02.2001"] * 3 + [None],
        "outcome": ["accepted"] * 3 + ["rejected", "accepted", "accepted", "duplicate_in_file", "rejected"],
    }
)
# One row per person; members m1..m6. The enrolled_not_submitted member (m6) has no village.
PERSONS = pl.DataFrame(
    {
        "kode_desa": ["62.03.01.2001", "62.03.01.2001", "62.03.01.2001", "62.03.02.2001", "62.03.02.2001", None],
        "kode_kecamatan": ["62.03.01", "62.03.01", "62.03.01", "62.03.02", "62.03.02", None],
        "status": ["active", "grace", "lapsed", "active", "probable_match", "enrolled_not_submitted"],
        "match_method": ["nik_exact", "nik_exact", "nik_exact", "nik_exact", "nik_near", "none"],
        "member_nik": ["m1", "m2", "m3", "m4", "m1", "m6"],
        "state": ["covered", "grace", "lapsed", "covered", "covered", "covered"],
        "paid_by_regency": [True, True, True, False, True, True],
    }
)


def table() -> pl.DataFrame:
    return coverage_metrics(
        run_date=RUN,
        rows=ROWS,
        persons=PERSONS,
        villages=VILLAGES,
        members_active_total=50,
        workforce=None,
        region_code="62.03",
        region_name="Kabupaten Kapuas",
        target_total=None,
    )


def value(frame: pl.DataFrame, kode: str, column: str) -> object:
    return frame.filter(pl.col("kode") == kode)[column][0]


@pytest.mark.parametrize(
    ("kode", "members", "monthly_rp"),
    [
        # m1 (covered) and m2 (grace) are paid for; m3 lapsed is not, whatever the payer.
        ("62.03.01.2001", 2, 33_600),
        ("62.03.01.2002", 0, 0),
        # m4 is paid by someone else; the probable match claims m1 again, who is counted once, at the exact match.
        ("62.03.02.2001", 0, 0),
        ("62.03.01", 2, 33_600),
        ("62.03.02", 0, 0),
        # m1, m2 and the enrolled_not_submitted m6, who no village proposed.
        ("62.03", 3, 50_400),
    ],
)
def test_premium_counts_regency_paid_members_covered_or_in_grace_once(kode: str, members: int, monthly_rp: int) -> None:
    frame = with_premium(table(), PERSONS, rate_rp=16_800)
    assert value(frame, kode, "premium_members") == members
    assert value(frame, kode, "premium_rate_rp") == 16_800
    assert value(frame, kode, "premium_monthly_rp") == monthly_rp


def test_changes_compare_each_row_with_the_latest_earlier_run() -> None:
    now = with_premium(table(), PERSONS, rate_rp=16_800)
    # The previous run predates revision 0002 (no premium) and did not have Sei Tatas yet.
    then = (
        table()
        .filter(pl.col("kode") != "62.03.01.2002")
        .with_columns(pl.lit(date(2026, 11, 20)).alias("run_date"), pl.col("active") - 1, pl.col("rejected") + 2)
    )
    frame = with_changes(now, then)
    assert set(frame["previous_run_date"]) == {date(2026, 11, 20)}
    assert value(frame, "62.03.01.2001", "active_delta") == 1
    assert value(frame, "62.03.01.2001", "rejected_delta") == -2
    assert value(frame, "62.03", "members_active_total_delta") == 0
    assert value(frame, "62.03.01.2002", "active_delta") is None  # new village: nothing to compare with
    assert frame["premium_members_delta"].null_count() == frame.height  # unknown then, so unknown change
    assert frame.height == now.height


def test_the_first_run_has_no_changes() -> None:
    frame = with_changes(with_premium(table(), PERSONS, rate_rp=16_800), None)
    assert frame["previous_run_date"].null_count() == frame.height
    for count in DELTA_COUNTS:
        assert frame[f"{count}_delta"].null_count() == frame.height, count


def checks_of(frame: pl.DataFrame) -> pl.DataFrame:
    return invariant_checks(with_changes(with_premium(frame, PERSONS, rate_rp=16_800), None))


def test_a_consistent_table_passes_every_check() -> None:
    checks = checks_of(table())
    equal_zero = [
        c for c in checks.columns if c.startswith("check_") and c not in ("check_min_count", "check_kabupaten_rows")
    ]
    # The one rejected row of a file with no village is the kabupaten's only surplus over its kecamatan.
    surplus = {"check_kabupaten_minus_kecamatan_submitted_rows": 1, "check_kabupaten_minus_kecamatan_rejected": 1}
    for column in equal_zero:
        values = set(checks[column].drop_nulls())
        assert values <= {surplus.get(column, 0)}, (column, values)
    assert set(checks["check_kabupaten_rows"]) == {1}
    assert checks["check_min_count"].min() == 0
    # Each rule applies at its level only: kecamatan sums on kecamatan rows, the kabupaten surplus on its row.
    kecamatan_rule = checks["check_kecamatan_minus_desa_active"]
    assert kecamatan_rule.is_not_null().to_list() == (checks["level"] == "kecamatan").to_list()
    assert checks["check_kabupaten_minus_kecamatan_active"].drop_nulls().len() == 1


@pytest.mark.parametrize(
    ("kode", "column", "change", "check", "expected"),
    [
        # A desa count changed after aggregation: its kecamatan no longer sums.
        ("62.03.01.2001", "active", 1, "check_kecamatan_minus_desa_active", -1),
        # A kecamatan kuota that is not its villages' sum.
        ("62.03.02", "kuota", 5, "check_kecamatan_minus_desa_kuota", 5),
        # The kabupaten may exceed its kecamatan by unplaced rows, but never in a status every person has a village for.
        ("62.03", "lapsed", 1, "check_kabupaten_minus_kecamatan_lapsed", 1),
        # Statuses must add up to persons on every row.
        ("62.03.01.2002", "persons", 1, "check_statuses_minus_persons", -1),
        # An enrolled_not_submitted member placed in a village.
        ("62.03.01.2002", "enrolled_not_submitted", 1, "check_placed_enrolled_not_submitted", 1),
    ],
)
def test_a_broken_table_shows_in_its_check_column(
    kode: str, column: str, change: int, check: str, expected: int
) -> None:
    broken = table().with_columns(
        pl.when(pl.col("kode") == kode).then(pl.col(column) + change).otherwise(pl.col(column)).alias(column)
    )
    checks = checks_of(broken)
    assert expected in set(checks[check].drop_nulls())
