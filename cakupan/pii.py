"""person_key: the pseudonym that lets analysts follow a person across runs without seeing the NIK."""

from __future__ import annotations

import hashlib
import hmac

import polars as pl


def person_key(nik: pl.Series, secret: bytes) -> pl.Series:
    """Lowercase hex HMAC-SHA256 of each 16-digit NIK under ``secret`` (null stays null).

    No dataframe library computes an HMAC, so this loops in Python; the keyed state is prepared once and copied
    per value, which keeps it near the cost of one sha256 call per NIK.
    """
    prepared = hmac.new(secret, digestmod=hashlib.sha256)

    def digest(value: str) -> str:
        h = prepared.copy()
        h.update(value.encode())
        return h.hexdigest()

    return pl.Series(nik.name, [None if v is None else digest(v) for v in nik.to_list()], dtype=pl.String)
