"""The warehouse: its schema version, and publishing a run's rows in one transaction.

The schema belongs to the Alembic migrations in ``warehouse/migrations/`` (configured here, no alembic.ini).
``cakupan db upgrade`` brings any database to the head revision. A run never migrates a database that already has
tables: it refuses one whose schema is behind (or ahead of) the code, in one line. The one exception is a brand-new,
empty SQLite database (the local profile's ``data/warehouse.db`` on a first ``cakupan demo``), which is created at
head, so the demo stays two commands. PostgreSQL is always migrated deliberately.
"""

from __future__ import annotations

from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Connection, Engine, create_engine, delete, func, insert, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from cakupan.errors import InputError
from warehouse.models import Base, CoverageMetric, PipelineRun, SubmissionFile

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def connect(url: str) -> Engine:
    """An engine whose database answers and whose schema is at the code's revision; InputError in one line otherwise.

    A brand-new empty SQLite database is migrated to head on the way; any other database must be at head already.
    """
    engine = _engine(url)
    try:
        with engine.begin() as conn:
            current = schema_revision(conn)
            if current is None and conn.dialect.name == "sqlite" and not _has_warehouse_tables(conn):
                _upgrade(conn)
                current = schema_revision(conn)
    except SQLAlchemyError as exc:
        engine.dispose()
        raise InputError(f"warehouse database unreachable ({_redact(url)}): {_reason(exc)}") from None
    if current != head_revision():
        engine.dispose()
        raise InputError(
            f"warehouse schema is at {current or 'no revision'}, code needs {head_revision()}: "
            f"run `cakupan db upgrade` (--db {_redact(url)})"
        )
    return engine


def _has_warehouse_tables(conn: Connection) -> bool:
    # Other tables (run_date_locks, created on demand by warehouse.lock) do not make a database "existing".
    return bool(set(inspect(conn).get_table_names()) & set(Base.metadata.tables))


def upgrade(url: str, revision: str = "head") -> tuple[str | None, str]:
    """Migrate the database at ``url`` to ``revision`` (the newest by default); returns (before, after)."""
    engine = _engine(url)
    try:
        with engine.begin() as conn:
            before = schema_revision(conn)
            _upgrade(conn, revision)
            return before, schema_revision(conn) or ""
    except SQLAlchemyError as exc:
        raise InputError(f"warehouse upgrade failed ({_redact(url)}): {_reason(exc)}") from None
    finally:
        engine.dispose()


def schema_revision(conn: Connection) -> str | None:
    """The revision the database is at; None for a database that was never migrated."""
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


@cache
def head_revision() -> str:
    """The revision this code needs (the newest in warehouse/migrations/versions)."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None, "warehouse/migrations/versions holds no revision"
    return head


def _alembic_config(conn: Connection | None = None) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = conn
    return config


def _upgrade(conn: Connection, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(_alembic_config(conn), revision)


def _engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            # A fresh data folder is normal for the local profile; SQLite cannot create its parent folder.
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, pool_pre_ping=True)
        with engine.connect() as conn:
            conn.execute(text("select 1"))
    except (SQLAlchemyError, ArgumentError, OSError, ValueError, ImportError) as exc:
        raise InputError(f"warehouse database unreachable ({_redact(url)}): {_reason(exc)}") from None
    return engine


def _reason(exc: BaseException) -> str:
    return str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]


def _redact(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable URL>"


def replace_run(
    engine: Engine,
    run_date: date,
    metrics: pl.DataFrame,
    run: dict[str, Any],
    files: pl.DataFrame | None = None,
) -> None:
    """Replace run_date's coverage and submission-file rows and record the run, in one transaction.

    All of it is committed or none of it: a failure at any statement leaves the previous rows of the date as they
    were. ``files`` is the run's restricted/files partition (one row per file seen).
    """
    metric_columns = [c.name for c in CoverageMetric.__table__.columns if c.name in metrics.columns]
    file_columns = [c.name for c in SubmissionFile.__table__.columns if c.name != "run_date"]
    with engine.begin() as conn:
        conn.execute(delete(CoverageMetric).where(CoverageMetric.run_date == run_date))
        conn.execute(delete(SubmissionFile).where(SubmissionFile.run_date == run_date))
        conn.execute(insert(CoverageMetric), metrics.select(metric_columns).to_dicts())
        if files is not None and files.height:
            rows = files.select(pl.lit(run_date).alias("run_date"), *file_columns)
            conn.execute(insert(SubmissionFile), rows.to_dicts())
        conn.execute(insert(PipelineRun), [run])


def previous_metrics(engine: Engine, run_date: date) -> pl.DataFrame | None:
    """The coverage rows of the latest run_date before ``run_date`` in the warehouse; None when there is none."""
    with engine.connect() as conn:
        previous = conn.scalar(select(func.max(CoverageMetric.run_date)).where(CoverageMetric.run_date < run_date))
        if previous is None:
            return None
        rows = conn.execute(select(CoverageMetric).where(CoverageMetric.run_date == previous)).mappings().all()
    return pl.DataFrame([dict(r) for r in rows], infer_schema_length=None)


def kabupaten_history(engine: Engine, before: date) -> pl.DataFrame:
    """The kabupaten row of every run_date before ``before``, oldest first: the trend a report draws."""
    columns = [
        CoverageMetric.run_date,
        CoverageMetric.kuota,
        CoverageMetric.persons,
        CoverageMetric.active,
        CoverageMetric.grace,
        CoverageMetric.lapsed,
        CoverageMetric.members_active_total,
        CoverageMetric.premium_monthly_rp,
    ]
    query = (
        select(*columns)
        .where(CoverageMetric.level == "kabupaten", CoverageMetric.run_date < before)
        .order_by(CoverageMetric.run_date)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    schema = {
        "run_date": pl.Date,
        "kuota": pl.Int64,
        "persons": pl.Int64,
        "active": pl.Int64,
        "grace": pl.Int64,
        "lapsed": pl.Int64,
        "members_active_total": pl.Int64,
        "premium_monthly_rp": pl.Int64,
    }
    return pl.DataFrame([dict(r) for r in rows], schema=schema)


def run_committed(engine: Engine, run_id: str) -> bool:
    """Whether the warehouse holds the record of run ``run_id``, i.e. its publishing transaction committed."""
    with engine.connect() as conn:
        return conn.scalar(select(PipelineRun.run_id).where(PipelineRun.run_id == run_id)) is not None
