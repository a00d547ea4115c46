"""Feedback to the villages: which rows of their lists were not taken, or were taken with a warning, and why.

Grain: one workbook per sending village with at least one rejected, flagged or duplicate row or a rejected file,
at ``restricted/feedback/run_date=YYYY-MM-DD/<kode_desa>_<nama_desa>.xlsx``; files whose village cannot be told go
to ``desa_tidak_diketahui.xlsx`` for the Dinas to follow up. Everything a village reads is in Bahasa Indonesia:
row problems come from the suite's meta (``pesan``/``perbaikan``), file problems from
``cakupan.submissions.FILE_REASONS``. Rows are shown with their values exactly as the village typed them, so the
village can find and fix them; any cell text that a spreadsheet could take for a formula is neutralised.

The frames are shaped here with polars; only the workbook writer touches files.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import xlsxwriter

from cakupan.headers import SUBMISSION_BIRTH_DATE_ANY, SUBMISSION_REQUIRED
from cakupan.submissions import FILE_REASONS, OUTCOME_REASONS

# The values as given, under the header a village template uses.
VALUE_LABELS: dict[str, str] = {
    "nik": "NIK",
    "nama": "Nama",
    "tempat_lahir": "Tempat Lahir",
    "tanggal_lahir": "Tanggal Lahir",
    "ttl": "TTL",
    "jenis_kelamin": "Jenis Kelamin",
    "desa": "Desa/Kelurahan",
    "kecamatan": "Kecamatan",
    "pekerjaan": "Pekerjaan",
    "no_hp": "No HP",
    "alamat": "Alamat",
}
OUTCOME_LABELS: dict[str, str] = {
    "rejected": "Ditolak",
    "accepted": "Diterima, mohon diperiksa",
    "duplicate_in_file": "Ganda dalam berkas",
    "duplicate_across_villages": "Sudah diusulkan desa lain",
}
FILE_STATUS_LABELS: dict[str, str] = {"loaded": "Dipakai", "rejected": "Ditolak", "superseded": "Digantikan"}
UNKNOWN_VILLAGE_FILE = "desa_tidak_diketahui.xlsx"

# A cell starting with one of these is a formula (or becomes one when the text is pasted or saved as CSV).
_FORMULA_START = r"^[=+\-@\t\r]"
_EXCEL_CELL_MAX = 32_767

_ROW_SCHEMA = {
    "kode_desa": pl.String,
    "source_file": pl.String,
    "source_row": pl.Int64,
    **{name: pl.String for name in VALUE_LABELS},
    "outcome": pl.String,
    "kode_masalah": pl.String,
    "masalah": pl.String,
    "perbaikan": pl.String,
}


def neutralise(text: pl.Expr) -> pl.Expr:
    """Cell text as a spreadsheet shows it and never evaluates: a leading ``'`` before =, +, -, @, tab or CR.

    The workbook writes every value as a string already; the apostrophe also protects the text when a village
    copies it into another sheet or saves the workbook as CSV.
    """
    return text.str.slice(0, _EXCEL_CELL_MAX - 1).str.replace(_FORMULA_START, "'$0")


# The rows a village has to look at: rejected, duplicate, or accepted with a warning; not those of superseded files.
LISTED = (pl.col("outcome") != "superseded") & ((pl.col("outcome") != "accepted") | (pl.col("reasons").list.len() > 0))


def _given(columns: Sequence[str]) -> dict[str, str]:
    """The column holding each value as the village gave it: ``<name>_given`` where the row was prepared."""
    return {name: f"{name}_given" if f"{name}_given" in columns else name for name in VALUE_LABELS}


def feedback_columns(columns: Sequence[str]) -> list[str]:
    """What ``feedback_rows`` reads of rows with these columns (a national run's checked rows have 47)."""
    return ["row_id", "file_id", "source_file", "source_row", "outcome", "reasons", *_given(columns).values()]


def feedback_rows(rows: pl.DataFrame, files: pl.DataFrame, failures: pl.DataFrame) -> pl.DataFrame:
    """One row per submitted row a village has to look at, with its problems and what to do.

    rows: the decided row ledger (row_id, file_id, source_file, source_row, the values as given in ``*_given``
        columns where prepared, outcome, reasons). files: the decided registry (file_id, kode_desa). failures:
        the suite's failures (row_id, reason, level, pesan, perbaikan).
    A row is listed when it was rejected, is a duplicate, or was accepted with a warning; rows of superseded
    files are not (that list is no longer the village's). ``kode_desa`` is the village that sent the file.
    Columns: kode_desa, source_file, source_row, the values as given, outcome, kode_masalah (codes),
    masalah and perbaikan (one line per problem).
    """
    listed = rows.filter(LISTED)
    given = _given(rows.columns)
    listed = listed.join(files.select("file_id", pl.col("kode_desa").alias("_sender")), on="file_id", how="left")

    codes = listed.select("row_id", pl.col("reasons").alias("reason")).explode("reason").drop_nulls("reason")
    file_messages = pl.DataFrame(
        {
            "reason": list(FILE_REASONS),
            "_file_pesan": [m.pesan for m in FILE_REASONS.values()],
            "_file_perbaikan": [m.perbaikan for m in FILE_REASONS.values()],
        }
    )
    by_rule = (
        codes.join(
            failures.select("row_id", pl.col("reason", "level", "pesan", "perbaikan").cast(pl.String)),
            on=["row_id", "reason"],
            how="left",
        )
        .join(file_messages, on="reason", how="left")
        .select(
            "row_id",
            "reason",
            pl.coalesce("pesan", "_file_pesan", pl.col("reason")).alias("pesan"),
            pl.coalesce("perbaikan", "_file_perbaikan", pl.lit("")).alias("perbaikan"),
            # File problems first, then errors, then warnings: the first line says why the row was not taken.
            pl.when(pl.col("_file_pesan").is_not_null())
            .then(0)
            .when(pl.col("level") == "W")
            .then(3)
            .otherwise(1)
            .alias("_rank"),
        )
    )
    by_outcome = (
        listed.filter(pl.col("outcome").cast(pl.String).is_in(list(OUTCOME_REASONS)))
        .select("row_id", pl.col("outcome").cast(pl.String).alias("reason"))
        .with_columns(
            pl.col("reason").replace_strict({k: m.pesan for k, m in OUTCOME_REASONS.items()}).alias("pesan"),
            pl.col("reason").replace_strict({k: m.perbaikan for k, m in OUTCOME_REASONS.items()}).alias("perbaikan"),
            pl.lit(2).alias("_rank"),
        )
    )
    messages = (
        pl.concat([by_rule, by_outcome.select(by_rule.columns)])
        .unique()
        .sort("row_id", "_rank", "reason", "pesan")
        .group_by("row_id", maintain_order=True)
        .agg(
            pl.col("reason").unique(maintain_order=True).str.join(", ").alias("kode_masalah"),
            pl.col("pesan").str.join("\n").alias("masalah"),
            pl.col("perbaikan").filter(pl.col("perbaikan") != "").unique(maintain_order=True).str.join("\n"),
        )
    )
    return (
        listed.join(messages, on="row_id", how="left")
        .select(
            pl.col("_sender").alias("kode_desa"),
            "source_file",
            "source_row",
            *(pl.col(column).alias(name) for name, column in given.items()),
            pl.col("outcome").cast(pl.String),
            "kode_masalah",
            "masalah",
            "perbaikan",
        )
        .cast(_ROW_SCHEMA)  # type: ignore[arg-type]
        .sort("kode_desa", "source_file", "source_row", nulls_last=True)
    )


def feedback_files(files: pl.DataFrame) -> pl.DataFrame:
    """Every file of the run with what became of it, in words, for the file sheet of each village's workbook.

    files: the decided registry (source_file, kode_desa, submitted_at, status, reason, rejected_share, headers
    as ``canonical=header`` pairs). Columns: kode_desa, source_file, submitted_at, status, status_label, reason,
    pesan, perbaikan, keterangan (the missing columns, or the share of rejected rows).
    """
    present = pl.col("headers").fill_null("")

    def has(name: str) -> pl.Expr:
        return present.str.contains(rf"(?:^|, ){name}=")

    labels = {"nik": "NIK", "nama": "Nama"}
    missing = pl.concat_list(
        *(pl.when(~has(name)).then(pl.lit(labels[name])) for name in SUBMISSION_REQUIRED),
        pl.when(~pl.any_horizontal(has(name) for name in SUBMISSION_BIRTH_DATE_ANY)).then(pl.lit("Tanggal Lahir/TTL")),
    ).list.drop_nulls()
    share = (pl.col("rejected_share") * 100).round(0).cast(pl.Int64).cast(pl.String)
    keterangan = (
        pl.when(pl.col("reason") == "column_missing")
        .then(pl.lit("Kolom tidak ditemukan: ") + missing.list.join(", "))
        .when(pl.col("reason") == "too_many_rejected")
        .then(share + pl.lit("% baris ditolak"))
    )
    reason = pl.col("reason").cast(pl.String)
    return files.select(
        "kode_desa",
        "source_file",
        "submitted_at",
        pl.col("status").cast(pl.String),
        pl.col("status").cast(pl.String).replace_strict(FILE_STATUS_LABELS).alias("status_label"),
        reason.alias("reason"),
        reason.replace_strict({k: m.pesan for k, m in FILE_REASONS.items()}, default=reason).alias("pesan"),
        reason.replace_strict({k: m.perbaikan for k, m in FILE_REASONS.items()}, default=None).alias("perbaikan"),
        keterangan.alias("keterangan"),
    ).sort("kode_desa", "submitted_at", "source_file", nulls_last=True)


def feedback_path(folder: Path, kode_desa: str | None, nama_desa: str | None) -> Path:
    """``folder/<kode_desa>_<nama_desa>.xlsx`` (the name with letters and digits only), or the unknown-village file."""
    if kode_desa is None:
        return folder / UNKNOWN_VILLAGE_FILE
    name = re.sub(r"[^0-9A-Za-z]+", "_", (nama_desa or "").replace("'", "")).strip("_")
    return folder / (f"{kode_desa}_{name}.xlsx" if name else f"{kode_desa}.xlsx")


def write_feedback(
    rows: pl.DataFrame, files: pl.DataFrame, villages: pl.DataFrame, folder: Path, run_date: date
) -> list[Path]:
    """Write one workbook per village that has something to fix; returns the paths written.

    rows: ``feedback_rows``; files: ``feedback_files``; villages: kode_desa, nama_desa, nama_kecamatan.
    A village gets a workbook when it has a listed row or a rejected file. The bytes depend only on the inputs
    and the run date, so a rerun writes the same files.
    """
    senders = set(rows["kode_desa"].to_list()) | set(
        files.filter(pl.col("status") == "rejected")["kode_desa"].to_list()
    )
    if not senders:
        return []
    folder.mkdir(parents=True, exist_ok=True)
    names = {
        r["kode_desa"]: r for r in villages.select("kode_desa", "nama_desa", "nama_kecamatan").iter_rows(named=True)
    }
    text_rows = rows.with_columns(
        pl.col("outcome").replace_strict(OUTCOME_LABELS, default=pl.col("outcome"))
    ).with_columns(
        neutralise(pl.col(name)) for name in rows.columns if rows.schema[name] == pl.String and name != "kode_desa"
    )
    text_files = files.with_columns(
        neutralise(pl.col("source_file")), pl.col("submitted_at").dt.strftime("%d-%m-%Y %H:%M")
    )
    # Each village's rows are a slice of the frame sorted by village (a polars query per village and sheet cost
    # more than the sheet), made Python rows only while its workbook is written: all of a national run's at
    # once took gigabytes.
    rows_of, files_of = _by_village(text_rows), _by_village(text_files)
    written = []
    for kode in sorted(senders, key=lambda k: (k is None, k or "")):
        village = names.get(kode, {})
        path = feedback_path(folder, kode, village.get("nama_desa"))
        _write_workbook(path, rows_of(kode), files_of(kode), title=_title(kode, village), run_date=run_date)
        written.append(path)
    return written


def write_feedback_from(
    rows: str | Path, files: str | Path, villages: pl.DataFrame, folder: Path, run_date: date
) -> list[Path]:
    """``write_feedback`` of ``feedback_rows`` and ``feedback_files`` saved as Parquet at ``rows`` and ``files``."""
    return write_feedback(pl.read_parquet(rows), pl.read_parquet(files), villages, folder, run_date)


def _by_village(frame: pl.DataFrame) -> Callable[[str | None], list[dict[str, Any]]]:
    """The rows of one kode_desa (None: those without one), in their order in ``frame``."""
    ordered = frame.sort("kode_desa", maintain_order=True, nulls_last=True)
    counts = ordered.group_by("kode_desa", maintain_order=True).len()
    starts = counts["len"].cum_sum() - counts["len"]
    where = {kode: (start, n) for kode, start, n in zip(counts["kode_desa"], starts, counts["len"], strict=True)}

    def rows(kode: str | None) -> list[dict[str, Any]]:
        start, n = where.get(kode, (0, 0))
        return ordered.slice(start, n).to_dicts()

    return rows


def _title(kode: str | None, village: dict[str, str]) -> str:
    if kode is None:
        return "Berkas usulan yang desa/kelurahannya tidak diketahui"
    return f"Desa/Kelurahan {village.get('nama_desa', '')} ({kode}), Kecamatan {village.get('nama_kecamatan', '')}"


_INTRO = (
    "Daftar ini berisi baris usulan pekerja rentan yang ditolak, ganda, atau perlu diperiksa. "
    "Perbaiki pada daftar desa, lalu kirim ulang DAFTAR LENGKAP (bukan hanya baris ini): "
    "usulan terbaru menggantikan usulan sebelumnya."
)


def _write_workbook(
    path: Path, rows: list[dict[str, Any]], files: list[dict[str, Any]], *, title: str, run_date: date
) -> None:
    options = {"in_memory": True, "strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False}
    workbook = xlsxwriter.Workbook(str(path), options)
    created = datetime(run_date.year, run_date.month, run_date.day)
    workbook.set_properties({"title": f"Umpan balik usulan pekerja rentan {run_date:%d-%m-%Y}", "created": created})
    bold = workbook.add_format({"bold": True})
    heading = workbook.add_format({"bold": True, "font_size": 13})
    header = workbook.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True, "valign": "top"})
    wrap = workbook.add_format({"text_wrap": True, "valign": "top"})
    cell = workbook.add_format({"valign": "top"})

    sheet = workbook.add_worksheet("Baris bermasalah")
    sheet.write_string(0, 0, "Umpan balik usulan pekerja rentan", heading)
    sheet.write_string(1, 0, title, bold)
    sheet.write_string(2, 0, f"Tanggal pemeriksaan: {run_date:%d-%m-%Y}")
    sheet.write_string(3, 0, _INTRO)
    values = [name for name in VALUE_LABELS if any(row[name] is not None for row in rows)]
    columns = [
        ("source_file", "Berkas", 28),
        ("source_row", "Baris", 7),
        *((name, VALUE_LABELS[name], 20) for name in values),
        ("outcome", "Status", 22),
        ("kode_masalah", "Kode masalah", 22),
        ("masalah", "Masalah", 60),
        ("perbaikan", "Yang harus dilakukan", 60),
    ]
    top = 5
    formats = [wrap if width >= 60 else cell for _, _, width in columns]
    for position, (_, label, width) in enumerate(columns):
        sheet.write_string(top, position, label, header)
        sheet.set_column(position, position, width, formats[position])
    if not rows:
        sheet.write_string(top + 1, 0, "Tidak ada baris yang dapat dibaca; lihat lembar Berkas.")
    for offset, row in enumerate(rows, start=top + 1):
        for position, (name, _, _) in enumerate(columns):
            value = row[name]
            if value is None:
                continue
            if isinstance(value, int):
                sheet.write_number(offset, position, value, cell)
            else:
                sheet.write_string(offset, position, value, formats[position])
    sheet.freeze_panes(top + 1, 2)
    sheet.autofilter(top, 0, top + max(len(rows), 1), len(columns) - 1)

    file_sheet = workbook.add_worksheet("Berkas")
    file_columns = [
        ("source_file", "Berkas", 40),
        ("submitted_at", "Tanggal berkas", 18),
        ("status_label", "Status", 12),
        ("pesan", "Keterangan", 60),
        ("perbaikan", "Yang harus dilakukan", 60),
        ("keterangan", "Rincian", 30),
    ]
    file_sheet.write_string(0, 0, "Berkas yang diterima Dinas Sosial pada pemeriksaan ini", heading)
    file_sheet.write_string(1, 0, title, bold)
    file_formats = [wrap if width >= 60 else cell for _, _, width in file_columns]
    for position, (_, label, width) in enumerate(file_columns):
        file_sheet.write_string(3, position, label, header)
        file_sheet.set_column(position, position, width, file_formats[position])
    for offset, file in enumerate(files, start=4):
        for position, (name, _, _) in enumerate(file_columns):
            if file[name] is not None:
                file_sheet.write_string(offset, position, file[name], file_formats[position])
    workbook.close()
