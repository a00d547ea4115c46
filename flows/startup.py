"""Starting ``cakupan run`` in a cold process: a temporary Prefect API started first, and imports kept from the
garbage collector.

With no API configured, Prefect starts a temporary API server itself when a flow begins: it imports its whole
server package into this process (seconds of CPU, only to build the subprocess command), starts the server and then
waits for it. ``cakupan run`` starts the same server (the command and environment Prefect uses for its temporary
server) before it imports Prefect, polars and Great Expectations, so the server starts on the other core while this
process imports. Whatever names an API for Prefect (PREFECT_API_URL in the environment, ``.env``, ``prefect.toml``
or the active profile) still wins: the temporary server is then stopped unused.
"""

from __future__ import annotations

import atexit
import gc
import importlib.util
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

# Prefect's own allowance for its temporary server (PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS) applies.
DEFAULT_STARTUP_TIMEOUT_SECONDS = 120.0
_PORT_ATTEMPTS = 3
# The server is on this machine: never through an HTTP proxy the environment may name.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class TemporaryApi:
    """A Prefect API server subprocess on 127.0.0.1 that lives as long as this process (or until ``close``)."""

    port: int
    process: subprocess.Popen[bytes]
    started_at: float = field(default_factory=time.time)

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.address}/api"

    def healthy(self) -> bool:
        try:
            with _DIRECT.open(f"{self.url}/health", timeout=1) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def wait_ready(self, timeout_seconds: float | None = None) -> None:
        """Block until the server answers its health check; RuntimeError if it exits or does not answer in time.

        A server that exits at once (its port was taken in the meantime) is restarted on another port.
        """
        limit = timeout_seconds or float(
            os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", DEFAULT_STARTUP_TIMEOUT_SECONDS)
        )
        deadline = time.monotonic() + limit
        restarts = 0
        while not self.healthy():
            if self.process.poll() is not None:
                if restarts == _PORT_ATTEMPTS:
                    raise RuntimeError(f"the temporary Prefect API exited with code {self.process.returncode}")
                restarts += 1
                self.port, self.process = _spawn()
                os.environ["PREFECT_API_URL"] = self.url
            if time.monotonic() > deadline:
                raise RuntimeError(f"the temporary Prefect API at {self.url} did not answer within {limit:.0f} s")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def close(self) -> None:
        """Stop the server now and forget it: the environment names no API again."""
        atexit.unregister(self.stop)
        self.stop()
        if os.environ.get("PREFECT_API_URL") == self.url:
            del os.environ["PREFECT_API_URL"]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# `python -m uvicorn`, with the server's imports kept from the garbage collector as in this process
# (``imports_set_aside``): a third less CPU before the server answers.
_SERVER_MAIN = (
    "import gc, runpy; gc.disable(); import prefect.server.api.server; gc.freeze(); gc.enable(); "
    "runpy.run_module('uvicorn', run_name='__main__', alter_sys=True)"
)


def _spawn() -> tuple[int, subprocess.Popen[bytes]]:
    # The command and environment of Prefect's temporary server (prefect.server.api.server.SubprocessASGIServer).
    spec = importlib.util.find_spec("prefect")
    assert spec is not None and spec.submodule_search_locations, "prefect is installed"
    app_dir = Path(next(iter(spec.submodule_search_locations))).parent
    port = _free_port()
    command = [
        sys.executable,
        "-c",
        _SERVER_MAIN,
        "--app-dir",
        str(app_dir),
        "--factory",
        "prefect.server.api.server:create_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "error",
        "--lifespan",
        "on",
    ]
    ephemeral = {"PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}
    return port, subprocess.Popen(command, env={**os.environ, **ephemeral})


def start_temporary_api() -> TemporaryApi | None:
    """Start a temporary API server now and name it in PREFECT_API_URL, unless Prefect is loaded or one is named.

    Call before anything imports Prefect: Prefect reads PREFECT_API_URL when it is first imported. In a process that
    has loaded Prefect already (a test session with its own API), this does nothing and Prefect does as it always
    does. Follow with ``keep_unless_configured`` once Prefect is imported.
    """
    if "prefect" in sys.modules or os.environ.get("PREFECT_API_URL"):
        return None
    port, process = _spawn()
    api = TemporaryApi(port=port, process=process)
    os.environ["PREFECT_API_URL"] = api.url
    # At exit, after Prefect has sent its last logs and events (its workers drain before atexit handlers run).
    atexit.register(api.stop)
    # A SIGTERM (a scheduler or supervisor stopping the run) ends a process without its atexit handlers, which left
    # the server running for good: it ends this one as an exit instead. During a flow, Prefect's own handler marks
    # the run and then hands the signal back to this one.
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
    return api


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def keep_unless_configured(api: TemporaryApi | None) -> TemporaryApi | None:
    """``api`` if Prefect's settings name no API of their own; else stop it and let those settings apply.

    The settings are read as Prefect reads them (environment, .env, prefect.toml, pyproject.toml, profile) without
    the PREFECT_API_URL set by ``start_temporary_api``. A configuration that turns the temporary API off
    (PREFECT_SERVER_EPHEMERAL_ENABLED=false) is honoured the same way.
    """
    if api is None:
        return None
    from prefect.context import refresh_global_settings_context
    from prefect.logging import get_logger
    from prefect.settings import Settings as PrefectSettings

    ours = os.environ.pop("PREFECT_API_URL", None)
    try:
        configured = PrefectSettings()
    finally:
        if ours is not None:
            os.environ["PREFECT_API_URL"] = ours
    if configured.api.url or not configured.server.ephemeral.enabled:
        api.close()
        refresh_global_settings_context()
        return None
    # Prefect's own words and logger, dated when the server was started, so the log reads as Prefect's would.
    logger = get_logger()
    record = logger.makeRecord(
        logger.name, logging.INFO, __file__, 0, "Starting temporary server on %s", (api.address,), None
    )
    record.created, record.msecs = api.started_at, (api.started_at % 1) * 1000
    logger.handle(record)
    return api


def import_ahead() -> None:
    """Import what a run would import on first use (Great Expectations above all), and start the process the run's
    workbooks are written in, while the temporary API starts."""
    import fastapi.encoders  # noqa: F401  # Prefect encodes a flow's parameters with it, imported at the first flow

    from expectations.gx import warm_up
    from tasks.processes import start_fork_server

    start_fork_server()  # first: it imports on a core of its own while this process goes on
    warm_up()


@contextmanager
def imports_set_aside() -> Iterator[None]:
    """Pause the cyclic garbage collector while a cold process imports, then set everything it holds aside.

    Modules, classes and Prefect's, pydantic's and GX's registries live as long as the process, yet every full
    collection traces all of them again: the collections during the imports cost seconds of CPU on a small machine,
    and the interpreter's own at exit as many again. ``gc.freeze`` leaves them out of every later collection (at
    exit too); what the run itself allocates is collected as usual.
    """
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
    gc.freeze()  # only once the imports succeeded: a caller that goes on after a failure keeps a normal collector
    atexit.unregister(gc.freeze)
    atexit.register(gc.freeze)
