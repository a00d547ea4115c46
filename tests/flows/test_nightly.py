"""The nightly flow as operators use it: bad requests stop before any work, unchanged reruns are skipped, a limited
run previews without publishing, faults leave the previous outputs as they were, and one run per date."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl
import psycopg
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    ArtifactFilterKey,
    FlowRunFilter,
    FlowRunFilterId,
)
from prefect.states import State

from cakupan.cli import main
from cakupan.settings import Settings
from flows.backfill import backfill
from flows.config import use_settings
from flows.nightly import nightly
from tests.conftest import PG_ADMIN, _postgres_database
from tests.flows.conftest import RUN, count_runs, inputs_of, settings_for, snapshot
from warehouse.store import connect, upgrade

pytestmark = [pytest.mark.usefixtures("prefect_api"), pytest.mark.slow]


def run(settings: Settings, sample: Path, **parameters: Any) -> State[Any]:
    with use_settings(settings):
        return nightly(inputs=inputs_of(sample), return_state=True, **parameters)


@pytest.fixture(scope="module")
def published(sample: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A data folder and SQLite warehouse in which RUN was published once."""
    settings = settings_for(tmp_path_factory.mktemp("published"))
    state = run(settings, sample, run_date=RUN)
    assert state.is_completed(), state.message
    return settings


def artifact_rows(state: State[Any], key: str) -> Any:
    with get_client(sync_client=True) as client:
        (artifact,) = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=[key]),
                flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id]),
            )
        )
    return artifact.data


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"run_date": "2026-13-01"}, "run_date: Input should be a valid date"),
        ({"run_date": RUN, "kode_desa": ["62.03.01"]}, "'62.03.01' is not a village code"),
        ({"run_date": RUN, "kode_desa": ["62.03.09.2999"]}, "unknown kode_desa 62.03.09.2999: not in "),
    ],
)
def test_a_bad_request_fails_with_its_reason_before_any_work(
    sample: Path, tmp_path: Path, parameters: dict[str, Any], message: str
) -> None:
    data = tmp_path / "data"
    state = run(settings_for(data), sample, **parameters)
    assert state.is_failed() and message in (state.message or ""), state.message
    assert not data.exists()  # no scratch, no warehouse, no lock: nothing started


def test_a_rerun_with_unchanged_inputs_is_skipped_unless_forced(sample: Path, published: Settings) -> None:
    before = snapshot(published.data_dir, published.warehouse_url)
    runs = count_runs(published.warehouse_url)
    skipped = run(published, sample, run_date=RUN)
    assert skipped.is_completed() and skipped.result() is None
    assert count_runs(published.warehouse_url) == runs
    assert snapshot(published.data_dir, published.warehouse_url) == before
    forced = run(published, sample, run_date=RUN, force=True)
    assert forced.is_completed() and forced.result() is not None
    assert count_runs(published.warehouse_url) == runs + 1


def test_a_run_limited_to_some_villages_previews_them_and_publishes_nothing(sample: Path, published: Settings) -> None:
    codes = pl.read_csv(sample / "reference" / "villages.csv")["kode_desa"].sort().to_list()
    before = snapshot(published.data_dir, published.warehouse_url)
    state = run(published, sample, run_date=RUN, kode_desa=[codes[0], codes[1].replace(".", "")])
    assert state.is_completed(), state.message
    assert snapshot(published.data_dir, published.warehouse_url) == before
    rows = artifact_rows(state, "cakupan-villages")
    assert codes[0] in rows and codes[1] in rows and codes[2] not in rows
    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(state.state_details.flow_run_id)
    assert flow_run.name == f"cakupan-{RUN}-preview"


def test_an_export_failing_its_gate_fails_the_run_changes_nothing_and_a_rerun_completes(
    sample: Path, published: Settings, tmp_path: Path
) -> None:
    export = sample / "bpjs" / "bpjs_export_2026-11-25.csv"
    lines = export.read_text(encoding="utf-8").splitlines()
    # Every tenth member's KPJ cut to 9 digits: far beyond what a real export tolerates.
    broken = tmp_path / "bpjs_export_2026-11-26.csv"
    broken.write_text("\n".join(x if i % 10 else x[:9] + x[11:] for i, x in enumerate(lines, 1)) + "\n", "utf-8")
    before = snapshot(published.data_dir, published.warehouse_url)
    started = time.monotonic()
    with use_settings(published):
        state = nightly(
            run_date=RUN, force=True, inputs=inputs_of(sample).model_copy(update={"bpjs": broken}), return_state=True
        )
    assert state.is_failed() and "failed its checks" in (state.message or ""), state.message
    assert time.monotonic() - started < 60  # a rejected export is not retried
    assert snapshot(published.data_dir, published.warehouse_url) == before
    assert not list((published.data_dir / ".runs").glob("*"))
    assert run(published, sample, run_date=RUN, force=True).is_completed()


def task_runs(state: State[Any]) -> dict[str, Any]:
    """The flow run's task runs by task name (the last of a name that ran more than once)."""
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id]))
        )
    return {r.name.rsplit("-", 1)[0]: r for r in runs}


