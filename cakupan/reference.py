"""The office's reference data: its villages with their kuota, and the regency's workforce."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from cakupan.errors import InputError
from cakupan.reconcile import DECISIONS, DECISIONS_SCHEMA

VILLAGE_COLUMNS = ("kode_desa", "nama_desa", "kode_kecamatan", "nama_kecamatan", "kuota")
WORKFORCE_COLUMNS = ("kode", "tahun", "penduduk_bekerja", "sumber")


def _read_csv(path: Path, columns: tuple[str, ...]) -> pl.DataFrame:
    try:
        frame = pl.read_csv(path, infer_schema=False, encoding="utf8-lossy")
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise InputError(f"cannot read {path}: {str(exc).splitlines()[0]}") from None
    frame = frame.rename({c: c.strip().lower() for c in frame.columns})
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(f"{path} lacks column(s) {', '.join(missing)} (expected {', '.join(columns)})")
    return frame.select(pl.col(c).str.strip_chars() for c in columns)


def _integers(frame: pl.DataFrame, path: Path, columns: tuple[str, ...]) -> pl.DataFrame:
    for column in columns:
        parsed = frame[column].cast(pl.Int64, strict=False)
        bad = frame.filter(parsed.is_null() | (parsed < 0))
        if bad.height:
            raise InputError(f"{path}: column {column} must be a whole number >= 0, got {bad[column][0]!r}")
    return frame.with_columns(pl.col(c).cast(pl.Int64) for c in columns)


def load_villages(reference_dir: Path) -> pl.DataFrame:
    """villages.csv: one row per desa/kelurahan with its kecamatan and kuota (the number of places it may propose)."""
    path = reference_dir / "villages.csv"
    if not path.is_file():
        raise InputError(f"reference file {path} not found")
    frame = _integers(_read_csv(path, VILLAGE_COLUMNS), path, ("kuota",))
    if frame.is_empty():
        raise InputError(f"{path} lists no villages")
    code = r"^\d{2}\.\d{2}\.\d{2}\.\d{4}$"
    bad = frame.filter(~pl.col("kode_desa").str.contains(code).fill_null(False))
    if bad.height:
        raise InputError(f"{path}: kode_desa {bad['kode_desa'][0]!r} is not a Kemendagri code like 62.03.01.2001")
    dup = frame.filter(pl.col("kode_desa").is_duplicated())
    if dup.height:
        raise InputError(f"{path}: kode_desa {dup['kode_desa'][0]} is listed twice")
    mismatch = frame.filter(pl.col("kode_desa").str.slice(0, 8) != pl.col("kode_kecamatan"))
    if mismatch.height:
        raise InputError(f"{path}: {mismatch['kode_desa'][0]} is not inside kecamatan {mismatch['kode_kecamatan'][0]}")
    return frame.sort("kode_desa")


def load_workforce(reference_dir: Path) -> pl.DataFrame | None:
    """workforce.csv (optional): penduduk bekerja per region and year, with its source (e.g. BPS Sakernas)."""
    path = reference_dir / "workforce.csv"
    if not path.is_file():
        return None
    return _integers(_read_csv(path, WORKFORCE_COLUMNS), path, ("tahun", "penduduk_bekerja"))


REVIEW_DECISION_COLUMNS = ("nik", "kpj", "decision", "decided_by", "decided_at")


def load_review_decisions(reference_dir: Path) -> pl.DataFrame | None:
    """review_decisions.csv (optional): a reviewer's verdict on a pair from the review queue.

    One row per (nik of the listed person, kpj of the BPJS member): decision ``same_person`` or
    ``different_person`` (any case), who decided and when (``YYYY-MM-DD``, optionally with a time). When a pair is
    decided twice the later decision holds. Returns None when the file is absent; raises InputError on a bad row.
    """
    path = reference_dir / "review_decisions.csv"
    if not path.is_file():
        return None
    frame = _read_csv(path, REVIEW_DECISION_COLUMNS).with_columns(
        pl.col("nik", "kpj").str.replace_all(r"[\s.'`]", ""),
        pl.col("decision").str.to_lowercase(),
        pl.coalesce(
            pl.col("decided_at").str.strptime(pl.Datetime("us"), fmt, strict=False)
            for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M")
        )
        .fill_null(pl.col("decided_at").str.strptime(pl.Date, "%Y-%m-%d", strict=False).cast(pl.Datetime("us")))
        .alias("decided_at_parsed"),
    )
    # Line numbers as a spreadsheet shows them: the header is line 1.
    frame = frame.with_row_index("line", offset=2)
    checks = (
        (~pl.col("nik").str.contains(r"^\d{16}$").fill_null(False), "nik", "is not 16 digits"),
        (~pl.col("kpj").str.contains(r"^\d{11}$").fill_null(False), "kpj", "is not 11 digits"),
        (~pl.col("decision").is_in(DECISIONS).fill_null(False), "decision", f"is not one of {', '.join(DECISIONS)}"),
        (pl.col("decided_by").fill_null("") == "", "decided_by", "is empty"),
        (pl.col("decided_at_parsed").is_null(), "decided_at", "is not a date like 2026-11-27"),
    )
    for bad, column, problem in checks:
        first = frame.filter(bad).head(1)
        if first.height:
            value = first[column].item() or ""
            raise InputError(f"{path} line {first['line'].item()}: {column} {value!r} {problem}")
    clash = frame.filter(pl.col("decision").n_unique().over("nik", "kpj", "decided_at_parsed") > 1).head(1)
    if clash.height:
        raise InputError(
            f"{path}: nik {clash['nik'].item()} kpj {clash['kpj'].item()} is decided both ways at the same time"
        )
    return (
        frame.select(*REVIEW_DECISION_COLUMNS[:-1], pl.col("decided_at_parsed").alias("decided_at"))
        .cast(DECISIONS_SCHEMA)  # type: ignore[arg-type]
        .sort("decided_at")
        .unique(subset=["nik", "kpj"], keep="last", maintain_order=True)
        .sort("nik", "kpj")
    )
