"""One suite result from the results of its partitions, as if the whole frame had been validated at once.

Every expectation in the suites is a per-row rule (a value, or a pair of values, in one row), so the whole frame's
counts are the sums of the partitions' counts. Success is then decided again on the sums, the way Great
Expectations decides it (``expectations.gx.recount``): a tolerated share is a share of the whole export, not of
each part.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import replace

import polars as pl

from expectations.gx import SuiteResult, recount, settle


def combine_results(results: Sequence[SuiteResult], failures: pl.DataFrame) -> SuiteResult:
    """The result of the whole from partition results of one suite; ``failures`` are theirs, keyed by row_id.

    Partitions of nothing (no rows) count nothing, like an empty frame would.
    """
    if not results:
        raise ValueError("no partition results to combine")
    if len(results) == 1:
        return replace(results[0], failures=failures)
    validation = copy.deepcopy(results[0].validation)
    outcomes = []
    for index, expectation in enumerate(validation.results):
        details = [r.validation.results[index].result or {} for r in results]
        element = sum(int(d.get("element_count") or 0) for d in details)
        unexpected = sum(int(d.get("unexpected_count") or 0) for d in details)
        missing = sum(int(d.get("missing_count") or 0) for d in details)
        recount(expectation, element, missing, unexpected)
        outcomes.append(
            replace(
                results[0].outcomes[index],
                success=bool(expectation.success),
                unexpected_count=unexpected,
                element_count=element,
            )
        )
    settle(validation)
    return SuiteResult(
        suite=results[0].suite,
        success=validation.success,
        outcomes=outcomes,
        failures=failures,
        validated_at=min(r.validated_at for r in results),
        validation=validation,
    )
