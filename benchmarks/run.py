"""`make bench`: generate the inputs of each size, time every stage, the references and the whole run, each in a
fresh process, and write benchmarks/RESULTS.md and benchmarks/results.json.

Environment (all optional):
    SIZES                 sizes to run, default "S M L"
    BENCH_RUNS            repeats per measurement: one number for all sizes, or "S=5 M=3 L=1" (the default)
    BENCH_ONLY            groups to run, default "stages floors duckdb validation run run_warm" (run_warm: S only)
    BENCH_STAGES          stages the "stages" group times, default all; the others' earlier outputs are used (on inputs
                          made afresh there are none: a stage left out then skips the stages after it)
    BENCH_TIMEOUT         seconds before a measurement is killed and recorded as timed out, default 1200
    BENCH_MEMORY_CAP_GB   a measurement whose processes together hold more is killed, default 16
    BENCH_SEED            seed of the generated inputs, default 7
    BENCH_DIR             where inputs and scratch live, default benchmarks/.data

Sizes run now replace their entry in results.json; other sizes' results are kept, so L can be run on its own.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks.generate import DEFAULT_SEED, RUN_DATE, SIZES, Inputs, bench_dir, ensure
from benchmarks.stages import STAGES
from flows.nightly import code_version

HERE = Path(__file__).resolve().parent
RESULTS_MD = HERE / "RESULTS.md"
RESULTS_JSON = HERE / "results.json"
DEFAULT_RUNS = {"S": 5, "M": 3, "L": 1}
# A probe takes a few seconds; one that hangs is left out rather than holding the measurements up.
PROBE_TIMEOUT_SECONDS = 120
GROUPS = ("stages", "floors", "duckdb", "validation", "run", "run_warm")
MiB = 1024 * 1024
FINDINGS_START, FINDINGS_END = "<!-- findings: kept when RESULTS.md is regenerated -->", "<!-- /findings -->"


# ---------------------------------------------------------------------------------------------- processes


@dataclass
class Sample:
    """One measurement process, seen from outside (wall, CPU, memory) and from inside (seconds, phases)."""

    ok: bool
    error: str | None
    wall_seconds: float
    cpu_seconds: float
    peak_rss_mib: float  # ru_maxrss of the process (its largest waited-for child counts too)
    tree_peak_rss_mib: float  # the sum over its process group, sampled every 0.1 s
    load_before: float
    seconds: float | None = None
    inside_cpu_seconds: float | None = None  # CPU of the measured call alone (all threads)
    phases: dict[str, float] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)


def _group_rss(pgid: int) -> int:
    """Resident bytes of every process in process group ``pgid``."""
    page = os.sysconf("SC_PAGE_SIZE")
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[2]) != pgid:
                continue
            total += int(Path(f"/proc/{entry}/statm").read_text().split()[1]) * page
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
    return total


def _load() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def spawn(
    command: Sequence[str], *, env: dict[str, str], log: Path, timeout: float, memory_cap: int
) -> tuple[Sample, float]:
    """Run ``command`` in its own process group; returns its Sample (outside view) and its start time (epoch).

    A watcher thread samples the group's memory and kills the group (SIGKILL, by its id) past ``memory_cap``
    bytes or ``timeout`` seconds; the main thread waits for the process, so the wall time is exact.
    """
    load = _load()
    log.parent.mkdir(parents=True, exist_ok=True)
    started_epoch, started = time.time(), time.perf_counter()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            list(command), stdout=out, stderr=subprocess.STDOUT, env=env, cwd=HERE.parent, start_new_session=True
        )
    peak, killed = 0, ""
    done = threading.Event()

    def watch() -> None:
        nonlocal peak, killed
        while not done.wait(0.1):
            rss = _group_rss(proc.pid)
            peak = max(peak, rss)
            reason = ""
            if rss > memory_cap:
                reason = f"killed at the memory cap ({rss / 2**30:.1f} GiB > {memory_cap / 2**30:.0f} GiB)"
            elif time.perf_counter() - started > timeout:
                reason = f"killed after the {timeout:.0f} s timeout"
            if reason:
                killed = reason
                _kill_group(proc.pid)
                return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    done.set()
    watcher.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    _kill_group(proc.pid)  # e.g. a temporary Prefect server left behind by a killed run
    error = killed or (None if proc.returncode == 0 else f"exit code {proc.returncode} (see {log})")
    return (
        Sample(
            ok=error is None,
            error=error or None,
            wall_seconds=wall,
            cpu_seconds=usage.ru_utime + usage.ru_stime,
            peak_rss_mib=usage.ru_maxrss / 1024,
            tree_peak_rss_mib=peak / MiB,
            load_before=load,
        ),
        started_epoch,
    )


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


# ---------------------------------------------------------------------------------------------- measurements


@dataclass
class Settings:
    sizes: list[str]
    runs: dict[str, int]
    groups: list[str]
    stages: list[str]
    timeout: float
    memory_cap: int
    seed: int

    @classmethod
    def from_env(cls) -> Settings:
        sizes = (os.environ.get("SIZES") or "S M L").split()
        runs = dict(DEFAULT_RUNS)
        given = (os.environ.get("BENCH_RUNS") or "").split()
        if len(given) == 1 and given[0].isdigit():
            runs = {size: int(given[0]) for size in runs}
        else:
            runs.update({k: int(v) for k, v in (item.split("=") for item in given)})
        return cls(
            sizes=[s for s in sizes if s in SIZES],
            runs=runs,
            groups=(os.environ.get("BENCH_ONLY") or " ".join(GROUPS)).split(),
            stages=(os.environ.get("BENCH_STAGES") or " ".join(STAGES)).split(),
            timeout=float(os.environ.get("BENCH_TIMEOUT") or 1200),
            memory_cap=int(float(os.environ.get("BENCH_MEMORY_CAP_GB") or 16) * 2**30),
            seed=int(os.environ.get("BENCH_SEED") or DEFAULT_SEED),
        )


def _child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        BENCH_DIR=str(bench_dir().resolve()),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        GX_ANALYTICS_ENABLED="false",
        **extra,
    )
    return env


def measure(kind: str, name: str, size: str, settings: Settings, logs: Path) -> Sample:
    """One fresh `python -m benchmarks.measure` process."""
    tag = f"{kind}-{name.replace(':', '-')}"
    result = logs / f"{tag}.json"
    result.unlink(missing_ok=True)
    command = [sys.executable, "-m", "benchmarks.measure", kind, name, "--size", size, "--result", str(result)]
    sample, _ = spawn(
        command, env=_child_env(), log=logs / f"{tag}.log", timeout=settings.timeout, memory_cap=settings.memory_cap
    )
    if sample.ok and result.is_file():
        inside = json.loads(result.read_text())
        sample.seconds, sample.phases, sample.info = inside["seconds"], inside["phases"], inside["info"]
        sample.inside_cpu_seconds = inside.get("cpu_seconds")
    return sample


_LOG_LINE = re.compile(r"^(\d{2}):(\d{2}):(\d{2})\.(\d{3}) \| (\w+)\s*\| (.*)$")
_TASK_DONE = re.compile(r"Task run '(.+)-[0-9a-f]{3}' - Finished in state")


def split_run_log(text: str, started_epoch: float, wall: float) -> dict[str, float]:
    """Seconds of a `cakupan run`: start-up (process and imports until the temporary server starts), the
    temporary server (until "Beginning flow run"), the flow (until the process ended) and each task in it."""
    base = datetime.fromtimestamp(started_epoch)

    def at(match: re.Match[str]) -> float:
        hour, minute, second, milli = (int(match[i]) for i in range(1, 5))
        moment = base.replace(hour=hour, minute=minute, second=second, microsecond=milli * 1000)
        if moment < base - timedelta(hours=1):  # the run crossed midnight
            moment += timedelta(days=1)
        return moment.timestamp() - started_epoch

    server = flow = None
    tasks: dict[str, float] = {}
    last = None
    for line in text.splitlines():
        match = _LOG_LINE.match(line)
        if not match:
            continue
        message = match[6]
        if server is None and "Starting temporary server" in message:
            server = at(match)
        elif flow is None and "Beginning flow run" in message:
            flow = last = at(match)
        elif (done := _TASK_DONE.search(message)) and last is not None:
            moment = at(match)
            tasks[f"task {done[1]}"] = tasks.get(f"task {done[1]}", 0.0) + moment - last
            last = moment
    phases: dict[str, float] = {}
    if server is not None:
        phases["start-up: process and imports"] = server
    if flow is not None:
        phases["start-up: temporary Prefect server"] = flow - (server or 0.0)
        phases["flow, to process exit"] = wall - flow
    return {**phases, **tasks}


def probe_speed() -> dict[str, float] | None:
    """``benchmarks.probe`` in a fresh process with polars on one thread; None if it failed or took too long."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.probe"],
            env=_child_env(POLARS_MAX_THREADS="1"),
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_SECONDS,
            check=True,
        )
        return dict(json.loads(done.stdout))
    except (subprocess.SubprocessError, ValueError):
        return None


