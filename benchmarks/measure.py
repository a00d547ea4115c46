"""One measurement in its own process: ``python -m benchmarks.measure KIND NAME --size S --result out.json``.

benchmarks/run.py starts one such process per measurement and takes its wall time and peak memory from outside;
inside, this module times only the measured call (imports and untimed preparation excluded) and writes
{"seconds": ..., "cpu_seconds": ..., "phases": {...}, "info": {...}} to the result file. cpu_seconds is the CPU
time of all the process's threads during the call: on a machine others share, it moves less than the wall time.

KIND NAME:
    stage read|validate|reconcile|metrics|write   the stage of benchmarks/stages.py
    floor <stage>                                 that stage's I/O floor
    duckdb reconcile                              benchmarks/reference_duckdb.sql
    validation gx|polars:real|all_pass|all_fail   submission_rows.json on a prepared frame, by GX or polars
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from benchmarks.generate import SIZES, Inputs, bench_dir
from benchmarks.stages import STAGES, io_floor, warm_up

SUITE = "submission_rows"


def work_dir(size: str) -> Path:
    """Where a size's stages keep their Parquet (next to its inputs)."""
    return bench_dir() / size / "work"


def _suite_parameters() -> dict[str, Any]:
    from cakupan.settings import load_rules

    rules = load_rules()
    return {"age_min": rules.age_min, "age_max": rules.age_max}


def validation_frame(inputs: Inputs, work: Path, frame: str) -> pl.DataFrame:
    """The prepared submission frame (real), or one as tall that passes (all_pass) or fails (all_fail) every rule.

    Cached under WORK/validation/ for the other measurements of the same size.
    """
    from benchmarks import reference_rules
    from benchmarks.stages import load_villages, prepared_submission_rows
    from expectations.gx import suite_columns

    cache = work / "validation" / f"{frame}.parquet"
    if cache.is_file():
        return pl.read_parquet(cache)
    if frame == "real":
        raw, files = pl.read_parquet(work / "raw_rows.parquet"), pl.read_parquet(work / "files.parquet")
        table = prepared_submission_rows(raw, files, load_villages(inputs)).select(suite_columns(SUITE))
    elif frame == "all_pass":
        table = reference_rules.all_pass(validation_frame(inputs, work, "real"), SUITE, _suite_parameters())
    elif frame == "all_fail":
        table = reference_rules.all_fail(validation_frame(inputs, work, "real"), SUITE)
    else:
        raise ValueError(f"unknown frame {frame!r}")
    cache.parent.mkdir(parents=True, exist_ok=True)
    table.write_parquet(cache)
    return table


def _failure_counts(failures: pl.DataFrame) -> dict[str, int]:
    return dict(sorted(failures.group_by("reason").len().iter_rows()))


def measure(kind: str, name: str, size: str) -> dict[str, Any]:
    inputs = Inputs(bench_dir() / size)
    work = work_dir(size)
    work.mkdir(parents=True, exist_ok=True)
    info: dict[str, Any] = {}
    if kind == "stage":
        if name == "validate":
            warm = time.perf_counter()
            warm_up()
            info["warm_up_seconds"] = round(time.perf_counter() - warm, 3)
        started, cpu_started = time.perf_counter(), time.process_time()
        phases = STAGES[name].run(inputs, work)
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
        if name == "reconcile":
            statuses = pl.read_parquet(work / "reconciliation.parquet", columns=["status"])["status"]
            info["statuses"] = dict(sorted((str(k), v) for k, v in statuses.value_counts().iter_rows()))
    elif kind == "floor":
        scratch = work / "floor" / name
        shutil.rmtree(scratch, ignore_errors=True)
        started, cpu_started = time.perf_counter(), time.process_time()
        phases = io_floor(name, inputs, work, scratch)
        cpu_seconds = time.process_time() - cpu_started
        # The floor is its reads and writes: loading each output before writing it again is the floor's own
        # preparation, not I/O the stage does (a national reconciliation's 10 million rows took 4.5 s to load).
        seconds = sum(phases.values())
        info["untimed_seconds"] = round(time.perf_counter() - started - seconds, 3)
        shutil.rmtree(scratch, ignore_errors=True)
    elif kind == "duckdb":
        from benchmarks import reference_duckdb

        output = work / "reconciliation_duckdb.parquet"
        started, cpu_started = time.perf_counter(), time.process_time()
        reference_duckdb.run(work, output)
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
        phases = {"duckdb": seconds}
        ours = work / "reconciliation.parquet"
        # Compared with what the reconcile stage wrote on these inputs; on inputs it has not run on yet, DuckDB's
        # time still stands (a national reference takes six minutes, lost to a comparison it could not make).
        info = reference_duckdb.compare(ours, output) if ours.is_file() else {"compared": False}
    elif kind == "validation":
        engine, frame_name = name.split(":")
        frame = validation_frame(inputs, work, frame_name)
        parameters = _suite_parameters()
        if engine == "gx":
            from expectations.gx import validate

            warm = time.perf_counter()
            validate(SUITE, frame.head(100), parameters)  # import GX and build its context before the clock
            info["gx_first_call_seconds"] = round(time.perf_counter() - warm, 3)
            started, cpu_started = time.perf_counter(), time.process_time()
            failures = validate(SUITE, frame, parameters).failures
        else:
            from benchmarks.reference_rules import validate_with_polars

            started, cpu_started = time.perf_counter(), time.process_time()
            failures = validate_with_polars(SUITE, frame, parameters)
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
        phases = {engine: seconds}
        info.update(rows=frame.height, failing_rows=failures["row_id"].n_unique(), failures=_failure_counts(failures))
    else:
        raise ValueError(f"unknown measurement kind {kind!r}")
    return {"seconds": seconds, "cpu_seconds": cpu_seconds, "phases": phases, "info": info}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=["stage", "floor", "duckdb", "validation"])
    parser.add_argument("name")
    parser.add_argument("--size", required=True, choices=list(SIZES))
    parser.add_argument("--result", type=Path, required=True)
    args = parser.parse_args(argv)
    result = measure(args.kind, args.name, args.size)
    args.result.write_text(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
