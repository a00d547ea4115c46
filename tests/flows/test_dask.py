"""Partition tasks on a real Dask cluster: two worker processes that report to the test's Prefect server.

The cluster is a ``distributed.LocalCluster`` of worker processes, which is what a production cluster looks like to
the flow: a scheduler address, and workers in other processes that unpickle the tasks, import cakupan and read and
write the same data_dir.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from prefect import flow, task
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import VariableCreate
from prefect.settings import PREFECT_API_URL, temporary_settings
from python_calamine import CalamineWorkbook
from sqlalchemy import create_engine, text

from cakupan.cli import main
from cakupan.errors import InputError
from flows.config import DeployedSettings
from flows.runners import task_runner_for
from tests.flows.conftest import RUN, settings_for

pytestmark = [pytest.mark.usefixtures("prefect_api"), pytest.mark.slow]

cakupan = Path(sys.executable).parent / "cakupan"


@pytest.fixture(scope="module")
def cluster(prefect_api: None) -> Iterator[str]:
    """The scheduler address of two single-threaded worker processes; they inherit the server's PREFECT_API_URL."""
    from distributed import LocalCluster

    before = os.environ.get("PREFECT_API_URL")
    os.environ["PREFECT_API_URL"] = str(PREFECT_API_URL.value())  # the harness set it in Prefect's settings only
    try:
        with LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None) as local:
            yield local.scheduler_address
    finally:
        if before is None:
            del os.environ["PREFECT_API_URL"]
        else:
            os.environ["PREFECT_API_URL"] = before


def worker_pids(address: str) -> set[int]:
    from distributed import Client

    with Client(address) as client:
        return set(client.run(os.getpid).values())


@task
def whose(index: int) -> int:
    time.sleep(1)  # long enough that the scheduler gives the second worker some of the four
    return os.getpid()


@flow
def mapped(address: str) -> list[int]:
    settings = settings_for(Path("unused"), task_runner="dask", dask_address=address)
    with task_runner_for(settings) as runner:
        return runner.map(whose, {"index": range(4)}).result()


def test_mapped_tasks_run_in_the_clusters_worker_processes(cluster: str) -> None:
    pids = mapped(cluster)
    assert set(pids) == worker_pids(cluster)
    assert os.getpid() not in pids


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_scheduler_is_one_line_that_names_it(tmp_path: Path) -> None:
    address = f"tcp://127.0.0.1:{closed_port()}"
    with pytest.raises(InputError, match=rf"^Dask scheduler {address} is unreachable \(.+\): start it") as raised:
        task_runner_for(settings_for(tmp_path, task_runner="dask", dask_address=address))
    assert "\n" not in str(raised.value)


