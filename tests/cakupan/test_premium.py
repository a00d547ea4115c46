"""The dated premium rate table: the committed file, and how a date picks its rate."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from cakupan.errors import InputError
from cakupan.premium import PREMIUM_RATES_FILE, load_premium_rates

TABLE = """
version = "t-1"
default_rate_rp = 16800

[[periods]]
name = "PP 50/2025"
start = 2026-04-01
end = 2026-12-31
rate_rp = 8400
applies = {applies}
"""


def rates_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "premium_rates.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_committed_table_bills_16800_and_lists_the_unconfirmed_2026_discount_without_applying_it() -> None:
    rates = load_premium_rates(PREMIUM_RATES_FILE)
    assert rates.default_rate_rp == 16_800  # JKK Rp10,000 + JKM Rp6,800, the lowest BPU package
    [discount] = rates.periods
    assert (discount.start, discount.end, discount.rate_rp) == (date(2026, 4, 1), date(2026, 12, 31), 8_400)
    assert discount.applies is False  # unconfirmed for APBD-funded pekerja rentan (domain.md §2)
    assert rates.rate_on(date(2026, 11, 27)) == (16_800, "default")


@pytest.mark.parametrize(
    ("day", "rate"),
    [
        (date(2026, 3, 31), 16_800),
        (date(2026, 4, 1), 8_400),  # periods include their first day
        (date(2026, 12, 31), 8_400),  # and their last
        (date(2027, 1, 1), 16_800),
    ],
)
def test_an_applying_period_sets_the_rate_on_its_dates(tmp_path: Path, day: date, rate: int) -> None:
    rates = load_premium_rates(rates_file(tmp_path, TABLE.format(applies="true")))
    assert rates.rate_on(day)[0] == rate


def test_overlapping_applying_periods_are_refused(tmp_path: Path) -> None:
    second = '[[periods]]\nname = "later"\nstart = 2026-12-01\nend = 2027-03-31\nrate_rp = 9000\napplies = true\n'
    with pytest.raises(InputError, match="overlap"):
        load_premium_rates(rates_file(tmp_path, TABLE.format(applies="true") + second))


@pytest.mark.parametrize(
    "text",
    [
        "version = 'x'\n",  # no default rate
        "version = 'x'\ndefault_rate_rp = 0\n",
        "version = 'x'\ndefault_rate_rp = 16800\n[[periods]]\nname='p'\nstart=2026-05-01\nend=2026-04-01\n"
        "rate_rp=1\napplies=true\n",
        "not toml at all [",
    ],
)
def test_a_malformed_table_is_one_clear_error(tmp_path: Path, text: str) -> None:
    with pytest.raises(InputError, match=r"premium|default_rate_rp|start <= end"):
        load_premium_rates(rates_file(tmp_path, text))
