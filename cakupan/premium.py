"""The monthly premium rate on a date, from the committed, versioned ``cakupan/config/premium_rates.toml``.

A period applies from ``start`` to ``end`` inclusive and only when ``applies = true``; elsewhere the default rate
holds. Applying periods may not overlap, so a date has exactly one rate.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date
from itertools import pairwise
from pathlib import Path

from cakupan.errors import InputError

PREMIUM_RATES_FILE = Path(__file__).parent / "config" / "premium_rates.toml"


@dataclass(frozen=True)
class RatePeriod:
    name: str
    start: date
    end: date
    rate_rp: int
    applies: bool


@dataclass(frozen=True)
class PremiumRates:
    """A dated rate table: the default monthly rate per member, and the periods that change it."""

    version: str
    default_rate_rp: int
    periods: tuple[RatePeriod, ...]

    def rate_on(self, day: date) -> tuple[int, str]:
        """(monthly rate in rupiah, the period's name or "default") on ``day``.

        >>> rates = PremiumRates("t", 16800, (RatePeriod("half", date(2026, 4, 1), date(2026, 12, 31), 8400, True),))
        >>> rates.rate_on(date(2026, 3, 31)), rates.rate_on(date(2026, 4, 1))
        ((16800, 'default'), (8400, 'half'))
        """
        for period in self.periods:
            if period.applies and period.start <= day <= period.end:
                return period.rate_rp, period.name
        return self.default_rate_rp, "default"


def load_premium_rates(path: Path = PREMIUM_RATES_FILE) -> PremiumRates:
    """Read and check the rate table; InputError in one line when it is malformed."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        periods = tuple(
            RatePeriod(
                name=str(p["name"]),
                start=p["start"],
                end=p["end"],
                rate_rp=int(p["rate_rp"]),
                applies=bool(p["applies"]),
            )
            for p in data.get("periods", [])
        )
        rates = PremiumRates(
            version=str(data["version"]), default_rate_rp=int(data["default_rate_rp"]), periods=periods
        )
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
        raise InputError(f"premium rate table {path} is unreadable: {exc!r}") from None
    for period in periods:
        if not (isinstance(period.start, date) and isinstance(period.end, date) and period.start <= period.end):
            raise InputError(f"{path}: period {period.name!r} needs dates with start <= end")
        if period.rate_rp < 0:
            raise InputError(f"{path}: period {period.name!r} has a negative rate")
    applying = sorted((p for p in periods if p.applies), key=lambda p: p.start)
    for earlier, later in pairwise(applying):
        if later.start <= earlier.end:
            raise InputError(f"{path}: periods {earlier.name!r} and {later.name!r} overlap")
    if rates.default_rate_rp <= 0:
        raise InputError(f"{path}: default_rate_rp must be positive")
    return rates
