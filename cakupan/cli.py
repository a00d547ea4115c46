"""The ``cakupan`` command: make sample inputs, run the nightly pipeline once, or both as a demo."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from contextlib import nullcontext
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from cakupan.errors import InputError
from cakupan.inputs import choose_export, parse_run_date, submissions_folder
from cakupan.reference import load_villages, load_workforce
from cakupan.settings import Settings, today_in

if TYPE_CHECKING:
    from tasks.summaries import RunSummary

DESCRIPTION = """\
cakupan reconciles the lists of pekerja rentan (vulnerable informal workers) that villages propose with
BPJS Ketenagakerjaan membership exports, and publishes coverage per desa, kecamatan and kabupaten."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cakupan", description=DESCRIPTION)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sample = commands.add_parser(
        "sample",
        help="write realistic sample inputs (and the true outcome of every row) to a folder",
        description="Write village submissions, a BPJS export and reference files that look like what a regency "
        "really receives, mess included, plus truth/ with the outcome every row and person should get. "
        "The same seed always writes the same bytes.",
    )
    sample.add_argument(
        "--out", type=Path, required=True, help="folder to write submissions/, bpjs/, reference/, truth/"
    )
    sample.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    sample.add_argument("--villages", type=int, default=231, help="number of villages (default 231, as in Kapuas)")
    sample.add_argument("--workers", type=int, default=10_000, help="proposed workers in all (default 10,000)")

    run = commands.add_parser(
        "run",
        help="run the nightly pipeline once for one date",
        description="Read every village file, validate it, reconcile the accepted people with the BPJS export and "
        "publish coverage to Parquet and the warehouse. Runs as a Prefect flow; no Prefect server is needed. "
        "Exits 0 when the run completed (even if rows were rejected), 2 with a one-line reason when it could not run.",
    )
    _run_arguments(run)
    run.add_argument("--submissions", type=Path, required=True, help="folder of village files (.xlsx, .xls, .csv)")
    run.add_argument(
        "--bpjs",
        type=Path,
        required=True,
        help="BPJS export file, or a folder: then the newest export dated on or before the run date",
    )
    run.add_argument(
        "--reference", type=Path, required=True, help="folder with villages.csv and optional workforce.csv"
    )

    demo = commands.add_parser(
        "demo",
        help="write sample inputs to DATA/sample and run the pipeline on them",
        description="cakupan sample into DATA/sample, then cakupan run into DATA, then print a coverage summary.",
    )
    _run_arguments(demo)
    demo.add_argument("--seed", type=int, default=7, help="random seed of the sample (default 7)")

    db = commands.add_parser("db", help="manage the warehouse schema", description="Manage the warehouse schema.")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="DB_COMMAND")
    upgrade = db_commands.add_parser(
        "upgrade",
        help="migrate the warehouse to the schema this code needs",
        description="Apply the Alembic migrations in warehouse/migrations/ up to the newest. Safe to repeat. "
        "`cakupan run` refuses a warehouse whose schema is behind; only a brand-new empty SQLite file is created "
        "at the newest schema on the fly.",
    )
    upgrade.add_argument("--data-dir", type=Path, help="output root (default ./data, or CAKUPAN_DATA_DIR)")
    upgrade.add_argument("--db", help="warehouse SQLAlchemy URL (default sqlite:///DATA_DIR/warehouse.db)")
    return parser


def _run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run-date", help="the day the run reports on, YYYY-MM-DD (default: today in Asia/Jakarta)")
    parser.add_argument("--data-dir", type=Path, help="output root (default ./data, or CAKUPAN_DATA_DIR)")
    parser.add_argument("--db", help="warehouse SQLAlchemy URL (default sqlite:///DATA_DIR/warehouse.db)")
    parser.add_argument(
        "--partitions",
        type=_count,
        metavar="N",
        help="split the run into N partitions by NIK range; 1 = one pass, 0 = by the size of the inputs (default 0, "
        "or CAKUPAN_PARTITIONS)",
    )
    parser.add_argument(
        "--task-runner",
        choices=["threads", "dask"],
        help="run the partitions on threads of this process (default), or on Dask worker processes: the cluster at "
        "--dask-address, else a temporary one on this machine; dask needs PREFECT_API_URL (CAKUPAN_TASK_RUNNER)",
    )
    parser.add_argument(
        "--dask-address",
        metavar="tcp://HOST:PORT",
        help="the Dask scheduler of an existing cluster whose workers see the inbox and --scratch; implies "
        "--task-runner dask (CAKUPAN_DASK_ADDRESS)",
    )
    parser.add_argument(
        "--scratch",
        metavar="PATH|URL",
        help="where the run's partitions live while it runs: a folder or an fsspec URL (s3://bucket/cakupan) that "
        "every Dask worker reaches (default DATA_DIR/.runs, or CAKUPAN_SCRATCH)",
    )


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return int(text)


def settings_from(data_dir: Path | None, db: str | None, **flags: Any) -> Settings:
    """The settings of a command: its flags where given, else the environment (CAKUPAN_DATA_DIR, CAKUPAN_DB_URL,
    ...). ``flags`` are further settings by field name (task_runner, dask_address, partitions, scratch); None = not
    given."""
    given = {"data_dir": data_dir, "db_url": db} | flags
    if given.get("dask_address") and given.get("task_runner") is None:
        given["task_runner"] = "dask"  # naming a scheduler is asking for it
    # Given values go in as arguments, not as a copy's update, so they are validated like the environment's.
    try:
        return Settings(**{k: v for k, v in given.items() if v is not None})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg'].removeprefix('Value error, ')}" for e in exc.errors()
        )
        raise InputError(f"bad setting {problems}") from None


