"""Where a run's mapped tasks execute: threads of the flow's own process, or the workers of a Dask cluster.

``task_runner = "threads"`` (the default) runs them on a thread pool as wide as the machine. ``"dask"`` sends them
through prefect-dask to the Dask scheduler at ``dask_address``, or, with no address, to a temporary cluster of worker
processes on this machine that lives as long as the flow that uses it. Tasks pass paths and small summaries, and
read and write Parquet under ``data_dir``: every Dask worker must see ``data_dir`` at the same path.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
from typing import Any
from urllib.parse import urlsplit

from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from cakupan.errors import InputError
from cakupan.settings import Settings

SCHEDULER_CONNECT_TIMEOUT_SECONDS = 5.0


def task_runner_for(settings: Settings) -> TaskRunner[Any]:
    """The task runner the settings ask for; InputError (one line, what to do) when Dask cannot be used."""
    if settings.task_runner == "threads":
        return ThreadPoolTaskRunner(max_workers=usable_cores())
    check_dask(settings)
    from prefect_dask import DaskTaskRunner

    if settings.dask_address:
        return DaskTaskRunner(address=settings.dask_address)
    return DaskTaskRunner(
        cluster_class="distributed.LocalCluster",
        cluster_kwargs={
            # One single-threaded process per core: GX validates one frame at a time per process (expectations/gx.py
            # holds a lock), and polars spreads over the process's cores by itself.
            "n_workers": usable_cores(),
            "threads_per_worker": 1,
            "processes": True,
            "dashboard_address": None,
        },
    )


def check_dask(settings: Settings) -> None:
    """Fail before the run starts, not when its first task is sent, when Dask cannot run the tasks."""
    from prefect.settings import PREFECT_API_URL

    # A task reports its state to the API its flow uses. Without PREFECT_API_URL that is a temporary server only
    # the flow's process knows, and every worker process would start a server of its own.
    if not PREFECT_API_URL.value():
        raise InputError(
            "task_runner dask needs a Prefect server that Dask worker processes can reach: start one "
            "(prefect server start --host 0.0.0.0) and set PREFECT_API_URL=http://HOST:4200/api"
        )
    if settings.dask_address:
        check_scheduler(settings.dask_address)
        if _is_loopback(urlsplit(str(PREFECT_API_URL.value())).hostname) and not _is_loopback(
            _host_of(settings.dask_address)
        ):
            # The flow hands its own API URL to every task it sends; a worker on another machine cannot use this one.
            _logger().warning(
                "PREFECT_API_URL %s names this machine only: Dask workers on other machines cannot report to it; "
                "set it to an address they can reach",
                PREFECT_API_URL.value(),
            )


def check_scheduler(address: str) -> None:
    """InputError unless something listens at the scheduler's address (tcp://HOST:PORT or tls://HOST:PORT)."""
    from distributed.comm.addressing import get_address_host_port

    try:
        host, port = get_address_host_port(address)
    except ValueError as exc:
        raise InputError(f"bad dask_address {address!r}: expected tcp://HOST:PORT, e.g. tcp://10.0.0.5:8786") from exc
    try:
        socket.create_connection((host, port), timeout=SCHEDULER_CONNECT_TIMEOUT_SECONDS).close()
    except OSError as exc:
        raise InputError(
            f"Dask scheduler {address} is unreachable ({exc.strerror or exc}): start it (dask scheduler) "
            "or correct dask_address"
        ) from exc


def _host_of(address: str) -> str | None:
    from distributed.comm.addressing import get_address_host_port

    try:
        return get_address_host_port(address)[0]
    except ValueError:
        return None


def _is_loopback(host: str | None) -> bool:
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name other than localhost: assume it is reachable
        return False


def _logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    from prefect.exceptions import MissingContextError
    from prefect.logging import get_logger, get_run_logger

    try:
        return get_run_logger()
    except MissingContextError:
        return get_logger("cakupan.runners")


def usable_cores() -> int:
    """The cores this process may run on (a container or taskset may allow fewer than the machine has)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
