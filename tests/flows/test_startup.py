"""flows/startup.py: the temporary Prefect API a cold `cakupan run` starts before it imports Prefect.

Each test runs a fresh Python process, as the `cakupan` command is one: what is under test happens before Prefect
is first imported, which a test session has long done.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from warehouse.lock import process_alive

ROOT = Path(__file__).parents[2]


def cold_environment(tmp_path: Path, **env: str) -> dict[str, str]:
    """This process's environment with an empty PREFECT_HOME and no API configured."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    return environment | {"PREFECT_HOME": str(tmp_path / "prefect"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false", **env}


def cold(code: str, tmp_path: Path, **env: str) -> dict[str, object]:
    """Run ``code`` in a new process (``cold_environment``); its last line, as JSON."""
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=cold_environment(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


START = f"""
import json, sys
sys.path.insert(0, {str(ROOT)!r})
from flows.startup import import_ahead, imports_set_aside, keep_unless_configured, start_temporary_api
api = start_temporary_api()
with imports_set_aside():
    from prefect import flow
    api = keep_unless_configured(api)
"""


@pytest.mark.slow
def test_a_cold_process_runs_its_flow_on_the_server_it_started_without_loading_prefects_server(
    tmp_path: Path,
) -> None:
    found = cold(
        START
        + """
    import_ahead()
    api.wait_ready()

@flow
def where() -> str:
    from prefect.settings import PREFECT_API_URL
    return str(PREFECT_API_URL.value())

import gc
print(json.dumps({"api": api.url, "flow_ran_on": where(), "frozen": gc.get_freeze_count() > 0,
                  "collecting": gc.isenabled(), "server_package_loaded": "prefect.server.api.server" in sys.modules,
                  "gx_loaded": "great_expectations" in sys.modules}))
""",
        tmp_path,
    )
    assert found["flow_ran_on"] == found["api"]
    # Prefect would have imported its whole server package here to start a temporary server of its own.
    assert found["server_package_loaded"] is False
    assert found["gx_loaded"] is True
    assert found["frozen"] is True and found["collecting"] is True


def test_a_configured_api_wins_and_the_temporary_server_is_stopped(tmp_path: Path) -> None:
    # Prefect may not start a temporary API at all here: the run must then fail as it would have, not use ours.
    found = cold(
        START
        + """
import os
from prefect.settings import PREFECT_API_URL
print(json.dumps({"kept": api is not None, "api_url": PREFECT_API_URL.value(),
                  "environment": os.environ.get("PREFECT_API_URL")}))
""",
        tmp_path,
        PREFECT_SERVER_EPHEMERAL_ENABLED="false",
    )
    assert found == {"kept": False, "api_url": None, "environment": None}


def test_nothing_is_started_when_the_environment_names_an_api(tmp_path: Path) -> None:
    found = cold(
        START + 'print(json.dumps({"started": api is not None}))',
        tmp_path,
        PREFECT_API_URL="http://127.0.0.1:9/api",
    )
    assert found == {"started": False}


@pytest.mark.slow
def test_a_run_stopped_by_sigterm_during_its_flow_stops_its_server(tmp_path: Path) -> None:
    code = (
        START
        + """
    api.wait_ready()

@flow
def long_run() -> None:
    import time
    print(json.dumps({"server": api.process.pid}), flush=True)
    time.sleep(240)

long_run()
"""
    )
    run = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=cold_environment(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    server = None
    try:
        assert run.stdout is not None
        server = json.loads(run.stdout.readline())["server"]
        run.send_signal(signal.SIGTERM)
        assert run.wait(timeout=60) != 0
        # The process is gone: the server is not left running on its own (a SIGTERM skips atexit handlers).
        assert not process_alive(server)
    finally:
        run.kill()
        if server is not None and process_alive(server):
            os.kill(server, signal.SIGKILL)
