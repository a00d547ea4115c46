"""person_key: the pseudonym that lets analysts follow a person across runs without seeing the NIK."""

from __future__ import annotations

import polars as pl
import polars_hash  # noqa: F401 (registers the chash namespace on expressions)


def person_key_of(nik: pl.Expr, secret: bytes) -> pl.Expr:
    """Lowercase hex HMAC-SHA256 (RFC 2104) of each NIK under ``secret``; null stays null.

    Computed by the polars-hash plugin over whole columns: a national run has tens of millions of NIKs, which a
    Python loop over hashlib took half a minute for.
    """
    keyed: pl.Expr = nik.chash.hmac_sha256(key=secret.decode("utf-8"))  # type: ignore[attr-defined]
    return keyed


def person_key(nik: pl.Series, secret: bytes) -> pl.Series:
    """``person_key_of`` for one Series, keeping its name."""
    return pl.select(person_key_of(pl.lit(nik), secret)).to_series().alias(nik.name)
