"""Work handed to a process of its own: its result and its errors come back; a daemonic process does it itself."""

from __future__ import annotations

import multiprocessing
import os

import pytest

from tasks.processes import in_own_process


def test_the_work_runs_in_another_process_and_its_result_comes_back() -> None:
    assert in_own_process(os.getpid) != os.getpid()
    assert in_own_process(divmod, 17, 5) == (3, 2)


def test_an_error_in_the_child_is_raised_here() -> None:
    with pytest.raises(ValueError, match="invalid literal"):
        in_own_process(int, "tujuh")


def _from_a_daemon(results: multiprocessing.Queue[tuple[int, int]]) -> None:
    results.put((os.getpid(), in_own_process(os.getpid)))


def test_a_daemonic_process_which_may_not_start_children_does_the_work_itself() -> None:
    # A Dask worker process is daemonic: multiprocessing refuses it children. (Spawned: this process has threads.)
    spawn = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue[tuple[int, int]] = spawn.Queue()
    daemon = spawn.Process(target=_from_a_daemon, args=(results,), daemon=True)
    daemon.start()
    own, worked_in = results.get(timeout=30)
    daemon.join(timeout=60)
    assert worked_in == own