def test_the_feedback_starts_with_the_reconciliation_and_a_partitioned_run_writes_the_lists_after_it(
    sample: Path, tmp_path: Path
) -> None:
    one_pass = run(settings_for(tmp_path / "one"), sample, run_date=RUN)
    partitioned = run(settings_for(tmp_path / "two", partitions=2), sample, run_date=RUN)
    assert one_pass.is_completed() and partitioned.is_completed()
    for state in (one_pass, partitioned):
        tasks = task_runs(state)
        # The feedback needs only the validation: it is not held back until the persons are written.
        assert tasks["write-feedback"].start_time < tasks["reconcile-persons"].start_time
    tasks = task_runs(partitioned)
    # A large run's two workbook children at once took a national run over 8 GiB (README, Large runs).
    assert tasks["write-worklists"].start_time >= tasks["write-feedback"].end_time
    assert (tmp_path / "two" / "restricted" / "feedback" / f"run_date={RUN}").is_dir()


HOLD = """
import sys, time
from datetime import date
from warehouse.lock import hold_run_date
with hold_run_date(sys.argv[1], date.fromisoformat(sys.argv[2]), flow_run="flow run cakupan-held-elsewhere"):
    print("held", flush=True)
    time.sleep(600)
"""


def test_cakupan_run_waits_for_a_date_another_process_holds_then_gives_up_naming_it(
    sample: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    url = f"sqlite:///{data / 'warehouse.db'}"
    connect(url).dispose()  # the warehouse as a first run leaves it
    holder = subprocess.Popen([sys.executable, "-c", HOLD, url, RUN.isoformat()], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        monkeypatch.setenv("CAKUPAN_LOCK_TIMEOUT_SECONDS", "2")
        argv = ["run", "--run-date", RUN.isoformat(), "--data-dir", str(data)]
        argv += ["--submissions", str(sample / "submissions"), "--bpjs", str(sample / "bpjs")]
        argv += ["--reference", str(sample / "reference")]
        started = time.monotonic()
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1, err
        assert err.startswith(f"cakupan: error: run_date {RUN} is being processed by flow run cakupan-held-elsewhere")
        assert f"pid {holder.pid}" in err and "gave up waiting after 2 s" in err
        assert time.monotonic() - started >= 2
        # Another date is not held: it runs.
        argv[2] = (RUN - timedelta(days=1)).isoformat()
        assert main(argv) == 0
    finally:
        holder.kill()
        holder.wait()


def test_a_backfill_runs_each_date_as_a_subflow_oldest_first(sample: Path, tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "data")
    start = RUN - timedelta(days=1)
    with use_settings(settings):
        state = backfill(start=start, end=RUN, inputs=inputs_of(sample), return_state=True)
        assert state.is_completed(), state.message
        assert state.result() == {str(start): "completed", str(RUN): "completed"}
        again = backfill(start=start, end=RUN, inputs=inputs_of(sample), return_state=True)
        assert again.result() == {str(start): "unchanged, skipped", str(RUN): "unchanged, skipped"}
    for day in (start, RUN):
        assert (settings.data_dir / "analytics" / "coverage" / f"run_date={day}").is_dir()
    with get_client(sync_client=True) as client:
        parent = client.read_flow_run(state.state_details.flow_run_id)
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId

        children = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[parent.id])),
        )
    ordered = sorted(children, key=lambda r: r.start_time or r.expected_start_time)
    assert [r.name for r in ordered] == [f"cakupan-{start}", f"cakupan-{RUN}"]
    assert parent.name == f"backfill-{start}..{RUN}"


@pytest.mark.postgres
def test_the_database_going_away_while_publishing_fails_the_run_and_a_rerun_completes(
    sample: Path, tmp_path: Path
) -> None:
    for url in _postgres_database():
        upgrade(url)
        settings = settings_for(tmp_path / "data", db_url=url)
        assert run(settings, sample, run_date=RUN).is_completed()
        before = snapshot(settings.data_dir, url)
        name = url.rsplit("/", 1)[1]
        admin = psycopg.connect(PG_ADMIN, autocommit=True)
        # Writes to pipeline_runs wait (reads go on), so the next run stops inside its publishing transaction.
        blocker = psycopg.connect(PG_ADMIN.rsplit("/", 1)[0] + f"/{name}")
        blocker.execute("LOCK TABLE pipeline_runs IN EXCLUSIVE MODE")
        cut: list[str] = []
        killer = threading.Thread(
            target=cut_the_database_mid_publish, args=(admin, name, blocker.info.backend_pid, cut)
        )
        killer.start()
        try:
            state = run(settings, sample, run_date=RUN, force=True)
        finally:
            killer.join()
            blocker.close()
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
            admin.close()
        assert cut and "pipeline_runs" in cut[0], cut  # it was publishing when the database went away
        assert state.is_failed(), (state.message, cut)
        assert "warehouse database unreachable" in (state.message or ""), state.message
        assert snapshot(settings.data_dir, url) == before
        rerun = run(settings, sample, run_date=RUN, force=True)  # takes over the lock the failed run left
        assert rerun.is_completed(), rerun.message
        assert count_runs(url) == 2


def cut_the_database_mid_publish(admin: psycopg.Connection[Any], name: str, blocker: int, cut: list[str]) -> None:
    """As soon as a run waits inside its publishing transaction: no more connections, and every session of the run
    ended. The blocker keeps its lock until the run is over: ended with the others, it could hand the lock to the
    waiting insert, which might then commit before its own session is ended."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        waiting = admin.execute(
            "select query from pg_stat_activity where datname = %s and wait_event_type = 'Lock'", (name,)
        ).fetchall()
        if waiting:
            cut.extend(q for (q,) in waiting)
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            admin.execute(
                "select pg_terminate_backend(pid) from pg_stat_activity where datname = %s and pid <> %s",
                (name, blocker),
            )
            return
        time.sleep(0.1)