def measure_run(
    size: str, inputs: Inputs, settings: Settings, logs: Path, scratch: Path, *, warm_home: bool = False
) -> Sample:
    """`cakupan run` in a cold process with a fresh data dir and PREFECT_HOME.

    With ``warm_home`` the PREFECT_HOME is that of an earlier, untimed run (its database exists, as on a machine
    that ran last night); the process and the data dir are fresh all the same.
    """
    folder = Path(tempfile.mkdtemp(prefix="run-", dir=scratch))
    try:
        env = _child_env(PREFECT_HOME=str(folder / "prefect"), CAKUPAN_PII_KEY="cakupan-benchmark-key")
        for variable in ("PREFECT_API_URL", "CAKUPAN_DB_URL", "PREFECT_PROFILE", "CAKUPAN_DATA_DIR"):
            env.pop(variable, None)

        def command(data_dir: Path) -> list[str]:
            return [
                str(Path(sys.executable).with_name("cakupan")),
                "run",
                "--submissions",
                str(inputs.submissions),
                "--bpjs",
                str(inputs.export_file),
                "--reference",
                str(inputs.reference),
                "--data-dir",
                str(data_dir),
                "--run-date",
                RUN_DATE.isoformat(),
            ]

        if warm_home:
            primed, _ = spawn(
                command(folder / "primer"),
                env=env,
                log=logs / "primer.log",
                timeout=settings.timeout,
                memory_cap=settings.memory_cap,
            )
            if not primed.ok:
                return primed
        log = logs / "run.log"
        sample, started = spawn(
            command(folder / "data"), env=env, log=log, timeout=settings.timeout, memory_cap=settings.memory_cap
        )
        sample.phases = split_run_log(log.read_text(errors="replace"), started, sample.wall_seconds)
        sample.seconds = sample.wall_seconds if sample.ok else None
        return sample
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _median(samples: list[Sample]) -> dict[str, Any]:
    """Medians over the samples (all must have succeeded), and the phases' medians."""
    ok = [s for s in samples if s.ok]
    if not ok or len(ok) < len(samples):
        failed = next(s for s in samples if not s.ok)
        return {
            "ok": False,
            "error": failed.error,
            "runs": len(samples),
            "wall_seconds": failed.wall_seconds,
            "tree_peak_rss_mib": failed.tree_peak_rss_mib,
            "phases": failed.phases,  # as far as it got
        }

    def med(values: list[float | None]) -> float | None:
        present = [v for v in values if v is not None]
        return statistics.median(present) if present else None

    phase_names = list(dict.fromkeys(name for s in ok for name in s.phases))
    return {
        "ok": True,
        "runs": len(ok),
        "seconds": med([s.seconds for s in ok]),
        "wall_seconds": med([s.wall_seconds for s in ok]),
        "cpu_seconds": med([s.cpu_seconds for s in ok]),
        "inside_cpu_seconds": med([s.inside_cpu_seconds for s in ok]),
        "peak_rss_mib": max(s.peak_rss_mib for s in ok),
        "tree_peak_rss_mib": max(s.tree_peak_rss_mib for s in ok),
        "load": med([s.load_before for s in ok]),
        "phases": {name: med([s.phases.get(name) for s in ok]) for name in phase_names},
        "info": ok[-1].info,
    }


