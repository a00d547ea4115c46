"""Publishing to the warehouse: a run's rows for its run_date replace the earlier ones in one transaction."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Engine, create_engine, delete, insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from cakupan.errors import InputError
from warehouse.models import Base, CoverageMetric, PipelineRun


def connect(url: str) -> Engine:
    """An engine whose database answers and has the warehouse tables; InputError in one line otherwise."""
    try:
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            # A fresh data folder is normal for the local profile; SQLite cannot create its parent folder.
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, pool_pre_ping=True)
        with engine.begin() as conn:
            conn.execute(text("select 1"))
        Base.metadata.create_all(engine)
    except (SQLAlchemyError, ArgumentError, OSError, ValueError, ImportError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise InputError(f"warehouse database unreachable ({_redact(url)}): {reason}") from None
    return engine


def _redact(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable URL>"


def replace_run(engine: Engine, run_date: date, metrics: pl.DataFrame, run: dict[str, Any]) -> None:
    """Replace run_date's coverage rows and record the run, in one transaction: all of it or none of it."""
    columns = [c.name for c in CoverageMetric.__table__.columns]
    with engine.begin() as conn:
        conn.execute(delete(CoverageMetric).where(CoverageMetric.run_date == run_date))
        conn.execute(insert(CoverageMetric), metrics.select(columns).to_dicts())
        conn.execute(insert(PipelineRun), [run])
