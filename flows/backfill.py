"""Backfill: the nightly run for every date of a range, oldest first, each date its own subflow run.

Each date goes through ``nightly`` unchanged: it takes that date's lock, picks the BPJS export dated on or before
it, skips a date whose inputs did not change since it was published (unless ``force``), and publishes alone. A
date that fails does not stop the dates after it; the backfill then ends Failed and names the failed dates.
The village files are the inbox as it is now: a backfill recomputes past dates with today's lists.
"""

from __future__ import annotations

from datetime import date, timedelta

from prefect import flow, get_run_logger

from cakupan.errors import InputError
from flows.nightly import nightly
from flows.parameters import InputFolders

MAX_DAYS = 366


@flow(name="cakupan-backfill", flow_run_name="backfill-{start}..{end}")
def backfill(
    start: date,
    end: date,
    force: bool = False,
    inputs: InputFolders = InputFolders(),  # noqa: B008 (a frozen model: the default is never mutated)
) -> dict[str, str]:
    """Run the pipeline for every date from start to end (both included), oldest first.

    Args:
        start: First run date, YYYY-MM-DD.
        end: Last run date, YYYY-MM-DD (on or after start, at most a year later).
        force: Reprocess dates whose files, rules and code did not change since they were published.
        inputs: Where to read; empty fields use the configured inbox. The same inbox serves every date.
    """
    if end < start:
        raise InputError(f"backfill end {end} is before its start {start}")
    days = (end - start).days + 1
    if days > MAX_DAYS:
        raise InputError(f"backfill of {days} dates refused: at most {MAX_DAYS} at a time")
    logger = get_run_logger()
    outcomes: dict[str, str] = {}
    for offset in range(days):
        run_date = start + timedelta(days=offset)
        state = nightly(run_date=run_date, force=force, inputs=inputs, return_state=True)
        if state.is_completed():
            outcomes[run_date.isoformat()] = "completed" if state.result() is not None else "unchanged, skipped"
        else:
            outcomes[run_date.isoformat()] = f"{state.type.value.lower()}: {state.message}"
        logger.info("%s: %s", run_date, outcomes[run_date.isoformat()])
    failed = [f"{d} {outcome}" for d, outcome in outcomes.items() if outcome not in ("completed", "unchanged, skipped")]
    if failed:
        raise RuntimeError(f"{len(failed)} of {days} dates did not complete: " + "; ".join(failed))
    return outcomes
