"""What a person may ask of a run, typed so that the Prefect UI shows a form and refuses bad values before any work.

The types here become the deployments' parameter schema: the UI renders it as a form with the help texts below,
the Prefect API checks every new run against it (a malformed date or village code is refused when the run is
created, whether from the UI, ``prefect deployment run`` or the API), and the flow checks it again in Python.
What only the reference data can tell (is this village one of ours?) is checked by ``check_request`` before the
run takes its lock or starts a task.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import polars as pl
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema

from cakupan.errors import InputError
from cakupan.inputs import choose_export, submissions_folder
from cakupan.reference import load_review_decisions, load_villages, load_workforce
from cakupan.settings import Settings


def _kode_desa(value: str) -> str:
    digits = value.strip().replace(".", "")
    if not re.fullmatch(r"\d{10}", digits):
        raise ValueError(f"{value!r} is not a village code: expected a Kemendagri code like 62.03.01.2001")
    return f"{digits[:2]}.{digits[2:4]}.{digits[4:6]}.{digits[6:]}"


KodeDesa = Annotated[
    str,
    AfterValidator(_kode_desa),
    WithJsonSchema(
        {
            "type": "string",
            "title": "kode_desa",
            "pattern": r"^(\d{2}\.\d{2}\.\d{2}\.\d{4}|\d{10})$",
            "description": "Kemendagri code of a desa or kelurahan, e.g. 62.03.01.2001 (or 6203012001).",
            "examples": ["62.03.01.2001"],
        }
    ),
]
"""A village code as the Dinas writes it; ``6203012001`` is accepted and written back dotted."""


class InputFolders(BaseModel):
    """Where the run reads. Leave a field empty to use the configured inbox (settings *_dir / bpjs_path)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    submissions: Path | None = Field(
        None, description="Folder of village files (.xlsx, .xls, .csv). Empty: the configured inbox."
    )
    bpjs: Path | None = Field(
        None,
        description="BPJS export file, or a folder of dated exports: then the newest dated on or before the run "
        "date. Empty: the configured one.",
    )
    reference: Path | None = Field(
        None, description="Folder with villages.csv (and optional workforce.csv). Empty: the configured one."
    )


@dataclass(frozen=True)
class RunRequest:
    """A checked request: every input found and readable, every village code known."""

    run_date: date
    submissions: Path
    export_file: Path
    reference: Path
    villages: pl.DataFrame
    workforce: pl.DataFrame | None
    decisions: pl.DataFrame | None
    kode_desa: tuple[str, ...] | None

    @property
    def preview(self) -> bool:
        """A run limited to some villages shows what it found and publishes nothing (README, Operating it)."""
        return self.kode_desa is not None


def run_date_at(scheduled_start: datetime, timezone: str) -> date:
    """The calendar day in the office's time zone at which a run was scheduled to start.

    A 01:30 WIB schedule starts at 18:30 UTC the day before, so the UTC date would be a day early.
    """
    return scheduled_start.astimezone(ZoneInfo(timezone)).date()


def scheduled_run_date(timezone: str) -> date:
    """The run date of the current flow run when none was given: its scheduled start, in the office's time zone."""
    from prefect.runtime import flow_run

    return run_date_at(flow_run.scheduled_start_time, timezone)


def check_request(run_date: date, inputs: InputFolders, kode_desa: list[str] | None, settings: Settings) -> RunRequest:
    """Find and read every input a run needs, or stop with one line saying what is wrong; no work starts here."""
    submissions = _configured(inputs.submissions, settings.submissions_dir, "submissions", "submissions_dir")
    bpjs = _configured(inputs.bpjs, settings.bpjs_path, "bpjs", "bpjs_path")
    reference = _configured(inputs.reference, settings.reference_dir, "reference", "reference_dir")
    submissions_folder(submissions)
    export_file = choose_export(bpjs, run_date)
    villages = load_villages(reference)
    chosen = None
    if kode_desa is not None:
        chosen = tuple(sorted({_kode_desa(k) for k in kode_desa}))
        if not chosen:
            raise InputError("kode_desa is an empty list: leave it empty (null) to run every village")
        unknown = sorted(set(chosen) - set(villages["kode_desa"]))
        if unknown:
            raise InputError(f"unknown kode_desa {', '.join(unknown)}: not in {reference / 'villages.csv'}")
    return RunRequest(
        run_date=run_date,
        submissions=submissions,
        export_file=export_file,
        reference=reference,
        villages=villages,
        workforce=load_workforce(reference),
        decisions=load_review_decisions(reference),
        kode_desa=chosen,
    )


def _configured(given: Path | None, configured: Path | None, parameter: str, setting: str) -> Path:
    if given is not None:
        return Path(given)
    if configured is not None:
        return configured
    raise InputError(
        f"no {parameter} input: give inputs.{parameter}, or set CAKUPAN_{setting.upper()} "
        f"(or the Prefect Variable cakupan_{setting})"
    )
