"""The warehouse on SQLite and PostgreSQL: migrations, the schema gate, and publishing all or nothing."""

from datetime import UTC, date, datetime

import polars as pl
import pytest
from sqlalchemy import create_engine, func, inspect, select, text

from cakupan.errors import InputError
from cakupan.metrics import COUNT_COLUMNS
from warehouse.models import Base, CoverageMetric, PipelineRun, SubmissionFile
from warehouse.store import (
    connect,
    head_revision,
    kabupaten_history,
    previous_metrics,
    replace_run,
    schema_revision,
    upgrade,
)

RUN = date(2026, 11, 27)


def metrics(active: int, run_date: date = RUN, **extra: object) -> pl.DataFrame:
    counts = dict.fromkeys(COUNT_COLUMNS, 0)
    rows = [
        {"level": "desa", "kode": "62.03.01.2001", "nama": "Sei Asam", "kuota": 40},
        {"level": "kecamatan", "kode": "62.03.01", "nama": "Selat", "kuota": 40},
        {"level": "kabupaten", "kode": "62.03", "nama": "Kabupaten Kapuas", "kuota": 40},
    ]
    return pl.DataFrame(
        [
            {
                "run_date": run_date,
                **row,
                **counts,
                "active": active,
                "persons": active,
                "target_attainment": active / 40,
                "members_active_total": None,
                "penduduk_bekerja": None,
                "workforce_coverage": None,
                "workforce_year": None,
                "workforce_source": None,
                **extra,
            }
            for row in rows
        ]
    )


def files(*paths: str) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "path": list(paths),
            "sha256": ["ab" * 32] * len(paths),
            "kode_desa": ["62.03.01.2001"] * len(paths),
            "submitted_at": [datetime(2026, 11, 20, 8, 0)] * len(paths),
            "status": ["loaded"] * len(paths),
            "reason": [None] * len(paths),
            "detail": [None] * len(paths),
            "rejected_share": [0.0] * len(paths),
        },
        schema_overrides={"status": pl.Enum(["loaded", "rejected", "superseded"]), "reason": pl.String},
    )


def run(run_id: str, run_date: date = RUN) -> dict:
    now = datetime.now(UTC)
    return {
        "run_id": run_id,
        "run_date": run_date,
        "started_at": now,
        "finished_at": now,
        "status": "completed",
        "rows_read": 1,
        "persons": 1,
        "inputs_sha256": "x",
        "code_version": "test",
        "rules_version": "test",
        "premium_rates_version": "test",
    }


def active_rows(engine) -> list[int]:
    with engine.connect() as conn:
        return list(conn.scalars(select(CoverageMetric.active).where(CoverageMetric.run_date == RUN).order_by("level")))


def file_paths(engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.scalars(select(SubmissionFile.path).where(SubmissionFile.run_date == RUN).order_by("path")))


def count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(table))


# --- migrations and the schema gate -------------------------------------------------------------------------------


def test_upgrade_brings_an_empty_database_to_head_and_can_be_repeated(db_url: str) -> None:
    assert upgrade(db_url) == (None, head_revision())
    assert upgrade(db_url) == (head_revision(), head_revision())
    tables = set(inspect(create_engine(db_url)).get_table_names())
    assert {"coverage_metrics", "pipeline_runs", "submission_files", "alembic_version"} <= tables


def test_the_migrated_schema_is_exactly_the_models(db_url: str) -> None:
    # If a model changes without a revision (or the other way round), autogenerate finds a difference.
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    upgrade(db_url)
    with create_engine(db_url).connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_a_database_behind_the_code_is_refused_in_one_line_until_upgraded(db_url: str) -> None:
    upgrade(db_url, "0001")
    with pytest.raises(InputError) as refused:
        connect(db_url)
    message = str(refused.value)
    assert message.startswith(f"warehouse schema is at 0001, code needs {head_revision()}: run `cakupan db upgrade`"), (
        message
    )
    assert "\n" not in message

    # Rows published at 0001 survive the upgrade; what 0001 did not know is unknown (null), not zero.
    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "insert into coverage_metrics (run_date, level, kode, submitted_rows, accepted, rejected, duplicates, "
                "superseded, persons, active, grace, lapsed, not_enrolled, identity_conflict, probable_match, "
                "enrolled_not_submitted) values (:d, 'kabupaten', '62.03', 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0)"
            ),
            {"d": date(2026, 11, 20)},
        )
    assert upgrade(db_url) == ("0001", head_revision())
    engine = connect(db_url)
    with engine.connect() as conn:
        row = conn.execute(select(CoverageMetric.active, CoverageMetric.premium_members)).one()
    assert tuple(row) == (1, None)


