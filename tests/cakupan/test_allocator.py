"""polars' allocator keeps freed memory for the next step of a run (cakupan/__init__.py), in every process a run uses.

Each check runs in a fresh interpreter: jemalloc reads its setting once, when polars loads.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cakupan import ALLOCATOR, ALLOCATOR_VARIABLE

ROOT = Path(__file__).resolve().parents[2]


def _python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != ALLOCATOR_VARIABLE} | env
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )


def test_jemalloc_runs_with_cakupan_setting_not_polars_own() -> None:
    # stats_print makes jemalloc print the options it runs with when the process ends.
    done = _python(
        "import os, cakupan\n"
        f"os.environ[{ALLOCATOR_VARIABLE!r}] += ',stats_print:true'\n"
        "import polars as pl\n"
        "pl.select(pl.lit(1))\n"
    )
    assert done.returncode == 0, done.stderr
    for option in ("opt.oversize_threshold: 0", "opt.dirty_decay_ms: 10000 ", "opt.muzzy_decay_ms: 10000 "):
        assert option in done.stderr
    assert ALLOCATOR == "oversize_threshold:0,dirty_decay_ms:10000,muzzy_decay_ms:10000"


def test_a_setting_the_operator_made_is_kept() -> None:
    done = _python(f"import os, cakupan; print(os.environ[{ALLOCATOR_VARIABLE!r}])", **{ALLOCATOR_VARIABLE: "x:1"})
    assert done.stdout.strip() == "x:1"


def _entry_points() -> list[str]:
    """How each kind of process starts: the flows Prefect loads by path, the command, a benchmark measurement."""
    deployments = yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]
    flows = sorted({d["entrypoint"] for d in deployments})
    loads = [f"from prefect.flows import load_flow_from_entrypoint; load_flow_from_entrypoint({e!r})" for e in flows]
    return [*loads, "import cakupan.cli", "import benchmarks.measure"]


@pytest.mark.parametrize("load", _entry_points())
def test_every_entry_point_imports_cakupan_before_polars(load: str) -> None:
    spy = (
        "import sys\n"
        "seen = []\n"
        "class Spy:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name in ('cakupan', 'polars') and name not in seen: seen.append(name)\n"
        "sys.meta_path.insert(0, Spy())\n"
    )
    done = _python(spy + load + "\nprint(seen)")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "['cakupan', 'polars']"
