"""One suite result from the results of its partitions, as if the whole frame had been validated at once.

Every expectation in the suites is a per-row rule (a value, or a pair of values, in one row), so the whole frame's
counts are the sums of the partitions' counts. Success is then decided again on the sums, the way Great
Expectations decides it (``_mostly_success``: the share of considered rows that pass is at least ``mostly``,
1.0 when not given; nothing considered passes): a tolerated share is a share of the whole export, not of each part.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import replace

import polars as pl

from expectations.gx import SuiteResult


def _succeeds(element: int, missing: int, unexpected: int, mostly: float) -> bool:
    considered = element - missing
    if element == 0 or considered == 0:
        return True
    return (considered - unexpected) / considered >= mostly


def _percent(part: int, whole: int) -> float:
    return 100.0 * part / whole if whole else 0.0


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
        mostly = float(expectation.expectation_config.kwargs.get("mostly") or 1.0)
        success = _succeeds(element, missing, unexpected, mostly)
        combined = dict(expectation.result or {})
        combined.update(element_count=element, unexpected_count=unexpected, unexpected_percent=0.0)
        if "missing_count" in combined:
            combined.update(
                missing_count=missing,
                missing_percent=_percent(missing, element),
                unexpected_percent_total=_percent(unexpected, element),
                unexpected_percent_nonmissing=_percent(unexpected, element - missing),
            )
        combined["unexpected_percent"] = (
            combined["unexpected_percent_nonmissing"] if "missing_count" in combined else _percent(unexpected, element)
        )
        expectation.result = combined
        expectation.success = success
        outcomes.append(
            replace(results[0].outcomes[index], success=success, unexpected_count=unexpected, element_count=element)
        )
    passed = sum(o.success for o in outcomes)
    validation.success = passed == len(outcomes)
    validation.statistics.update(
        evaluated_expectations=len(outcomes),
        successful_expectations=passed,
        unsuccessful_expectations=len(outcomes) - passed,
        success_percent=_percent(passed, len(outcomes)),
    )
    return SuiteResult(
        suite=results[0].suite,
        success=validation.success,
        outcomes=outcomes,
        failures=failures,
        validated_at=min(r.validated_at for r in results),
        validation=validation,
    )
