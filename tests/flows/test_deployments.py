"""The deployments as the Dinas runs them, with real parts: a `prefect server` (temporary home, free port), the work
pool, `prefect deploy --all` from prefect.yaml, runs created through the API the UI uses, a real process worker.

Once with the server's database on SQLite, once on the machine's PostgreSQL. Settings reach the flow runs the way
they do in production: the inbox and data folder as Prefect Variables, the PII key as a Secret block.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import polars as pl
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from cakupan.pii import person_key
from flows.serve import wait_healthy
from tests.conftest import _postgres_database
from tests.flows.conftest import RUN, snapshot

pytestmark = pytest.mark.slow

ROOT = Path(__file__).parents[2]
PREFECT = str(Path(sys.executable).parent / "prefect")
PII_KEY = "kunci-uji-bukan-rahasia"
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


@dataclass
class Prefect:
    """A running server and worker, and the data folder their flow runs write to."""

    api: httpx.Client
    data: Path
    sample: Path
    deployments: dict[str, str]
    database: str

    @property
    def warehouse(self) -> str:
        return f"sqlite:///{self.data / 'warehouse.db'}"

    def create_run(self, deployment: str, **body: Any) -> str:
        """What the UI's Run > Custom run does: POST /deployments/{id}/create_flow_run."""
        response = self.api.post(f"/deployments/{self.deployments[deployment]}/create_flow_run", json=body)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def flow_run(self, run_id: str) -> dict[str, Any]:
        return dict(self.api.get(f"/flow_runs/{run_id}").json())

    def wait(self, *run_ids: str, timeout: float = 300) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            runs = [self.flow_run(r) for r in run_ids]
            if all(r["state"]["type"] in TERMINAL for r in runs):
                return runs
            time.sleep(1)
        raise AssertionError(f"runs not finished after {timeout} s: {[r['state'] for r in runs]}")

    def logs(self, run_id: str) -> str:
        logs = self.api.post("/logs/filter", json={"logs": {"flow_run_id": {"any_": [run_id]}}, "limit": 200})
        return "\n".join(entry["message"] for entry in logs.json())

    def artifacts(self, run_id: str) -> dict[str, Any]:
        found = self.api.post("/artifacts/filter", json={"artifacts": {"flow_run_id": {"any_": [run_id]}}})
        return {a["key"]: a for a in found.json() if a["key"]}


