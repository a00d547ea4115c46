from datetime import UTC, date, datetime

import polars as pl
import pytest
from sqlalchemy import func, select

from cakupan.errors import InputError
from warehouse.models import CoverageMetric
from warehouse.store import connect, replace_run

RUN = date(2026, 11, 27)


def metrics(active: int) -> pl.DataFrame:
    counts = dict.fromkeys(
        [
            "submitted_rows",
            "accepted",
            "rejected",
            "duplicates",
            "superseded",
            "persons",
            "grace",
            "lapsed",
            "not_enrolled",
            "identity_conflict",
            "probable_match",
            "enrolled_not_submitted",
        ],
        0,
    )
    return pl.DataFrame(
        [
            {
                "run_date": RUN,
                "level": "desa",
                "kode": "62.03.01.2001",
                "nama": "Sei Asam",
                "kuota": 40,
                "active": active,
                **counts,
                "target_attainment": active / 40,
                "members_active_total": None,
                "penduduk_bekerja": None,
                "workforce_coverage": None,
                "workforce_year": None,
                "workforce_source": None,
            },
        ]
    )


def run(run_id: str) -> dict:
    now = datetime.now(UTC)
    return {
        "run_id": run_id,
        "run_date": RUN,
        "started_at": now,
        "finished_at": now,
        "status": "completed",
        "rows_read": 1,
        "persons": 1,
        "inputs_sha256": "x",
        "code_version": "test",
        "rules_version": "test",
    }


def active_rows(engine) -> list[int]:
    with engine.connect() as conn:
        return list(conn.scalars(select(CoverageMetric.active).where(CoverageMetric.run_date == RUN)))


def test_rerun_replaces_the_date_without_duplicates(db_url: str) -> None:
    engine = connect(db_url)
    replace_run(engine, RUN, metrics(10), run("run-1"))
    replace_run(engine, RUN, metrics(12), run("run-2"))
    assert active_rows(engine) == [12]
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(CoverageMetric)) == 1


def test_a_publish_that_fails_half_way_leaves_the_previous_rows(db_url: str) -> None:
    engine = connect(db_url)
    replace_run(engine, RUN, metrics(10), run("run-1"))
    # The metrics are deleted and reinserted, then recording the run fails (its id is taken): all rolls back.
    with pytest.raises(Exception):  # noqa: B017 - the driver's own IntegrityError type differs per database
        replace_run(engine, RUN, metrics(99), run("run-1"))
    assert active_rows(engine) == [10]


def test_an_unreachable_database_is_one_clear_error() -> None:
    with pytest.raises(InputError, match="warehouse database unreachable"):
        connect("postgresql+psycopg://postgres@127.0.0.1:1/nowhere")
