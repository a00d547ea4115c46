"""Shared fixtures: a warehouse on SQLite and on the machine's PostgreSQL, and a Prefect API for flow tests."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

PG_ADMIN = os.environ.get("CAKUPAN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _postgres_database() -> Iterator[str]:
    import psycopg

    name = f"cakupan_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN} (start it as .ci/run does): {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The same warehouse tests run on SQLite (the default) and on PostgreSQL (production)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'warehouse.db'}"
    else:
        yield from _postgres_database()


@pytest.fixture(scope="session")
def prefect_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One temporary Prefect API for every flow test of the session (starting one costs seconds)."""
    os.environ["PREFECT_HOME"] = str(tmp_path_factory.mktemp("prefect-home"))
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    with (
        prefect_test_harness(server_startup_timeout=90),
        temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}),
    ):
        yield


@pytest.fixture
def minimal_inputs(tmp_path: Path) -> Path:
    """The smallest input tree a run accepts: an empty inbox, a header-only export dated 2026-11-25, one village."""
    (tmp_path / "submissions").mkdir()
    (tmp_path / "bpjs").mkdir()
    (tmp_path / "bpjs" / "bpjs_export_2026-11-25.csv").write_text("KPJ,NIK,NAMA\n")
    (tmp_path / "reference").mkdir()
    (tmp_path / "reference" / "villages.csv").write_text(
        "kode_desa,nama_desa,kode_kecamatan,nama_kecamatan,kuota\n62.03.01.2001,Sei Asam,62.03.01,Selat,40\n"
    )
    return tmp_path