class RetryWhenBusy(httpx.HTTPTransport):
    """Ask again when the server answers 503 (its SQLite database busy with its own services), as Prefect's client
    and the UI do."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        for _ in range(30):
            response = super().handle_request(request)
            if response.status_code != 503:
                return response
            response.close()
            time.sleep(0.5)
        return response


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_environment(**extra: str) -> dict[str, str]:
    """The test process's environment without its Prefect and cakupan settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "CAKUPAN_"))}
    return env | extra


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def prefect(
    request: pytest.FixtureRequest, sample: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Prefect]:
    home = tmp_path_factory.mktemp(f"prefect-{request.param}")
    data = tmp_path_factory.mktemp(f"data-{request.param}")
    api = f"http://127.0.0.1:{free_port()}/api"
    env = clean_environment(
        PREFECT_HOME=str(home),
        PREFECT_API_URL=api,
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_SERVER_UI_ENABLED="false",
        PREFECT_WORKER_QUERY_SECONDS="1",
        GX_ANALYTICS_ENABLED="false",
    )
    databases = _postgres_database() if request.param == "postgresql" else no_database()
    database = next(databases)
    if database:
        env["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = database.replace("+psycopg", "+asyncpg")
    server_log = home / "server.log"
    with server_log.open("wb") as out:
        server = subprocess.Popen(
            [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", api.split(":")[2].split("/")[0]],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    worker = None
    try:
        assert wait_healthy(api, server), f"prefect server did not start:\n{server_log.read_text()[-3000:]}"
        for command in (["work-pool", "create", "cakupan", "--type", "process"], ["--no-prompt", "deploy", "--all"]):
            done = subprocess.run([PREFECT, *command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
            assert done.returncode == 0, done.stdout + done.stderr
        client = httpx.Client(base_url=api, timeout=30, transport=RetryWhenBusy())
        variables = {
            "cakupan_data_dir": str(data),
            "cakupan_submissions_dir": str(sample / "submissions"),
            "cakupan_bpjs_path": str(sample / "bpjs"),
            "cakupan_reference_dir": str(sample / "reference"),
        }
        for name, value in variables.items():
            assert client.post("/variables/", json={"name": name, "value": value}).status_code == 201
        save_secret(api, "cakupan-pii-key", PII_KEY)
        deployments = {d["name"]: d["id"] for d in client.post("/deployments/filter", json={}).json()}
        with (home / "worker.log").open("wb") as out:
            worker = subprocess.Popen(
                [PREFECT, "worker", "start", "--pool", "cakupan"],
                cwd=home,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        yield Prefect(api=client, data=data, sample=sample, deployments=deployments, database=request.param)
    finally:
        if worker is not None:
            stop(worker)
        stop(server)
        databases.close()


def no_database() -> Iterator[str]:
    yield ""


def only_once(prefect: Prefect) -> None:
    """Tests of what does not depend on the server's database run once, on SQLite, to keep the suite short."""
    if prefect.database != "sqlite":
        pytest.skip("does not depend on the Prefect server's database: run on the SQLite server only")


def save_secret(api: str, name: str, value: str) -> None:
    from prefect.blocks.system import Secret
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: api}):
        Secret(value=value).save(name, overwrite=True)


def test_a_custom_run_through_the_api_completes_with_its_artifacts_and_outputs(prefect: Prefect) -> None:
    inputs = {k: str(prefect.sample / k) for k in ("submissions", "bpjs", "reference")}
    run_id = prefect.create_run("rerun", parameters={"run_date": RUN.isoformat(), "force": True, "inputs": inputs})
    (run,) = prefect.wait(run_id)
    assert run["state"]["type"] == "COMPLETED", (run["state"], prefect.logs(run_id)[-3000:])
    assert run["name"] == f"cakupan-{RUN}"
    assert {"cakupan-run-summary", "cakupan-villages"} <= set(prefect.artifacts(run_id))
    assert (prefect.data / "analytics" / "coverage" / f"run_date={RUN}").is_dir()
    persons = pl.read_parquet(prefect.data / "restricted" / "persons" / f"run_date={RUN}" / "*.parquet")
    # The key came from the Secret block, not the public demo key.
    assert persons["person_key"].to_list() == person_key(persons["nik"], PII_KEY.encode()).to_list()
    engine = create_engine(prefect.warehouse)
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from pipeline_runs")).scalar() == 1
    engine.dispose()
    # A value the form refuses is refused by the API too, before any run exists.
    refused = prefect.api.post(
        f"/deployments/{prefect.deployments['rerun']}/create_flow_run", json={"parameters": {"kode_desa": ["62.03"]}}
    )
    assert refused.status_code == 409 and "kode_desa" in refused.text


def test_the_nightly_run_reports_on_its_scheduled_day_in_jakarta(prefect: Prefect) -> None:
    only_once(prefect)
    nightly = prefect.api.get(f"/deployments/{prefect.deployments['nightly']}").json()
    assert nightly["global_concurrency_limit"]["limit"] == 1
    # The scheduler's runs start at 01:30 WIB, that is 18:30 UTC the day before.
    deadline = time.monotonic() + 60
    while not (scheduled := scheduled_runs(prefect, nightly["id"])) and time.monotonic() < deadline:
        time.sleep(1)
    assert scheduled and all(s.endswith("T18:30:00Z") for s in scheduled), scheduled
    # A run scheduled for 01:30 WIB on 26 November (18:30 UTC on the 25th), as the scheduler makes it.
    state = {"type": "SCHEDULED", "state_details": {"scheduled_time": "2026-11-25T18:30:00Z"}}
    run_id = prefect.create_run("nightly", state=state)
    (run,) = prefect.wait(run_id)
    assert run["state"]["type"] == "COMPLETED", (run["state"], prefect.logs(run_id)[-3000:])
    assert run["name"] == "cakupan-2026-11-26"
    assert (prefect.data / "analytics" / "coverage" / "run_date=2026-11-26").is_dir()
    assert not (prefect.data / "analytics" / "coverage" / "run_date=2026-11-25").exists()


def scheduled_runs(prefect: Prefect, deployment_id: str) -> list[str]:
    runs = prefect.api.post(
        "/flow_runs/filter",
        json={"flow_runs": {"deployment_id": {"any_": [deployment_id]}, "state": {"type": {"any_": ["SCHEDULED"]}}}},
    ).json()
    return [r["expected_start_time"] for r in runs if r["expected_start_time"] > "2026-11-28"]


def test_two_runs_of_one_date_never_overlap(prefect: Prefect) -> None:
    only_once(prefect)  # the lock lives in the warehouse, whatever the server's database
    parameters = {"run_date": RUN.isoformat(), "force": True}
    first, second = (prefect.create_run("rerun", parameters=parameters) for _ in range(2))
    runs = prefect.wait(first, second)
    assert [r["state"]["type"] for r in runs] == ["COMPLETED", "COMPLETED"], [r["state"] for r in runs]
    engine = create_engine(prefect.warehouse)
    with engine.connect() as conn:
        spans = conn.execute(
            text("select started_at, finished_at from pipeline_runs where run_date = :d order by started_at desc"),
            {"d": RUN},
        ).all()[:2]
    engine.dispose()
    (later_start, _), (_, earlier_end) = spans
    assert earlier_end <= later_start, spans  # the second did its work only after the first had finished
    logs = prefect.logs(first) + prefect.logs(second)
    assert f"run_date {RUN} is being processed by flow run cakupan-{RUN}" in logs and "waiting for it" in logs


def test_a_killed_run_crashes_changes_nothing_and_a_rerun_completes(prefect: Prefect) -> None:
    only_once(prefect)
    before = snapshot(prefect.data, prefect.warehouse)
    run_id = prefect.create_run("rerun", parameters={"run_date": RUN.isoformat(), "force": True})
    wait_for_lock(prefect, RUN, run_id)  # it is working on the date now
    pid = prefect.flow_run(run_id)["infrastructure_pid"]
    os.kill(int(pid), signal.SIGKILL)
    (run,) = prefect.wait(run_id)
    assert run["state"]["type"] == "CRASHED", run["state"]
    assert "-9" in run["state"]["message"] and "SIGKILL" in run["state"]["message"], run["state"]
    assert snapshot(prefect.data, prefect.warehouse) == before
    rerun_id = prefect.create_run("rerun", parameters={"run_date": RUN.isoformat(), "force": True})
    (rerun,) = prefect.wait(rerun_id)
    assert rerun["state"]["type"] == "COMPLETED", (rerun["state"], prefect.logs(rerun_id)[-3000:])
    assert f"took over run_date {RUN}" in prefect.logs(rerun_id)
    assert not list((prefect.data / ".runs").glob("*/*")), "the rerun cleared the killed run's scratch"


def wait_for_lock(prefect: Prefect, run_date: date, run_id: str) -> None:
    engine = create_engine(prefect.warehouse)
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline:
            try:
                with engine.connect() as conn:
                    holder = conn.execute(
                        text("select flow_run from run_date_locks where run_date = :d"), {"d": run_date}
                    ).scalar()
            except OperationalError:  # no lock table yet
                holder = None
            if holder and run_id in holder:
                return
            assert prefect.flow_run(run_id)["state"]["type"] not in TERMINAL, prefect.flow_run(run_id)["state"]
            time.sleep(0.2)
    finally:
        engine.dispose()
    raise AssertionError(f"flow run {run_id} never took the lock on {run_date}")
