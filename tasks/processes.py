"""Running a piece of Python work in a process of its own, beside the run.

A run's tasks share one interpreter: pure-Python work (writing a few hundred workbooks cell by cell) holds it, and
everything else the run does waits, even with a core free. Work handed to ``in_own_process`` runs on that core.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

# What the fork server imports once, for the children forked from it: the modules whose work the run hands over.
PRELOAD = ["cakupan.feedback", "cakupan.worklists"]


def _forkserver() -> multiprocessing.context.ForkServerContext:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)  # only read when the server starts
    return context


def start_fork_server() -> None:
    """Start the fork server now, not when a run first hands work over: its imports take a core for a few tenths
    of a second, which a process starting up can spare (``cakupan run`` while its temporary API starts)."""
    from multiprocessing import forkserver

    _forkserver()
    forkserver.ensure_running()


def in_own_process(function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """``function(*args, **kwargs)`` in a child process, its result (or its exception) returned here.

    Children are forked from a fork server that has imported ``PRELOAD`` once per process: a child then starts in
    milliseconds, and no lock another thread of this process held is copied into it, as a plain fork would. A
    process that may not start children (a daemonic Dask worker, whose cluster already spreads the work) runs
    ``function`` itself. Arguments and result travel pickled: pass frames and paths, not handles.
    """
    if multiprocessing.current_process().daemon:
        return function(*args, **kwargs)
    with ProcessPoolExecutor(max_workers=1, mp_context=_forkserver()) as pool:
        return pool.submit(function, *args, **kwargs).result()
