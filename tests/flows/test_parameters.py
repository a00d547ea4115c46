"""The run's parameters: the form the UI shows, the run date of a scheduled run, and checks before any work."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import yaml
from pydantic import TypeAdapter, ValidationError

from cakupan.errors import InputError
from cakupan.settings import Settings
from flows.parameters import InputFolders, KodeDesa, check_request, run_date_at

ROOT = Path(__file__).parents[2]


@pytest.mark.parametrize(
    ("scheduled_utc", "run_date"),
    [
        # 01:30 WIB on the 27th is 18:30 UTC on the 26th: the run reports on the 27th, not the UTC date.
        (datetime(2026, 11, 26, 18, 30, tzinfo=UTC), date(2026, 11, 27)),
        (datetime(2026, 11, 27, 16, 59, tzinfo=UTC), date(2026, 11, 27)),  # 23:59 WIB
        (datetime(2026, 11, 27, 17, 0, tzinfo=UTC), date(2026, 11, 28)),  # midnight WIB
        (datetime(2026, 12, 31, 18, 30, tzinfo=UTC), date(2027, 1, 1)),  # across the year
    ],
)
def test_a_scheduled_run_reports_on_its_start_day_in_jakarta(scheduled_utc: datetime, run_date: date) -> None:
    assert run_date_at(scheduled_utc, "Asia/Jakarta") == run_date


def deployments() -> dict[str, dict]:  # type: ignore[type-arg]
    config = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    return {d["name"]: d for d in config["deployments"]}


def test_prefect_yaml_defines_nightly_rerun_and_backfill_on_one_process_pool() -> None:
    found = deployments()
    assert set(found) == {"nightly", "rerun", "backfill"}
    assert found["nightly"]["entrypoint"] == found["rerun"]["entrypoint"] == "flows/nightly.py:nightly"
    assert found["backfill"]["entrypoint"] == "flows/backfill.py:backfill"
    assert found["nightly"]["concurrency_limit"]["limit"] == 1
    assert {d["work_pool"]["name"] for d in found.values()} == {"cakupan"}
    # Nothing a run reads is written in the deployments: it comes from the settings.
    assert all(not d.get("parameters") for d in found.values())


def test_the_nightly_schedule_fires_at_1830_utc_for_the_next_day_in_jakarta() -> None:
    from prefect.server.schemas.schedules import CronSchedule

    (schedule,) = deployments()["nightly"]["schedules"]
    assert schedule["timezone"] == "Asia/Jakarta"
    cron = CronSchedule(cron=schedule["cron"], timezone=schedule["timezone"])
    fires = asyncio.run(cron.get_dates(n=2, start=datetime(2026, 11, 26, 12, 0, tzinfo=UTC)))
    assert [f.astimezone(UTC).replace(tzinfo=None) for f in fires] == [
        datetime(2026, 11, 26, 18, 30),
        datetime(2026, 11, 27, 18, 30),
    ]
    assert [run_date_at(f, "Asia/Jakarta") for f in fires] == [date(2026, 11, 27), date(2026, 11, 28)]


def test_the_ui_form_has_typed_fields_with_help_text() -> None:
    from prefect.utilities.callables import parameter_schema

    from flows.backfill import backfill
    from flows.nightly import nightly

    schema = parameter_schema(nightly).model_dump()
    props = schema["properties"]
    assert list(props) == ["run_date", "kode_desa", "force", "inputs"]
    assert {"format": "date", "type": "string"} in props["run_date"]["anyOf"]
    assert props["kode_desa"]["anyOf"][0]["items"]["pattern"] == r"^(\d{2}\.\d{2}\.\d{2}\.\d{4}|\d{10})$"
    assert props["force"]["type"] == "boolean"
    for name in props:
        assert len(props[name].get("description", "")) > 20, name
    folders = schema["definitions"]["InputFolders"]["properties"]
    assert set(folders) == {"submissions", "bpjs", "reference"}
    assert all(f["description"] for f in folders.values())
    assert parameter_schema(backfill).model_dump()["required"] == ["start", "end"]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("62.03.01.2001", "62.03.01.2001"),
        ("6203012001", "62.03.01.2001"),  # as villages write it in file names
        (" 62.03.01.2001 ", "62.03.01.2001"),
        ("62.03.01", None),  # a kecamatan, not a village
        ("Sei Asam", None),
        ("62.03.01.20011", None),
    ],
)
def test_a_village_code_is_a_kemendagri_code(given: str, expected: str | None) -> None:
    adapter = TypeAdapter(KodeDesa)
    if expected is None:
        with pytest.raises(ValidationError, match="is not a village code: expected a Kemendagri code"):
            adapter.validate_python(given)
    else:
        assert adapter.validate_python(given) == expected


@pytest.fixture
def inputs(minimal_inputs: Path) -> InputFolders:
    root = minimal_inputs
    return InputFolders(submissions=root / "submissions", bpjs=root / "bpjs", reference=root / "reference")


def test_an_unknown_village_stops_the_run_before_any_work(inputs: InputFolders) -> None:
    with pytest.raises(InputError, match=r"^unknown kode_desa 62\.03\.09\.2999: not in .*villages\.csv$"):
        check_request(date(2026, 11, 27), inputs, ["62.03.01.2001", "62.03.09.2999"], Settings())


def test_a_limited_run_is_a_preview_of_the_villages_named(inputs: InputFolders) -> None:
    request = check_request(date(2026, 11, 27), inputs, ["6203012001"], Settings())
    assert request.kode_desa == ("62.03.01.2001",) and request.preview
    assert not check_request(date(2026, 11, 27), inputs, None, Settings()).preview


def test_inputs_left_empty_come_from_the_settings_else_a_clear_error(inputs: InputFolders, tmp_path: Path) -> None:
    configured = Settings(
        submissions_dir=inputs.submissions, bpjs_path=inputs.bpjs, reference_dir=inputs.reference, _env_file=None
    )
    request = check_request(date(2026, 11, 27), InputFolders(), None, configured)
    assert request.export_file.name == "bpjs_export_2026-11-25.csv"
    with pytest.raises(
        InputError, match=r"no submissions input: give inputs\.submissions, or set CAKUPAN_SUBMISSIONS_DIR"
    ):
        check_request(date(2026, 11, 27), InputFolders(), None, Settings(_env_file=None))


def test_the_warehouse_password_comes_from_its_own_setting() -> None:
    settings = Settings(db_url="postgresql+psycopg://cakupan@db.dinsos:5432/cakupan", db_password="s3cret")
    assert settings.warehouse_url == "postgresql+psycopg://cakupan:s3cret@db.dinsos:5432/cakupan"
    assert "s3cret" not in repr(settings)
    # A URL that carries its own password, or the local SQLite default, is left as it is.
    with_password = Settings(db_url="postgresql+psycopg://u:pw@h/d", db_password="other")
    assert with_password.warehouse_url == "postgresql+psycopg://u:pw@h/d"
    assert Settings(data_dir=Path("/srv/d"), db_password="x").warehouse_url == "sqlite:////srv/d/warehouse.db"
