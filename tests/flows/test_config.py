"""Where a deployed run's settings come from: environment first, then Prefect Variables and Secret blocks."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect.blocks.system import Secret
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import VariableCreate
from sqlalchemy.engine import make_url

from cakupan.settings import Settings
from flows.config import DeployedSettings, load_settings, use_settings

pytestmark = pytest.mark.usefixtures("prefect_api")

VARIABLES = {
    "cakupan_data_dir": "/srv/cakupan/data",
    "cakupan_db_url": "postgresql+psycopg://cakupan@db.dinsos:5432/cakupan",
    "cakupan_lock_timeout_seconds": 600,
    "cakupan_io_retry_delays_seconds": "[1, 2, 3]",  # typed as text in the UI
    "cakupan_pii_key": "never-from-a-variable",  # secrets come from Secret blocks only
    "unrelated_variable": "x",
}


@pytest.fixture
def on_the_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith("CAKUPAN_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(Path(__file__).parent)  # no .env here
    with get_client(sync_client=True) as client:
        for name, value in VARIABLES.items():
            client.create_variable(VariableCreate(name=name, value=value))
    Secret(value="kunci-dari-secret").save("cakupan-pii-key", overwrite=True)
    Secret(value="p@ss word").save("cakupan-db-password", overwrite=True)
    try:
        yield
    finally:
        with get_client(sync_client=True) as client:
            for name in VARIABLES:
                client.delete_variable_by_name(name)
            for block in ("cakupan-pii-key", "cakupan-db-password"):
                client.delete_block_document(client.read_block_document_by_name(block, "secret").id)


def test_a_deployed_run_reads_prefect_variables_and_secret_blocks(on_the_server: None) -> None:
    settings = DeployedSettings()
    assert settings.data_dir == Path("/srv/cakupan/data")
    assert settings.lock_timeout_seconds == 600
    assert settings.io_retry_delays_seconds == [1, 2, 3]
    assert settings.person_key_secret == b"kunci-dari-secret"
    # The password comes from its Secret block into the URL, quoted so that any character survives.
    url = make_url(settings.warehouse_url)
    assert (url.username, url.password, url.host, url.database) == ("cakupan", "p@ss word", "db.dinsos", "cakupan")


def test_the_environment_wins_over_the_prefect_server(on_the_server: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAKUPAN_DATA_DIR", "/tmp/elsewhere")
    monkeypatch.setenv("CAKUPAN_PII_KEY", "from-the-unit-file")
    settings = DeployedSettings()
    assert settings.data_dir == Path("/tmp/elsewhere")
    assert settings.person_key_secret == b"from-the-unit-file"
    assert settings.lock_timeout_seconds == 600  # still from the Variable


def test_settings_given_by_the_caller_are_used_as_they_are(on_the_server: None) -> None:
    given = Settings(data_dir=Path("/data/cli"), _env_file=None)  # type: ignore[call-arg]
    with use_settings(given):
        assert load_settings() is given
    assert load_settings().data_dir == Path("/srv/cakupan/data")