def run_size(size_name: str, settings: Settings, progress: Any) -> dict[str, Any]:
    size = SIZES[size_name]
    runs = settings.runs.get(size_name, 1)
    inputs, manifest, fresh = ensure(size, settings.seed)
    progress(f"{size_name}: inputs {'generated' if fresh else 'reused'} ({manifest['files']:,} files)")
    work = inputs.root / "work"
    shutil.rmtree(work / "validation", ignore_errors=True)  # prepared frames of an earlier code version
    scratch = inputs.root / "scratch"
    scratch.mkdir(parents=True, exist_ok=True)
    logs = inputs.root / "logs"
    shutil.rmtree(logs, ignore_errors=True)
    entry: dict[str, Any] = {
        "size": asdict(size),
        "inputs": {**manifest, "generated_now": fresh},
        "runs": runs,
        "commit": machine()["commit"],
    }
    measurements: dict[str, Any] = {}
    entry["measurements"] = measurements

    def together(*pairs: tuple[str, Any]) -> None:
        """Each measurement ``runs`` times, round-robin: what is compared sees the machine in the same state."""
        samples: dict[str, list[Sample]] = {key: [] for key, _ in pairs}
        before = probe_speed()
        for i in range(runs):
            for key, one in pairs:
                if samples[key] and not samples[key][-1].ok:
                    continue
                sample = one(logs / key.replace(":", "-") / str(i))
                samples[key].append(sample)
                took = f"{sample.seconds:.2f} s in, " if sample.seconds is not None else ""
                outcome = f"{took}{sample.wall_seconds:.1f} s wall, {sample.tree_peak_rss_mib:,.0f} MiB"
                progress(f"{size_name} {key} #{i + 1}/{runs}: {outcome if sample.ok else sample.error}")
        after = probe_speed()
        speed = [probe for probe in (before, after) if probe]
        for key, taken in samples.items():
            measurements[key] = {
                **_median(taken),
                "samples": [asdict(s) for s in taken],
                "commit": entry["commit"],
                "speed": speed,
            }

    def process(kind: str, name: str) -> tuple[str, Any]:
        return f"{kind}:{name}", lambda logs: measure(kind, name, size_name, settings, logs)

    groups = settings.groups

    def ready(name: str) -> bool:
        """Measured now, or left out by BENCH_STAGES with its outputs of an earlier run in place."""
        if name in settings.stages and "stages" in groups:
            return bool(measurements.get(f"stage:{name}", {}).get("ok"))
        return all((work / w).exists() for w in STAGES[name].writes)

    if "stages" in groups:
        for name in [n for n in STAGES if n in settings.stages]:
            if skipped := not_ready(name, settings.stages, ready):
                measurements[f"stage:{name}"] = {"ok": False, "error": skipped, "runs": 0}
                continue
            # The reconcile targets compare the stage with DuckDB and with its floor: measured side by side.
            extra = [process("duckdb", "reconcile")] if name == "reconcile" and "duckdb" in groups else []
            extra += [process("floor", "reconcile")] if name == "reconcile" and "floors" in groups else []
            together(process("stage", name), *extra)
    done = {name for name in STAGES if ready(name)}
    if "floors" in groups:
        for name in STAGES:
            if name in done and name in settings.stages and f"floor:{name}" not in measurements:
                together(process("floor", name))
    if "duckdb" in groups and "validate" in done and "duckdb:reconcile" not in measurements:
        together(process("duckdb", "reconcile"))
    if "validation" in groups and "read" in done:
        # Paired as the targets compare them: GX with polars, all failing with none failing.
        together(process("validation", "gx:real"), process("validation", "polars:real"))
        together(process("validation", "gx:all_pass"), process("validation", "gx:all_fail"))
        together(process("validation", "polars:all_pass"), process("validation", "polars:all_fail"))
    if "run" in groups:
        together(("run", lambda logs: measure_run(size_name, inputs, settings, logs, scratch)))
    if "run_warm" in groups and size_name == "S":  # a primer run per sample: worth it at S only
        together(
            ("run:warm_home", lambda logs: measure_run(size_name, inputs, settings, logs, scratch, warm_home=True))
        )
    return entry


