"""Small typed summaries that pass between tasks; frames travel as Parquet files in the run's work folder."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from upath import UPath


@dataclass(frozen=True)
class RunPaths:
    """Where one run writes: ``staging`` mirrors the data tree until the run commits; ``work`` is scratch that
    every process of the run reaches (a folder or an fsspec URL, ``cakupan.partitions.location``)."""

    data_dir: Path
    staging: Path
    work: UPath

    @property
    def own(self) -> Path:
        """Scratch of the flow's process alone, on its machine: the run's folder around ``staging``."""
        return self.staging.parent


@dataclass(frozen=True)
class IngestSummary:
    files_seen: int
    rows_read: int
    raw_rows: UPath
    files: UPath


@dataclass(frozen=True)
class ValidationSummary:
    rows_read: int
    outcomes: dict[str, int]
    file_statuses: dict[str, int]
    rejected_files: list[tuple[str, str]]
    persons: UPath
    rules_version: str
    suite_version: str
    # Where the run's Data Docs and village feedback will be once published (paths under the data dir).
    data_docs: Path | None = None
    data_docs_page: Path | None = None
    feedback: Path | None = None


@dataclass(frozen=True)
class ExportSummary:
    export_file: Path
    export_sha256: str
    rows: int
    duplicate_niks: int
    dropped_rows: int
    members_active_total: int
    members: UPath


@dataclass(frozen=True)
class ReconcileSummary:
    statuses: dict[str, int]
    persons: Path


@dataclass(frozen=True)
class RunSummary:
    """What a completed run did, for the CLI, the artifact and the warehouse's pipeline_runs."""

    run_id: str
    run_date: date
    rows_read: int
    outcomes: dict[str, int]
    file_statuses: dict[str, int]
    rejected_files: list[tuple[str, str]]
    statuses: dict[str, int]
    kuota_total: int
    active: int
    target_attainment: float | None
    members_active_total: int
    penduduk_bekerja: int | None
    workforce_coverage: float | None
    export_file: str
    outputs: dict[str, str] = field(default_factory=dict)
