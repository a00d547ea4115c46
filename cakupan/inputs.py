"""Checks that a run can start at all, made before any work so an operator gets one clear line, not a traceback."""

from __future__ import annotations

import hashlib
import os
from datetime import date, datetime
from pathlib import Path

from cakupan.errors import InputError
from cakupan.submissions import date_in_name

EXPORT_SUFFIXES = {".csv", ".xlsx", ".xls", ".txt"}


def parse_run_date(text: str) -> date:
    """A run date given as YYYY-MM-DD."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"bad run date {text!r}: expected YYYY-MM-DD, e.g. 2026-11-28") from None


def submissions_folder(path: Path) -> Path:
    """The inbox of village files: it must be a readable folder (it may be empty)."""
    if not path.exists():
        raise InputError(f"submissions folder {path} does not exist")
    if not path.is_dir():
        raise InputError(f"submissions path {path} is not a folder")
    if not os.access(path, os.R_OK | os.X_OK):
        raise InputError(f"submissions folder {path} is not readable")
    return path


def choose_export(path: Path, run_date: date) -> Path:
    """The BPJS export to use: the file itself, or in a folder the newest export dated on or before the run date.

    An export is dated by the date in its file name (YYYY-MM-DD or YYYYMMDD), else by its modification time.
    """
    if path.is_file():
        return path
    if not path.is_dir():
        raise InputError(f"BPJS export {path} does not exist")
    dated: list[tuple[date, str, Path]] = []
    for candidate in path.iterdir():
        if candidate.is_file() and candidate.suffix.lower() in EXPORT_SUFFIXES and not candidate.name.startswith("."):
            named = date_in_name(candidate.name)
            when = named.date() if named else datetime.fromtimestamp(candidate.stat().st_mtime).date()
            if when <= run_date:
                dated.append((when, candidate.name, candidate))
    if not dated:
        raise InputError(f"no BPJS export dated on or before {run_date} in {path}")
    return max(dated)[2]


def file_sha256(path: Path) -> str:
    """The fingerprint of a file's bytes: two files with the same sha256 are one submission."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
