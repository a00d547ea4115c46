"""One run per run_date at a time: a lock row in the warehouse, held with a heartbeat.

Every path that runs the pipeline (the nightly schedule, a rerun from the Prefect UI, a backfill, ``cakupan run``)
publishes into the same warehouse, so the warehouse is where two runs of one date can see each other, whether or
not a Prefect server is configured and on SQLite and PostgreSQL alike. A Prefect global concurrency limit would
live in one Prefect API only, and the CLI's temporary API is private to its process.

Table ``run_date_locks``: one row per run_date being processed, keyed by run_date. The holder refreshes
``heartbeat_at`` every ``heartbeat_seconds``; a row whose heartbeat is older than ``stale_after_seconds`` belongs to a
run that died without cleaning up (a killed process, a machine that went down) and may be taken over. A holder on
this machine whose process no longer exists is taken over at once.

The table has its own metadata and is created idempotently here, outside the warehouse migrations: it holds no
data anyone reports on, only which process is working on which date right now.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import (
    Column,
    Date,
    Engine,
    Float,
    MetaData,
    String,
    Table,
    create_engine,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError, ProgrammingError, SQLAlchemyError

from cakupan.errors import InputError

log = logging.getLogger(__name__)

_metadata = MetaData()
run_date_locks = Table(
    "run_date_locks",
    _metadata,
    Column("run_date", Date, primary_key=True),
    Column("run_id", String(36), nullable=False),
    Column("flow_run", String(200), nullable=False),
    Column("host", String(255), nullable=False),
    Column("pid", String(16), nullable=False),
    Column("acquired_at", Float, nullable=False),
    Column("heartbeat_at", Float, nullable=False),
)

# Runs of this process that hold a lock now: a row naming this process with another run_id is a leftover.
_HELD: set[str] = set()
_HELD_GUARD = threading.Lock()


@dataclass(frozen=True)
class Holder:
    """Who holds a run_date: the run, its Prefect flow run, and the process it runs in."""

    run_date: date
    run_id: str
    flow_run: str
    host: str
    pid: str
    acquired_at: float
    heartbeat_at: float

    def describe(self, now: float | None = None) -> str:
        now = time.time() if now is None else now
        since = datetime.fromtimestamp(self.acquired_at, UTC).isoformat(timespec="seconds")
        return (
            f"{self.flow_run} (run {self.run_id}, pid {self.pid} on {self.host}, since {since}, "
            f"last heartbeat {max(0.0, now - self.heartbeat_at):.0f} s ago)"
        )


class RunDateBusy(InputError):
    """Another run held the run_date for longer than this run was willing to wait."""


class RunDateLost(RuntimeError):
    """The lock was taken over (this run's heartbeat had stopped long enough to look dead): do not publish."""


@dataclass
class RunDateLock:
    """A held lock; ``check()`` before publishing proves nobody took the date over in the meantime."""

    run_date: date
    run_id: str
    took_over: Holder | None
    _lost: threading.Event

    @property
    def lost(self) -> bool:
        return self._lost.is_set()

    def check(self) -> None:
        if self._lost.is_set():
            raise RunDateLost(
                f"run {self.run_id} lost its lock on run_date {self.run_date} (heartbeat stopped); nothing published"
            )


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` of this machine is running: one killed but not yet reaped is not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed child its parent has not reaped yet still answers kill(0)
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def is_stale(holder: Holder, now: float, stale_after_seconds: float) -> bool:
    """A holder that cannot still be working: silent for too long, or a process on this machine that is gone."""
    if now - holder.heartbeat_at > stale_after_seconds:
        return True
    if holder.host != socket.gethostname():
        return False
    if holder.pid == str(os.getpid()):
        with _HELD_GUARD:
            return holder.run_id not in _HELD
    return holder.pid.isdigit() and not process_alive(int(holder.pid))


def create_lock_table(engine: Engine) -> None:
    """Create ``run_date_locks`` if it is missing; safe to call from several processes at once."""
    try:
        _metadata.create_all(engine)
    except (IntegrityError, ProgrammingError):
        # Two processes creating the table at the same moment on PostgreSQL: the loser sees it exist now.
        _metadata.create_all(engine)


def _engine(url: str) -> Engine:
    # SQLite: wait for a publishing transaction rather than fail the heartbeat at once.
    connect_args = {"timeout": 30} if url.startswith("sqlite") else {}
    engine = create_engine(url, pool_pre_ping=True, connect_args=connect_args)
    try:
        create_lock_table(engine)
    except SQLAlchemyError as exc:
        engine.dispose()
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise InputError(f"cannot use the run_date_locks table of the warehouse: {reason}") from None
    return engine


def current_holder(engine: Engine, run_date: date) -> Holder | None:
    with engine.connect() as conn:
        row = conn.execute(select(run_date_locks).where(run_date_locks.c.run_date == run_date)).mappings().first()
    return None if row is None else Holder(**row)


def _try_acquire(
    engine: Engine, run_date: date, me: dict[str, object], stale_after_seconds: float
) -> tuple[bool, Holder | None]:
    """One attempt: (acquired, the holder seen or taken over)."""
    try:
        with engine.begin() as conn:
            conn.execute(insert(run_date_locks).values(run_date=run_date, **me))
        return True, None
    except IntegrityError:
        pass
    holder = current_holder(engine, run_date)
    if holder is None:  # released between the insert and the read
        return False, None
    if not is_stale(holder, time.time(), stale_after_seconds):
        return False, holder
    with engine.begin() as conn:
        taken = conn.execute(
            update(run_date_locks)
            .where(
                run_date_locks.c.run_date == run_date,
                run_date_locks.c.run_id == holder.run_id,
                run_date_locks.c.heartbeat_at == holder.heartbeat_at,
            )
            .values(**me)
        ).rowcount
    return taken == 1, holder


def _heartbeat(
    engine: Engine, run_date: date, run_id: str, every: float, stop: threading.Event, lost: threading.Event
) -> None:
    while not stop.wait(every):
        try:
            with engine.begin() as conn:
                updated = conn.execute(
                    update(run_date_locks)
                    .where(run_date_locks.c.run_date == run_date, run_date_locks.c.run_id == run_id)
                    .values(heartbeat_at=time.time())
                ).rowcount
        except SQLAlchemyError as exc:  # the database is away: keep trying; staleness decides, not one failure
            log.warning("heartbeat of the lock on %s failed: %s", run_date, str(exc).splitlines()[0])
            continue
        if updated == 0:
            lost.set()
            return


@contextmanager
def hold_run_date(
    url: str,
    run_date: date,
    *,
    flow_run: str = "cakupan run",
    timeout_seconds: float = 3600.0,
    heartbeat_seconds: float = 15.0,
    stale_after_seconds: float = 120.0,
    poll_seconds: float = 1.0,
    on_wait: Callable[[Holder], None] | None = None,
) -> Iterator[RunDateLock]:
    """Hold ``run_date`` for the duration of the block; wait while another live run holds it.

    Raises RunDateBusy, naming the holder, when the date is still held after ``timeout_seconds``. ``on_wait`` is
    called once, with the holder, when this run starts waiting.
    """
    engine = _engine(url)
    run_id = str(uuid.uuid4())
    with _HELD_GUARD:  # before the first attempt, so a sibling thread never mistakes this row for a leftover
        _HELD.add(run_id)
    stop, lost = threading.Event(), threading.Event()
    beat: threading.Thread | None = None
    try:
        took_over = _wait_for(
            engine, run_date, run_id, flow_run, timeout_seconds, stale_after_seconds, poll_seconds, on_wait
        )
        beat = threading.Thread(
            target=_heartbeat,
            args=(engine, run_date, run_id, heartbeat_seconds, stop, lost),
            name=f"run-date-lock-{run_date}",
            daemon=True,
        )
        beat.start()
        yield RunDateLock(run_date=run_date, run_id=run_id, took_over=took_over, _lost=lost)
    finally:
        stop.set()
        if beat is not None:
            beat.join(timeout=heartbeat_seconds + 5)
            _release(engine, run_date, run_id)
        with _HELD_GUARD:
            _HELD.discard(run_id)
        engine.dispose()


def _wait_for(
    engine: Engine,
    run_date: date,
    run_id: str,
    flow_run: str,
    timeout_seconds: float,
    stale_after_seconds: float,
    poll_seconds: float,
    on_wait: Callable[[Holder], None] | None,
) -> Holder | None:
    """Acquire the lock, waiting up to the timeout; returns the dead holder taken over, if any."""
    deadline = time.monotonic() + timeout_seconds
    waited_for: Holder | None = None
    while True:
        now = time.time()
        me = {
            "run_id": run_id,
            "flow_run": flow_run[:200],
            "host": socket.gethostname()[:255],
            "pid": str(os.getpid()),
            "acquired_at": now,
            "heartbeat_at": now,
        }
        acquired, holder = _try_acquire(engine, run_date, me, stale_after_seconds)
        if acquired:
            if holder is not None:
                log.warning(
                    "run_date %s: took over the lock of %s, which is no longer running", run_date, holder.describe()
                )
            return holder
        if holder is not None and waited_for is None:
            waited_for = holder
            if on_wait is not None:
                on_wait(holder)
        if time.monotonic() >= deadline:
            latest = current_holder(engine, run_date) or holder
            who = latest.describe() if latest else "another run"
            raise RunDateBusy(
                f"run_date {run_date} is being processed by {who}; gave up waiting after {timeout_seconds:.0f} s"
            )
        time.sleep(min(poll_seconds, max(0.0, deadline - time.monotonic())))


def _release(engine: Engine, run_date: date, run_id: str) -> None:
    try:
        with engine.begin() as conn:
            conn.execute(
                delete(run_date_locks).where(run_date_locks.c.run_date == run_date, run_date_locks.c.run_id == run_id)
            )
    except SQLAlchemyError as exc:
        # The row stays behind; the next run of this date sees a dead holder and takes it over.
        log.warning("could not release the lock on %s: %s", run_date, str(exc).splitlines()[0])