def _needs(stage: str) -> list[str]:
    """The stages before ``stage``, in their order: each reads what the ones before it wrote."""
    order = list(STAGES)
    return order[: order.index(stage)]


def not_ready(stage: str, measured: Sequence[str], ready: Callable[[str], bool]) -> str | None:
    """Why ``stage`` cannot be measured now, or None: a stage before it (``ready`` false) failed in this run, or
    was left out of ``measured`` (BENCH_STAGES) with none of its outputs in place, as on inputs generated now."""
    for earlier in _needs(stage):
        if not ready(earlier):
            if earlier in measured:
                return f"skipped: the {earlier} stage failed"
            return f"skipped: the {earlier} stage has not run on these inputs (add it to BENCH_STAGES)"
    return None


# ---------------------------------------------------------------------------------------------- report


def measured_code(root: Path) -> str:
    """The commit checked out at ``root`` (``code_version``), and whether its tracked files differ from it.
    RESULTS.md and results.json do not count: a run of the harness writes them for the next, which measures the same
    code."""
    own = [f":(exclude){path.relative_to(HERE.parent)}" for path in (RESULTS_MD, RESULTS_JSON)]
    status = ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", *own]
    dirty = subprocess.run(status, capture_output=True, text=True, cwd=root)
    return code_version(root) + (" with local changes" if dirty.stdout.strip() else "")


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    mem_kib = next(
        int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")
    )
    versions = {}
    for package in ("polars", "duckdb", "great-expectations", "prefect", "pandas", "numpy", "rapidfuzz"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "-"
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": measured_code(HERE.parent),
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kib / 2**20, 1),
        "cpu": cpu,
        "python": platform.python_version(),
        "versions": versions,
        "load": Path("/proc/loadavg").read_text().split()[:3],
    }


