"""One run per run_date: the lock row in the warehouse, on SQLite and PostgreSQL."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from datetime import date

import pytest
from sqlalchemy import create_engine, insert, select, update

from warehouse.lock import (
    RunDateBusy,
    RunDateLost,
    create_lock_table,
    current_holder,
    hold_run_date,
    run_date_locks,
)

DAY = date(2026, 11, 27)


def test_a_second_run_of_the_same_date_waits_then_gives_up_naming_the_holder(db_url: str) -> None:
    with hold_run_date(db_url, DAY, flow_run="cakupan-2026-11-27"):
        started = time.monotonic()
        with (
            pytest.raises(RunDateBusy, match=r"run_date 2026-11-27 is being processed by cakupan-2026-11-27 \(run "),
            hold_run_date(db_url, DAY, timeout_seconds=0.6, poll_seconds=0.1),
        ):
            pass
        assert time.monotonic() - started >= 0.6


def test_runs_of_different_dates_do_not_wait_for_each_other(db_url: str) -> None:
    with hold_run_date(db_url, DAY), hold_run_date(db_url, date(2026, 11, 26), timeout_seconds=0) as other:
        assert other.run_date == date(2026, 11, 26)


def test_the_waiting_run_starts_once_the_holder_releases(db_url: str) -> None:
    released_at: list[float] = []
    holding = threading.Event()

    def first() -> None:
        with hold_run_date(db_url, DAY, flow_run="first"):
            holding.set()
            time.sleep(1.0)
            released_at.append(time.monotonic())

    thread = threading.Thread(target=first)
    thread.start()
    holding.wait(10)
    seen: list[str] = []
    with hold_run_date(db_url, DAY, timeout_seconds=30, poll_seconds=0.1, on_wait=lambda h: seen.append(h.flow_run)):
        acquired_at = time.monotonic()
    thread.join()
    assert seen == ["first"]  # told once whom it waits for
    assert acquired_at >= released_at[0]


def test_releasing_leaves_no_row(db_url: str) -> None:
    with hold_run_date(db_url, DAY) as lock:
        engine = create_engine(db_url)
        holder = current_holder(engine, DAY)
        assert holder is not None and holder.run_id == lock.run_id
    assert current_holder(engine, DAY) is None
    engine.dispose()


HOLD_AND_WAIT = """
import sys, time
from datetime import date
from warehouse.lock import hold_run_date
with hold_run_date(sys.argv[1], date(2026, 11, 27), flow_run="killed-run"):
    print("held", flush=True)
    time.sleep(600)
"""


def test_the_lock_of_a_killed_process_is_taken_over_at_once(db_url: str) -> None:
    child = subprocess.Popen([sys.executable, "-c", HOLD_AND_WAIT, db_url], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "held"
        with (  # alive: it holds the date
            pytest.raises(RunDateBusy, match="killed-run"),
            hold_run_date(db_url, DAY, timeout_seconds=0.3, poll_seconds=0.1),
        ):
            pass
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        with hold_run_date(db_url, DAY, timeout_seconds=5) as lock:
            assert lock.took_over is not None and lock.took_over.pid == str(child.pid)
    finally:
        child.kill()
        child.wait()


def _plant(db_url: str, host: str, heartbeat_age: float) -> None:
    """A row left by a run on another machine whose last heartbeat was ``heartbeat_age`` seconds ago."""
    engine = create_engine(db_url)
    create_lock_table(engine)
    now = time.time()
    with engine.begin() as conn:
        conn.execute(
            insert(run_date_locks).values(
                run_date=DAY,
                run_id="0" * 36,
                flow_run="elsewhere-run",
                host=host,
                pid="1",
                acquired_at=now - heartbeat_age - 60,
                heartbeat_at=now - heartbeat_age,
            )
        )
    engine.dispose()


@pytest.mark.parametrize(
    ("heartbeat_age", "taken_over"),
    [
        (5.0, False),  # a live run elsewhere: its heartbeat is recent
        (600.0, True),  # silent for ten minutes: that machine or process is gone
    ],
)
def test_a_holder_on_another_machine_is_taken_over_only_when_its_heartbeat_is_stale(
    db_url: str, heartbeat_age: float, taken_over: bool
) -> None:
    _plant(db_url, "another-host", heartbeat_age)
    if taken_over:
        with hold_run_date(db_url, DAY, timeout_seconds=0, stale_after_seconds=120) as lock:
            assert lock.took_over is not None and lock.took_over.flow_run == "elsewhere-run"
    else:
        with (
            pytest.raises(RunDateBusy, match="elsewhere-run"),
            hold_run_date(db_url, DAY, timeout_seconds=0, stale_after_seconds=120),
        ):
            pass


def test_the_heartbeat_keeps_the_lock_fresh_and_notices_a_takeover(db_url: str) -> None:
    engine = create_engine(db_url)
    with hold_run_date(db_url, DAY, heartbeat_seconds=0.1) as lock:
        first = current_holder(engine, DAY)
        time.sleep(0.5)
        later = current_holder(engine, DAY)
        assert first is not None and later is not None and later.heartbeat_at > first.heartbeat_at
        lock.check()
        with engine.begin() as conn:  # someone decided this run was dead and took the date
            conn.execute(update(run_date_locks).values(run_id="1" * 36))
        deadline = time.monotonic() + 5
        while not lock.lost and time.monotonic() < deadline:
            time.sleep(0.05)
        with pytest.raises(RunDateLost, match="nothing published"):
            lock.check()
    # Releasing never deletes the row of the run that took over.
    with engine.connect() as conn:
        assert conn.execute(select(run_date_locks.c.run_id)).scalars().all() == ["1" * 36]
    engine.dispose()
