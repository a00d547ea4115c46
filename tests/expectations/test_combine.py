"""Partition results combine into the result of the whole frame."""

from __future__ import annotations

import polars as pl
import pytest

from expectations.combine import combine_results
from expectations.gx import validate


def members(bad_kpj: int, rows: int = 1_000) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "kpj": ["123456789"] * bad_kpj + ["12345678901"] * (rows - bad_kpj),  # 9 digits: a damaged KPJ
            "nik_checked": [f"62030117058{i:05d}" for i in range(rows)],
            "nik_from_number": [False] * rows,
            "status_norm": ["AKTIF"] * rows,
            "dates_parse": [True] * rows,
            "dates_ordered": [True] * rows,
        }
    )


@pytest.mark.parametrize("bad_kpj", [9, 10, 11])
def test_a_tolerated_share_is_judged_on_the_whole_export_not_per_partition(bad_kpj: int) -> None:
    frame = members(bad_kpj)
    whole = validate("bpjs_export", frame)
    # Every damaged row sits in the first of four partitions: that partition alone is far past 1 %.
    parts = [validate("bpjs_export", frame.slice(offset, 250)) for offset in range(0, 1_000, 250)]
    assert not parts[0].success
    combined = combine_results(parts, whole.failures)
    assert combined.success == whole.success == (bad_kpj <= 10)
    assert [(o.reason, o.success, o.unexpected_count, o.element_count) for o in combined.outcomes] == [
        (o.reason, o.success, o.unexpected_count, o.element_count) for o in whole.outcomes
    ]
    assert combined.validation.statistics == whole.validation.statistics