def test_a_database_made_before_migrations_is_refused_then_adopted(db_url: str) -> None:
    # The first skeleton made coverage_metrics and pipeline_runs with create_all and recorded no revision.
    upgrade(db_url, "0001")
    with create_engine(db_url).begin() as conn:
        conn.execute(text("drop table alembic_version"))
        conn.execute(text("drop table submission_files"))
    with pytest.raises(InputError, match="warehouse schema is at no revision, code needs"):
        connect(db_url)
    assert upgrade(db_url) == (None, head_revision())
    connect(db_url).dispose()


def test_a_brand_new_sqlite_database_is_created_at_head(tmp_path) -> None:
    # The local profile's first `cakupan demo`: data/warehouse.db does not exist yet, nor does data/.
    url = f"sqlite:///{tmp_path / 'new' / 'warehouse.db'}"
    engine = connect(url)
    with engine.connect() as conn:
        assert schema_revision(conn) == head_revision()


def test_an_existing_sqlite_database_is_never_migrated_by_a_run(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'warehouse.db'}"
    upgrade(url, "0001")
    with pytest.raises(InputError, match="schema is at 0001"):
        connect(url)
    with create_engine(url).connect() as conn:
        assert schema_revision(conn) == "0001"


@pytest.mark.postgres
def test_an_empty_postgresql_database_is_not_created_by_a_run() -> None:
    from tests.conftest import _postgres_database

    for url in _postgres_database():
        with pytest.raises(InputError, match=r"warehouse schema is at no revision.*cakupan db upgrade"):
            connect(url)
        assert inspect(create_engine(url)).get_table_names() == []


def test_an_unreachable_database_is_one_clear_error() -> None:
    with pytest.raises(InputError, match="warehouse database unreachable"):
        connect("postgresql+psycopg://postgres@127.0.0.1:1/nowhere")


# --- publishing ---------------------------------------------------------------------------------------------------


@pytest.fixture
def engine(db_url: str):
    upgrade(db_url)
    engine = connect(db_url)
    yield engine
    engine.dispose()


def test_rerun_replaces_the_date_without_duplicates(engine) -> None:
    replace_run(engine, RUN, metrics(10), run("run-1"), files("a.xlsx", "b.csv"))
    replace_run(engine, RUN, metrics(12), run("run-2"), files("a.xlsx", "c.csv"))
    assert active_rows(engine) == [12, 12, 12]
    assert file_paths(engine) == ["a.xlsx", "c.csv"]
    assert count(engine, CoverageMetric) == 3
    assert count(engine, SubmissionFile) == 2
    assert count(engine, PipelineRun) == 2  # every completed run is recorded


def test_a_publish_that_fails_half_way_leaves_the_previous_rows(engine) -> None:
    replace_run(engine, RUN, metrics(10), run("run-1"), files("a.xlsx"))
    # Metrics and files are deleted and reinserted, then recording the run fails (its id is taken): all rolls back.
    with pytest.raises(Exception):  # noqa: B017 - the driver's own IntegrityError type differs per database
        replace_run(engine, RUN, metrics(99), run("run-1"), files("z.xlsx"))
    assert active_rows(engine) == [10, 10, 10]
    assert file_paths(engine) == ["a.xlsx"]
    assert count(engine, PipelineRun) == 1


def test_submission_files_keep_their_values(engine) -> None:
    replace_run(engine, RUN, metrics(1), run("run-1"), files("62.03.01.2001_2026-11-20.xlsx"))
    with engine.connect() as conn:
        row = conn.execute(select(SubmissionFile)).mappings().one()
    assert row["run_date"] == RUN and row["status"] == "loaded" and row["sha256"] == "ab" * 32
    assert row["submitted_at"].replace(tzinfo=None) == datetime(2026, 11, 20, 8, 0)


def test_previous_metrics_are_those_of_the_latest_earlier_run_date(engine) -> None:
    assert previous_metrics(engine, RUN) is None
    replace_run(engine, date(2026, 11, 6), metrics(3, date(2026, 11, 6)), run("r1", date(2026, 11, 6)))
    replace_run(engine, date(2026, 11, 20), metrics(7, date(2026, 11, 20)), run("r2", date(2026, 11, 20)))
    replace_run(engine, RUN, metrics(9), run("r3"))
    replace_run(engine, date(2026, 12, 4), metrics(11, date(2026, 12, 4)), run("r4", date(2026, 12, 4)))
    previous = previous_metrics(engine, RUN)
    assert previous is not None
    assert set(previous["run_date"]) == {date(2026, 11, 20)} and set(previous["active"]) == {7}
    history = kabupaten_history(engine, RUN)  # a backfill of RUN draws only what came before it
    assert history.select("run_date", "active").rows() == [(date(2026, 11, 6), 3), (date(2026, 11, 20), 7)]
