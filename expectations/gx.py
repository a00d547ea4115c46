"""The one module that talks to Great Expectations.

Suites are reviewed JSON files in ``expectations/suites/``; every expectation carries its reason code and level in
``meta``. A run loads them into an ephemeral context and gets back, per expectation, the positions of the rows that
failed it: the row-level reasons come from GX's results, not from a second copy of the rules.

GX is not thread-safe (a shared validation definition silently validates another thread's frame), so every call
goes through one lock. Importing GX costs seconds, so it happens on first use, not at import time.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl

SUITES_DIR = Path(__file__).parent / "suites"
_GX_LOCK = threading.Lock()

# Positions only: without index columns GX reports failing rows as RangeIndex positions, which stays fast when
# every row fails (with index columns and unexpected values it takes tens of seconds on large failing files).
_RESULT_FORMAT = {
    "result_format": "COMPLETE",
    "return_unexpected_index_query": False,
    "exclude_unexpected_values": True,
}


@dataclass(frozen=True)
class ExpectationOutcome:
    """What one expectation found in one validation."""

    reason: str
    level: str
    expectation: str
    column: str
    success: bool
    unexpected_count: int
    element_count: int


@dataclass(frozen=True)
class SuiteResult:
    """A suite's verdict on a frame: per-expectation outcomes and the failing rows as (row_id, reason, level)."""

    suite: str
    success: bool
    outcomes: list[ExpectationOutcome]
    failures: pl.DataFrame

    def failed(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success]


def suite_definition(name: str) -> dict[str, Any]:
    """The suite as committed: name, meta (with its version), notes and expectations."""
    data: dict[str, Any] = json.loads((SUITES_DIR / f"{name}.json").read_text(encoding="utf-8"))
    return data


@cache
def _context() -> Any:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


@cache
def _validation(name: str) -> Any:
    import great_expectations as gx
    from great_expectations.core.expectation_suite import ExpectationSuite

    context = _context()
    definition = suite_definition(name)
    suite = context.suites.add(
        ExpectationSuite(name=name, expectations=definition["expectations"], meta=definition.get("meta", {}))
    )
    batch = (
        context.data_sources.add_pandas(f"{name}_source")
        .add_dataframe_asset(f"{name}_frame")
        .add_batch_definition_whole_dataframe("whole")
    )
    return context.validation_definitions.add(
        gx.ValidationDefinition(name=f"{name}_validation", data=batch, suite=suite)
    )


def validate(name: str, frame: pl.DataFrame, parameters: dict[str, Any] | None = None) -> SuiteResult:
    """Validate ``frame`` with suite ``name``; row ids in ``failures`` are row positions in ``frame``."""
    pdf = frame.to_pandas()
    with _GX_LOCK:
        result = _validation(name).run(
            batch_parameters={"dataframe": pdf},
            expectation_parameters=parameters or {},
            result_format=_RESULT_FORMAT,
        )
    outcomes: list[ExpectationOutcome] = []
    failed_ids: list[pl.DataFrame] = []
    for r in result.results:
        config = r.expectation_config
        meta = config.meta or {}
        kwargs = config.kwargs
        details = r.result or {}
        if r.exception_info and r.exception_info.get("raised_exception"):
            raise RuntimeError(
                f"GX expectation {config.type} on {name} raised: {r.exception_info['exception_message']}"
            )
        outcome = ExpectationOutcome(
            reason=meta.get("reason", config.type),
            level=meta.get("level", "E"),
            expectation=config.type,
            column=kwargs.get("column") or f"{kwargs.get('column_A')},{kwargs.get('column_B')}",
            success=bool(r.success),
            unexpected_count=int(details.get("unexpected_count") or 0),
            element_count=int(details.get("element_count") or len(pdf)),
        )
        outcomes.append(outcome)
        positions = details.get("unexpected_index_list") or []
        if positions:
            failed_ids.append(
                pl.DataFrame({"row_id": pl.Series(positions, dtype=pl.Int64)}).with_columns(
                    pl.lit(outcome.reason).alias("reason"), pl.lit(outcome.level).alias("level")
                )
            )
    failures = (
        pl.concat(failed_ids).unique().sort("row_id", "reason")
        if failed_ids
        else pl.DataFrame(schema={"row_id": pl.Int64, "reason": pl.String, "level": pl.String})
    )
    return SuiteResult(suite=name, success=bool(result.success), outcomes=outcomes, failures=failures)