@dataclass(frozen=True)
class Target:
    """One target of issue 7, point 2: the measured value, its limit, and what both are."""

    name: str
    size: str
    value: float | None
    limit: float
    unit: str
    detail: str

    @property
    def verdict(self) -> str:
        if self.value is None:
            return "not measured"
        return "PASS" if self.value <= self.limit else "MISS"

    def how_much(self) -> str:
        if self.value is None:
            return self.detail
        if self.value <= self.limit:
            return f"{self.detail}; {self.limit / self.value:.2f}x within" if self.value else self.detail
        return f"{self.detail}; {self.value / self.limit:.2f}x over"


def _get(result: dict[str, Any], size: str, key: str, field_name: str = "seconds") -> float | None:
    entry = result.get("sizes", {}).get(size, {}).get("measurements", {}).get(key)
    if not entry or not entry.get("ok"):
        return None
    value = entry.get(field_name)
    return float(value) if value is not None else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def targets(result: dict[str, Any]) -> list[Target]:
    found: list[Target] = []
    for size in ("M", "L"):
        stage, duck, floor = (_get(result, size, k) for k in ("stage:reconcile", "duckdb:reconcile", "floor:reconcile"))
        cpu = {k: _get(result, size, k, "inside_cpu_seconds") for k in ("stage:reconcile", "duckdb:reconcile")}
        cpu_note = f" (CPU {_s(cpu['stage:reconcile'])} vs {_s(cpu['duckdb:reconcile'])})" if all(cpu.values()) else ""
        found.append(
            Target(
                "reconcile stage / DuckDB reference",
                size,
                _ratio(stage, duck),
                1.0,
                "x",
                f"{_s(stage)} vs {_s(duck)}{cpu_note}",
            )
        )
        found.append(
            Target(
                "reconcile stage / its I/O floor", size, _ratio(stage, floor), 3.0, "x", f"{_s(stage)} vs {_s(floor)}"
            )
        )
    peaks = [
        (key, _get(result, "L", key, "tree_peak_rss_mib")) for key in ("run", *(f"stage:{name}" for name in STAGES))
    ]
    run_peak = peaks[0][1]
    stage_peak = max((p for _, p in peaks[1:] if p is not None), default=None)
    run_entry = result.get("sizes", {}).get("L", {}).get("measurements", {}).get("run", {})
    detail = (
        f"whole run {_gib(run_peak)}" if run_peak is not None else f"whole run: {run_entry.get('error', 'not run')}"
    ) + (f"; largest stage {_gib(stage_peak)}" if stage_peak is not None else "")
    found.append(
        Target("peak memory of the whole run", "L", None if run_peak is None else run_peak / 1024, 8.0, "GiB", detail)
    )
    # A cold process on a machine where cakupan has run before: Prefect's database exists. The very first run on a
    # new machine also creates it (Prefect's migrations); RESULTS.md shows that run beside this one.
    run_s = _get(result, "S", "run:warm_home")
    phases = result.get("sizes", {}).get("S", {}).get("measurements", {}).get("run:warm_home", {}).get("phases", {})
    flow = phases.get("flow, to process exit")
    found.append(Target("whole run, cold process, wall", "S", run_s, 20.0, "s", f"{_s(run_s)} wall"))
    found.append(
        Target(
            "whole run outside fixed start-up costs",
            "S",
            flow,
            5.0,
            "s",
            f"{_s(flow)} from 'Beginning flow run' to exit",
        )
    )
    gx, pol = _get(result, "M", "validation:gx:real"), _get(result, "M", "validation:polars:real")
    found.append(
        Target("validation, GX / same rules in polars", "M", _ratio(gx, pol), 5.0, "x", f"{_s(gx)} vs {_s(pol)}")
    )
    fail, ok = _get(result, "M", "validation:gx:all_fail"), _get(result, "M", "validation:gx:all_pass")
    name = "validation, every row failing / none failing (GX)"
    found.append(Target(name, "M", _ratio(fail, ok), 1.2, "x", f"{_s(fail)} vs {_s(ok)}"))
    return found


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f} s" if value < 100 else f"{value:,.0f} s"


def _gib(mib: float | None) -> str:
    return "-" if mib is None else f"{mib / 1024:.2f} GiB"


