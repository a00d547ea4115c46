"""Fixtures of the flow tests: one small sample, settings that point a run at a folder and a warehouse, snapshots."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from cakupan.sample import write_sample
from cakupan.settings import Settings
from flows.parameters import InputFolders

RUN = date(2026, 11, 27)  # the sample's own date (truth/manifest.json)


@pytest.fixture(scope="session")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("flow-sample")
    write_sample(out, seed=3, villages=12, workers=300)
    return out


def inputs_of(sample: Path) -> InputFolders:
    return InputFolders(submissions=sample / "submissions", bpjs=sample / "bpjs", reference=sample / "reference")


def settings_for(data_dir: Path, db_url: str | None = None, **extra: object) -> Settings:
    """Settings of a test run: nothing from the developer's .env; short retry waits so faults surface quickly."""
    values: dict[str, object] = {"data_dir": data_dir, "db_url": db_url, "io_retry_delays_seconds": [0.5]}
    return Settings(_env_file=None, **(values | extra))  # type: ignore[arg-type]


def snapshot(data_dir: Path, db_url: str) -> dict[str, object]:
    """Every published file's bytes and every warehouse row: what a failed run must leave exactly as it was."""
    files = {
        str(p.relative_to(data_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(data_dir.rglob("*"))
        if p.is_file() and not {".runs", ".trash"} & set(p.relative_to(data_dir).parts) and p.name != "warehouse.db"
    }
    engine = create_engine(db_url)
    rows: dict[str, object] = {}
    with engine.connect() as conn:
        for table in sorted(set(inspect(conn).get_table_names()) - {"run_date_locks", "alembic_version"}):
            found = sorted(map(repr, conn.execute(text(f'select * from "{table}"')).all()))
            if found:  # an empty table is no row, like a missing one
                rows[table] = found
    engine.dispose()
    return {"files": files, "rows": rows}


def count_runs(db_url: str, run_date: date = RUN) -> int:
    engine = create_engine(db_url)
    with engine.connect() as conn:
        n = conn.execute(text("select count(*) from pipeline_runs where run_date = :d"), {"d": run_date}).scalar()
    engine.dispose()
    return int(n or 0)