def test_the_cli_stops_at_an_unreachable_scheduler_with_one_line(
    minimal_inputs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    address = f"tcp://127.0.0.1:{closed_port()}"
    argv = ["run", "--run-date", RUN.isoformat(), "--data-dir", str(minimal_inputs / "data")]
    argv += [f"--{folder}={minimal_inputs / folder}" for folder in ("submissions", "bpjs", "reference")]
    assert main([*argv, "--dask-address", address]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"cakupan: error: Dask scheduler {address} is unreachable") and "\n" not in err, err


def test_dask_without_a_prefect_server_says_what_to_set(tmp_path: Path) -> None:
    # Without one, every worker process would start a temporary Prefect server of its own.
    with temporary_settings(restore_defaults={PREFECT_API_URL}), pytest.raises(InputError, match="PREFECT_API_URL="):
        task_runner_for(settings_for(tmp_path, task_runner="dask"))


def test_threads_need_no_server_and_no_cluster(tmp_path: Path) -> None:
    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        assert type(task_runner_for(settings_for(tmp_path))).__name__ == "ThreadPoolTaskRunner"


def test_dask_without_an_address_starts_worker_processes_on_this_machine(tmp_path: Path) -> None:
    runner = task_runner_for(settings_for(tmp_path, task_runner="dask"))
    assert runner.address is None  # type: ignore[attr-defined]
    assert runner.cluster_kwargs == {  # type: ignore[attr-defined]
        "n_workers": len(os.sched_getaffinity(0)),
        "threads_per_worker": 1,
        "processes": True,
        "dashboard_address": None,
    }


def test_a_deployment_reads_the_cluster_from_prefect_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("CAKUPAN_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(Path(__file__).parent)  # no .env here
    variables = {
        "cakupan_task_runner": "dask",
        "cakupan_dask_address": "tcp://10.0.0.5:8786",
        "cakupan_partitions": 8,
        "cakupan_scratch": "file:///srv/cakupan/scratch",
    }
    with get_client(sync_client=True) as client:
        for name, value in variables.items():
            client.create_variable(VariableCreate(name=name, value=value))
    try:
        settings = DeployedSettings()
    finally:
        with get_client(sync_client=True) as client:
            for name in variables:
                client.delete_variable_by_name(name)
    assert (settings.task_runner, settings.dask_address, settings.partitions) == ("dask", "tcp://10.0.0.5:8786", 8)
    assert settings.scratch == "file:///srv/cakupan/scratch"


def run_args(sample: Path, data_dir: Path, *flags: str) -> list[str]:
    return [
        "run",
        *("--submissions", str(sample / "submissions"), "--bpjs", str(sample / "bpjs")),
        *("--reference", str(sample / "reference"), "--run-date", RUN.isoformat(), "--data-dir", str(data_dir)),
        *flags,
    ]


def start_cakupan(argv: list[str], cwd: Path) -> subprocess.Popen[str]:
    """``cakupan`` started as an operator runs it, reporting to the test's Prefect server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAKUPAN_")}
    env["PREFECT_API_URL"] = str(PREFECT_API_URL.value())
    return subprocess.Popen(
        [str(cakupan), *argv], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=cwd
    )


def published(data_dir: Path) -> dict[str, object]:
    """Every published dataset and work list, by path: Parquet as frames (row order included), other files as bytes;
    the reports are left out (they carry the time they were made)."""
    files: dict[str, object] = {}
    for path in sorted(p for zone in ("analytics", "restricted") for p in (data_dir / zone).rglob("*") if p.is_file()):
        name = str(path.relative_to(data_dir))
        if path.suffix == ".parquet":
            files[name] = pl.read_parquet(path)
        elif path.suffix == ".xlsx":  # a workbook's zip carries its creation time; its cells are what is published
            book = CalamineWorkbook.from_path(str(path))
            files[name] = {sheet: book.get_sheet_by_name(sheet).to_python() for sheet in book.sheet_names}
        else:
            files[name] = path.read_bytes()
    return files


def warehouse_rows(data_dir: Path, table: str) -> pl.DataFrame:
    engine = create_engine(f"sqlite:///{data_dir / 'warehouse.db'}")
    with engine.connect() as conn:
        rows = conn.execute(text(f"select * from {table} order by 1, 2, 3")).mappings().all()
    engine.dispose()
    return pl.DataFrame([dict(r) for r in rows], infer_schema_length=None)


def same_rows(got: pl.DataFrame, want: pl.DataFrame, name: str) -> None:
    """The same rows in the same order with exactly the same values."""
    try:
        assert_frame_equal(got, want, check_exact=True)
    except AssertionError as exc:
        raise AssertionError(f"{name}: {exc}") from None


def test_a_run_on_the_cluster_publishes_what_one_pass_in_one_process_does(
    cluster: str, sample: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [n for n in os.environ if n.startswith("CAKUPAN_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no .env here
    one_pass, on_dask = tmp_path / "threads", tmp_path / "dask"
    # The cluster run as a command of its own, its partitions in a shared location named by an fsspec URL;
    # meanwhile the reference in this process, whose Prefect is warm.
    shared = f"file://{tmp_path / 'shared'}"
    flags = ("--task-runner", "dask", "--dask-address", cluster, "--partitions", "4", "--scratch", shared)
    on_cluster = start_cakupan(run_args(sample, on_dask, *flags), tmp_path)
    try:
        assert main(run_args(sample, one_pass, "--task-runner", "threads", "--partitions", "1")) == 0
        log, _ = on_cluster.communicate(timeout=300)
    finally:
        on_cluster.kill()
    assert on_cluster.returncode == 0, log[-3000:]
    assert f"Connecting to an existing Dask cluster at {cluster}" in log  # prefect-dask's own words
    reconciled = f"reconciled in 4 NIK and 1 birth-date partition(s) with DaskTaskRunner in {shared}/{RUN.isoformat()}/"
    assert reconciled in log

    expected, got = published(one_pass), published(on_dask)
    assert sorted(got) == sorted(expected)
    assert any(name.startswith("analytics/coverage/") for name in got)
    for name, want in expected.items():
        if isinstance(want, pl.DataFrame):
            same_rows(got[name], want, name)  # type: ignore[arg-type]
        else:
            assert got[name] == want, name
    for table in ("coverage_metrics", "submission_files"):
        same_rows(warehouse_rows(on_dask, table), warehouse_rows(one_pass, table), table)