def _mib(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _cell(entry: dict[str, Any] | None, field_name: str = "seconds") -> str:
    if not entry:
        return "not run"
    if not entry.get("ok"):
        return f"**{entry.get('error')}**"
    return _s(entry.get(field_name))


def _phases(entry: dict[str, Any], top: int = 3) -> str:
    phases = sorted(((v, k) for k, v in (entry.get("phases") or {}).items() if v is not None), reverse=True)
    return ", ".join(f"{k} {v:.2f}" for v, k in phases[:top])


def render(result: dict[str, Any], findings: str) -> str:
    m = result["machine"]
    v = m["versions"]
    lines = [
        "# Benchmarks",
        "",
        f"Written by `make bench` ({m['date']}); regenerate rather than edit, except the Findings section.",
        "",
        "## Machine",
        "",
        "| cores | memory | CPU | Python | polars | DuckDB | Great Expectations | Prefect | code |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| {m['cores']} | {m['memory_gib']} GiB | {m['cpu']} | {m['python']} | {v['polars']} | {v['duckdb']} "
        f"| {v['great-expectations']} | {v['prefect']} | {m.get('commit', '?')} |",
        "",
        *_speed_note(
            [one for entry in result.get("sizes", {}).values() for one in entry["measurements"].values()], "the table's"
        ),
        "## Targets (issue 7, point 2)",
        "",
        "| target | size | measured | limit | verdict | how much |",
        "|---|---|---|---|---|---|",
    ]
    for t in targets(result):
        value = "-" if t.value is None else f"{t.value:.2f} {t.unit}"
        lines.append(f"| {t.name} | {t.size} | {value} | {t.limit:g} {t.unit} | {t.verdict} | {t.how_much()} |")
    lines += ["", FINDINGS_START, findings.strip("\n"), FINDINGS_END, ""]
    for size in ("S", "M", "L"):
        entry = result.get("sizes", {}).get(size)
        if entry:
            lines += _size_section(size, entry)
    lines += _how_to()
    return "\n".join(lines) + "\n"


def _size_section(size: str, entry: dict[str, Any]) -> list[str]:
    s, inputs, ms = entry["size"], entry["inputs"], entry["measurements"]
    lines = [
        f"## {size}: {s['list_rows']:,} list rows, {s['export_rows']:,} export rows",
        "",
        f"Inputs: {inputs['files']:,} village files of {inputs['villages']:,} villages, "
        f"{inputs['input_bytes'] / 1e6:,.0f} MB, generated in {inputs['seconds']} s (seed {inputs['seed']}). "
        f"Medians of {_runs_of(entry)} run(s) per measurement, each in a fresh process; {_measured_how(entry)}. "
        f"{_load_note(ms)}",
        "",
        *_speed_note(list(ms.values()), "these"),
        "| stage | in-process | its CPU | process wall | peak RSS MiB | I/O floor | stage / floor "
        "| slowest phases (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in STAGES:
        stage, floor = ms.get(f"stage:{name}"), ms.get(f"floor:{name}")
        ratio = _ratio(_value(stage), _value(floor))
        lines.append(
            f"| {name} | {_cell(stage)} | {_cell(stage, 'inside_cpu_seconds')} | {_cell(stage, 'wall_seconds')} "
            f"| {_mib((stage or {}).get('tree_peak_rss_mib'))} | {_cell(floor)} "
            f"| {'-' if ratio is None else f'{ratio:.1f}x'} | {_phases(stage or {})} |"
        )
    duck, rec = ms.get("duckdb:reconcile"), ms.get("stage:reconcile")
    lines += [
        "",
        "| reference | in-process | its CPU | process wall | peak RSS MiB | stage / reference |",
        "|---|---|---|---|---|---|",
    ]
    ratio = _ratio(_value(rec), _value(duck))
    lines.append(
        f"| reconcile in DuckDB SQL | {_cell(duck)} | {_cell(duck, 'inside_cpu_seconds')} "
        f"| {_cell(duck, 'wall_seconds')} "
        f"| {_mib((duck or {}).get('tree_peak_rss_mib'))} | {'-' if ratio is None else f'{ratio:.2f}x'} |"
    )
    if duck and duck.get("ok") and duck["info"].get("compared") is False:
        lines += ["", "Statuses not compared: the reconcile stage had not run on these inputs when DuckDB did."]
    elif duck and duck.get("ok"):
        info = duck["info"]
        ours, theirs = info["statuses"], info["statuses_duckdb"]
        lines += [
            "",
            f"Statuses, cakupan vs DuckDB ({info['different_status']:,} of {info['persons']:,} people differ; "
            f"person_key equal: {info['person_key_equal']}):",
            "",
            "| status | cakupan | DuckDB |",
            "|---|---|---|",
            *(f"| {k} | {ours.get(k, 0):,} | {theirs.get(k, 0):,} |" for k in sorted(set(ours) | set(theirs))),
        ]
        if info["transitions"]:
            lines += ["", "Where they differ (cakupan -> DuckDB): " + "; ".join(info["transitions"][:8]) + "."]
    validated = any(key.startswith("validation:") for key in ms)
    lines += (
        [
            "",
            "| validation of submission_rows.json | rows | GX | polars | GX / polars | failing rows |",
            "|---|---|---|---|---|---|",
        ]
        if validated
        else []
    )
    for frame in ("real", "all_pass", "all_fail") if validated else ():
        gx, pol = ms.get(f"validation:gx:{frame}"), ms.get(f"validation:polars:{frame}")
        ratio = _ratio(_value(gx), _value(pol))
        info = (gx or pol or {}).get("info", {})
        lines.append(
            f"| {frame} frame | {info.get('rows', 0):,} | {_cell(gx)} | {_cell(pol)} "
            f"| {'-' if ratio is None else f'{ratio:.1f}x'} | {info.get('failing_rows', 0):,} |"
        )
    agree = _same_failures(ms)
    if agree is not None:
        lines += ["", f"GX and the polars rules report the same failures per reason on every frame: {agree}."]
    run = ms.get("run")
    if run:
        lines += [
            "",
            f"Whole run (`cakupan run`, cold process, fresh data dir and PREFECT_HOME): {_cell(run, 'wall_seconds')} "
            f"wall, peak {_mib(run.get('tree_peak_rss_mib'))} MiB over its processes (flow process alone "
            f"{_mib(run.get('peak_rss_mib'))} MiB).",
        ]
        if run.get("phases"):
            lines += ["", "| part of the run" + ("" if run.get("ok") else ", as far as it got") + " | seconds |"]
            lines += ["|---|---|"]
            lines += [f"| {k} | {v:,.2f} |" for k, v in run["phases"].items() if v is not None]
    warm = ms.get("run:warm_home")
    if warm:
        flow = (warm.get("phases") or {}).get("flow, to process exit")
        lines += [
            "",
            f"The same run with the PREFECT_HOME of an earlier run (its database already there, as on a machine "
            f"that ran the night before; process and data dir still fresh; the S targets use this run): "
            f"{_cell(warm, 'wall_seconds')} wall, {_s(flow)} of it from 'Beginning flow run' to exit.",
        ]
        if warm.get("phases"):
            lines += ["", "| part of the run | seconds |", "|---|---|"]
            lines += [f"| {k} | {v:,.2f} |" for k, v in warm["phases"].items() if v is not None]
    return [*lines, ""]


def _measured_how(entry: dict[str, Any]) -> str:
    """How long this size's measurements took, and on which code: a size's table may merge runs of the harness
    (``BENCH_ONLY``), so both are taken from the measurements it shows, not from the last run."""
    ms = entry["measurements"].values()
    seconds = sum(sample["wall_seconds"] for m in ms for sample in m.get("samples", []))
    # A skipped stage was measured on no code: it has no commit.
    commits = sorted({m["commit"] for m in ms if "commit" in m}) or [entry["commit"]]
    return f"its measurements took {seconds:,.0f} s, on code {' and '.join(commits)}"


def _runs_of(entry: dict[str, Any]) -> str:
    """The runs of this size's measurements: merged harness runs may have taken different numbers."""
    runs = sorted({m["runs"] for m in entry["measurements"].values() if m["runs"]}) or [entry["runs"]]
    return str(runs[0]) if len(runs) == 1 else f"{runs[0]} to {runs[-1]}"


def _load_note(ms: dict[str, Any]) -> str:
    loads = [s["load_before"] for m in ms.values() for s in m.get("samples", [])]
    if not loads:
        return ""
    return (
        f"Load average (1 min) of the machine when a measurement started: median {statistics.median(loads):.1f}, "
        f"highest {max(loads):.1f}, on {os.cpu_count()} cores."
    )


def _speed_note(measurements: list[dict[str, Any]], whose: str) -> list[str]:
    """The range of the speed probes taken around ``measurements`` (a paragraph and its blank line), or nothing."""
    probes = [probe for m in measurements for probe in m.get("speed", [])]
    if not probes:
        return []

    def spread(key: str) -> str:
        low, high = min(p[key] for p in probes), max(p[key] for p in probes)
        return f"{low:.2f} s" if low == high else f"{low:.2f}-{high:.2f} s"

    return [
        f"One core's speed before and after {whose} measurements ({len(probes)} probes, lower is quicker; "
        f"`benchmarks/probe.py`): a fixed Python loop {spread('python_loop_s')}, a fixed Parquet round "
        f"trip {spread('parquet_s')}. Seconds compare across tables only beside these.",
        "",
    ]


def _value(entry: dict[str, Any] | None) -> float | None:
    return entry.get("seconds") if entry and entry.get("ok") else None


def _same_failures(ms: dict[str, Any]) -> bool | None:
    pairs = [(ms.get(f"validation:gx:{f}"), ms.get(f"validation:polars:{f}")) for f in ("real", "all_pass", "all_fail")]
    checked = [(a, b) for a, b in pairs if a and b and a.get("ok") and b.get("ok")]
    if not checked:
        return None
    return all(a["info"]["failures"] == b["info"]["failures"] for a, b in checked)


def _how_to() -> list[str]:
    return [
        "## How to read and reproduce",
        "",
        '- `make bench` (or `SIZES="S M" make bench`) generates the inputs when their manifest does not match, '
        "then measures. `BENCH_RUNS`, `BENCH_ONLY`, `BENCH_TIMEOUT`, `BENCH_MEMORY_CAP_GB`, `BENCH_DIR`: see "
        "benchmarks/run.py. Raw numbers of every run: benchmarks/results.json.",
        "- Every measurement is its own process. *In-process* seconds time the measured call only (imports, and "
        "for the validate stage Great Expectations' import and context, are excluded); ratios use them. *Process "
        "wall* is spawn to exit. *Peak RSS* is the sampled peak of the sum over the measured process group (the "
        "temporary Prefect server included for the whole run).",
        "- Stages run on the previous stage's Parquet (contract at the top of benchmarks/stages.py). The I/O floor "
        "of a stage reads the same inputs and writes its outputs (same rows, columns, Parquet settings) with "
        "nothing in between; its time is those reads and writes alone (loading each output before writing it "
        "again is left off the clock).",
        "- The DuckDB reference (benchmarks/reference_duckdb.sql) reconciles the same persons.parquet and "
        "members.parquet, person_key included, with a Levenshtein-based name similarity instead of rapidfuzz's "
        "token_sort_ratio and without review decisions; its status counts are compared with ours above.",
        "- Validation: the submission suite on the prepared frame of the read stage's rows, by Great "
        "Expectations (expectations.gx.validate, warmed up on 100 rows first) and by the same expectations "
        "translated to polars (benchmarks/reference_rules.py); all_pass resamples rows that fail nothing, "
        "all_fail makes every row fail every expectation.",
        '- The whole run is split from its log: process start and imports until "Starting temporary server", '
        'the server until "Beginning flow run", the flow until the process exits, and each task\'s share.',
        "- The machine is shared: the load column of results.json shows what else ran. Compare ratios measured in "
        "one run rather than absolute seconds across runs.",
    ]


# ---------------------------------------------------------------------------------------------- main


def _findings() -> str:
    if not RESULTS_MD.is_file():
        return "\n(no findings written yet)\n"
    text = RESULTS_MD.read_text()
    if FINDINGS_START in text and FINDINGS_END in text:
        return text.split(FINDINGS_START, 1)[1].split(FINDINGS_END, 1)[0]
    return "\n(no findings written yet)\n"


def write_report(result: dict[str, Any]) -> None:
    RESULTS_JSON.write_text(json.dumps(result, indent=1, default=str) + "\n")
    RESULTS_MD.write_text(render(result, _findings()))


# How long generating took, and whether it happened in this run, say nothing of what was generated.
_GENERATION_FACTS = ("seconds", "generated_now")


def _same_inputs(earlier: dict[str, Any], now: dict[str, Any]) -> bool:
    """Whether two runs measured the same inputs (generated again, the same seed gives the same files)."""
    return {k: v for k, v in earlier.items() if k not in _GENERATION_FACTS} == {
        k: v for k, v in now.items() if k not in _GENERATION_FACTS
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    result: dict[str, Any] = json.loads(RESULTS_JSON.read_text()) if RESULTS_JSON.is_file() else {}
    result.setdefault("sizes", {})
    if args == ["--report"]:
        result.setdefault("machine", machine())
        write_report(result)
        return 0
    settings = Settings.from_env()
    result["config"] = asdict(settings)

    def progress(message: str) -> None:
        print(f"{datetime.now():%H:%M:%S} {message}", flush=True)

    for size in settings.sizes:
        entry, earlier = run_size(size, settings, progress), result["sizes"].get(size)
        if earlier and set(settings.groups) != set(GROUPS) and _same_inputs(earlier["inputs"], entry["inputs"]):
            # Some groups only, on the same inputs: the other groups' earlier measurements stand.
            entry["measurements"] = {**earlier["measurements"], **entry["measurements"]}
        result["sizes"][size] = entry
        result["machine"] = machine()
        write_report(result)
    progress(f"wrote {RESULTS_MD} and {RESULTS_JSON}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