def run_pipeline(
    *,
    run_date: date,
    submissions: Path,
    bpjs: Path,
    reference: Path,
    data_dir: Path | None,
    db: str | None,
    **flags: Any,
) -> RunSummary:
    """Check the inputs, then run the nightly flow; InputError carries the one-line reason when it cannot run."""
    from warehouse.store import connect

    settings = settings_from(data_dir, db, **flags)
    # The flow checks these again (a deployment has no CLI in front of it); here they fail in a second, before
    # Prefect's temporary API takes its seconds to start.
    submissions_folder(submissions)
    choose_export(bpjs, run_date)
    load_villages(reference)
    load_workforce(reference)

    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    # Without PREFECT_API_URL the run needs a temporary API; on a fresh machine it first migrates its database,
    # which takes longer than Prefect's default 20 s allowance on a small box.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    from flows.startup import import_ahead, imports_set_aside, keep_unless_configured, start_temporary_api

    cold = "prefect" not in sys.modules  # the `cakupan` command, not a caller that has loaded Prefect already
    # The temporary API starts now, on the other core, while this process connects and imports Prefect, polars
    # and Great Expectations (Dask workers cannot reach it: that runner needs a configured API).
    api = start_temporary_api() if settings.task_runner == "threads" else None
    try:
        with imports_set_aside() if cold else nullcontext():
            connect(settings.warehouse_url).dispose()
            if settings.task_runner == "dask":
                from flows.runners import check_dask

                check_dask(settings)
            from flows.config import use_settings
            from flows.nightly import nightly
            from flows.parameters import InputFolders

            api = keep_unless_configured(api)
            if api is not None:
                import_ahead()
                api.wait_ready()
    except BaseException:
        if api is not None:
            api.close()
        raise
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    # Flow-run heartbeats tell a lasting server that a run's process died; a temporary API dies with the process.
    heartbeat = temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}) if api else nullcontext()
    # force: `cakupan run` always reprocesses; it waits, like every run, while another run holds the same date.
    with use_settings(settings), heartbeat:
        summary = nightly(
            run_date=run_date, force=True, inputs=InputFolders(submissions=submissions, bpjs=bpjs, reference=reference)
        )
    assert summary is not None, "a forced, unlimited run always returns its summary"
    return summary


def print_summary(summary: RunSummary, out: object = sys.stdout) -> None:
    attainment = "-" if summary.target_attainment is None else f"{summary.target_attainment:.1%}"
    workforce = "-" if summary.workforce_coverage is None else f"{summary.workforce_coverage:.1%}"
    lines = [
        f"cakupan {summary.run_date}: {summary.active:,} active of the {summary.kuota_total:,} target ({attainment})",
        f"  workforce coverage {workforce}: {summary.members_active_total:,} active BPJS members"
        + (f" / {summary.penduduk_bekerja:,} penduduk bekerja" if summary.penduduk_bekerja else ""),
        "  persons: " + ", ".join(f"{k} {v:,}" for k, v in sorted(summary.statuses.items())),
        f"  rows: {summary.rows_read:,} read; " + ", ".join(f"{k} {v:,}" for k, v in sorted(summary.outcomes.items())),
        "  files: " + ", ".join(f"{k} {v}" for k, v in sorted(summary.file_statuses.items())),
        *(f"  output {name}: {path}" for name, path in sorted(summary.outputs.items())),
    ]
    print("\n".join(lines), file=out)  # type: ignore[call-overload]


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "sample":
            from cakupan.sample import write_sample

            summary = write_sample(args.out, seed=args.seed, villages=args.villages, workers=args.workers)
            print(f"sample written to {args.out}: {summary}")
            return 0
        if args.command == "db":
            from warehouse.lock import create_lock_table
            from warehouse.store import connect, upgrade

            url = settings_from(args.data_dir, args.db).warehouse_url
            before, after = upgrade(url)
            engine = connect(url)
            try:
                create_lock_table(engine)
            finally:
                engine.dispose()
            print(
                f"warehouse schema upgraded: {before or 'no revision'} -> {after}"
                if before != after
                else f"warehouse schema already at {after}"
            )
            return 0
        timezone = settings_from(None, None).timezone
        if args.command == "demo":
            from cakupan.sample import SAMPLE_AS_OF, write_sample

            sample_dir = settings_from(args.data_dir, args.db).data_dir / "sample"
            write_sample(sample_dir, seed=args.seed, overwrite=True)
            run_date = parse_run_date(args.run_date) if args.run_date else SAMPLE_AS_OF
            result = run_pipeline(
                run_date=run_date,
                submissions=sample_dir / "submissions",
                bpjs=sample_dir / "bpjs",
                reference=sample_dir / "reference",
                data_dir=args.data_dir,
                db=args.db,
                partitions=args.partitions,
                task_runner=args.task_runner,
                dask_address=args.dask_address,
                scratch=args.scratch,
            )
        else:
            run_date = parse_run_date(args.run_date) if args.run_date else today_in(timezone)
            result = run_pipeline(
                run_date=run_date,
                submissions=args.submissions,
                bpjs=args.bpjs,
                reference=args.reference,
                data_dir=args.data_dir,
                db=args.db,
                partitions=args.partitions,
                task_runner=args.task_runner,
                dask_address=args.dask_address,
                scratch=args.scratch,
            )
        print_summary(result)
        return 0
    except InputError as exc:
        print(f"cakupan: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
