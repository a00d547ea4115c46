"""What became of every submitted file and every row in it.

Grain: the file registry has one row per file seen; the row ledger one row per data row read. Every row read ends
in exactly one outcome: accepted, rejected, duplicate_in_file, duplicate_across_villages or superseded.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import NamedTuple

import polars as pl

OUTCOMES = ("accepted", "rejected", "duplicate_in_file", "duplicate_across_villages", "superseded")
FILE_STATUSES = ("loaded", "rejected", "superseded")


class Message(NamedTuple):
    """What a village secretary reads about one reason: what is wrong (pesan) and what to do (perbaikan)."""

    pesan: str
    perbaikan: str


# File-level reasons, in Bahasa Indonesia, as the village feedback shows them. Row reasons have theirs in the suite.
FILE_REASONS: dict[str, Message] = {
    "file_unreadable": Message(
        "Berkas tidak dapat dibaca (rusak, kosong, atau bukan Excel/CSV).",
        "Simpan ulang daftar sebagai .xlsx atau .csv lalu kirim lagi.",
    ),
    "column_missing": Message(
        "Kolom wajib (NIK, Nama, Tanggal Lahir atau TTL) tidak ditemukan.",
        "Gunakan judul kolom yang baku (NIK, Nama, Tanggal Lahir) pada satu baris judul, lalu kirim ulang.",
    ),
    "duplicate_file": Message(
        "Berkas yang sama persis sudah dikirim dengan nama lain; hanya dihitung sekali.",
        "Tidak perlu tindakan.",
    ),
    "too_many_rejected": Message(
        "Terlalu banyak baris ditolak (di atas batas yang ditetapkan); seluruh berkas dikembalikan.",
        "Perbaiki baris yang ditolak lalu kirim ulang daftar lengkap.",
    ),
    "village_unknown": Message(
        "Desa/kelurahan berkas ini tidak dapat ditentukan dari nama berkas maupun isinya.",
        "Awali nama berkas dengan kode desa (mis. 6203012001_...) atau isi kolom Desa/Kelurahan.",
    ),
    "newer_submission": Message(
        "Sudah ada usulan yang lebih baru dari desa ini; berkas ini digantikan.",
        "Tidak perlu tindakan: usulan terbaru yang dipakai.",
    ),
}

# Row outcomes that are not a rule's verdict but still keep a row off the list.
OUTCOME_REASONS: dict[str, Message] = {
    "duplicate_in_file": Message(
        "Orang yang sama (NIK dan nama sama) sudah tercantum di baris lain berkas ini; baris ini tidak dihitung.",
        "Hapus baris ganda.",
    ),
    "duplicate_across_villages": Message(
        "NIK ini sudah diusulkan oleh desa/kelurahan lain lebih dahulu; orang ini dihitung di sana.",
        "Pastikan orang ini memang diusulkan desa Anda; bila ya, hubungi Dinas Sosial.",
    ),
}

_DATE_IN_NAME = re.compile(r"(?<!\d)(\d{4})-?(\d{2})-?(\d{2})(?!\d)", re.ASCII)
_CODE_IN_NAME = re.compile(r"^\s*(\d{2})\.?(\d{2})\.?(\d{2})\.?(\d{4})(?!\d)", re.ASCII)


def date_in_name(name: str) -> datetime | None:
    """The submission date written in a file name (YYYY-MM-DD or YYYYMMDD), if any."""
    for match in _DATE_IN_NAME.finditer(name):
        try:
            return datetime(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            continue
    return None


def code_in_name(name: str) -> str | None:
    """The village code a file name starts with (6203012001 or 62.03.01.2001), dotted."""
    match = _CODE_IN_NAME.match(name)
    return ".".join(match.groups()) if match else None


def decide(
    files: pl.DataFrame, rows: pl.DataFrame, failures: pl.DataFrame, *, max_rejected_share: float
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Decide the status of every file and the outcome of every row.

    files: file_id, source_file, sha256, submitted_at, read_error, file_kode_desa (from the name, may be null).
    rows: row_id, file_id, source_row, nik, kode_desa (the row's village, else the file's), prepared columns.
    failures: row_id, reason, level from the submission suite.
    Returns (files with kode_desa, status, reason; rows with outcome and reasons).

    The newest loaded file of a village is its current list; an identical copy of a file counts once; rows of
    older lists are superseded. Among current lists a NIK is kept once: the first acceptable row of a file, then
    the earliest submission (ties to the lower kode_desa).
    """
    # Lazily, and collected once at the end: a national run decides ten million rows, and each eager step held a
    # copy of them.
    reasons = (
        failures.lazy()
        .group_by("row_id")
        .agg(
            pl.col("reason").unique().cast(pl.String).sort().alias("reasons"),
            (pl.col("level") == "E").any().alias("has_error"),
        )
    )
    checked = (
        rows.lazy()
        .join(reasons, on="row_id", how="left", maintain_order="left")
        .with_columns(pl.col("reasons").fill_null(pl.lit([], pl.List(pl.String))), pl.col("has_error").fill_null(False))
    )

    by_village = (
        checked.filter(pl.col("kode_desa").is_not_null())
        .group_by("file_id", "kode_desa")
        .agg(pl.len().alias("n"))
        .sort(["file_id", "n", "kode_desa"], descending=[False, True, False])
        .unique(subset="file_id", keep="first")
        .select("file_id", pl.col("kode_desa").alias("village_from_rows"))
    )
    rejected = checked.group_by("file_id").agg(pl.col("has_error").mean().alias("rejected_share"))
    village_mode, share = pl.collect_all([by_village, rejected])
    files = (
        files.join(village_mode, on="file_id", how="left")
        .join(share, on="file_id", how="left")
        .with_columns(pl.coalesce("file_kode_desa", "village_from_rows").alias("kode_desa"))
        .sort("submitted_at", "source_file")
    )
    copy_rank = pl.int_range(pl.len()).over("sha256")
    file_reason = (
        pl.when(copy_rank > 0)
        .then(pl.lit("duplicate_file"))
        .when(pl.col("read_error").is_not_null())
        .then(pl.col("read_error"))
        .when(pl.col("kode_desa").is_null())
        .then(pl.lit("village_unknown"))
        .when(pl.col("rejected_share").fill_null(0) > max_rejected_share)
        .then(pl.lit("too_many_rejected"))
    )
    files = files.with_columns(file_reason.alias("reason"))
    loaded = pl.col("reason").is_null()
    current = (
        files.filter(loaded)
        .with_columns(pl.int_range(pl.len()).over("kode_desa").alias("_age"))
        .with_columns((pl.col("_age") == pl.col("_age").max().over("kode_desa")).alias("_is_newest"))
        .select("file_id", "_is_newest")
    )
    files = files.join(current, on="file_id", how="left").with_columns(
        pl.when(pl.col("_is_newest") == False)  # noqa: E712 - null means "not loaded", which is decided above
        .then(pl.lit("newer_submission"))
        .otherwise(pl.col("reason"))
        .alias("reason")
    )
    status = (
        pl.when(pl.col("reason").is_null())
        .then(pl.lit("loaded"))
        .when(pl.col("reason").is_in(["duplicate_file", "newer_submission"]))
        .then(pl.lit("superseded"))
        .otherwise(pl.lit("rejected"))
    )
    files = files.with_columns(status.cast(pl.Enum(FILE_STATUSES)).alias("status")).drop(
        "_is_newest", "village_from_rows"
    )

    placed = checked.join(
        files.lazy().select(
            "file_id",
            pl.col("status").alias("file_status"),
            pl.col("reason").alias("file_reason"),
            pl.col("kode_desa").alias("file_village"),
            "submitted_at",
        ),
        on="file_id",
        how="left",
        maintain_order="left",
    ).with_columns(pl.coalesce("kode_desa", "file_village").alias("kode_desa"))

    candidate = (pl.col("file_status") == "loaded") & ~pl.col("has_error")
    # The first row that could be accepted is kept: a rejected earlier copy does not make a good one a duplicate.
    first_in_file = pl.col("source_row") == pl.when(candidate).then(pl.col("source_row")).min().over("file_id", "nik")
    placed = placed.with_columns(pl.when(candidate).then(first_in_file).otherwise(None).alias("_first_in_file"))
    keeper = candidate & pl.col("_first_in_file")
    order = placed.filter(keeper).sort("submitted_at", "kode_desa", "file_id", "source_row")
    first_across = order.unique(subset="nik", keep="first", maintain_order=True).select(
        "row_id", pl.lit(True).alias("_first_across")
    )
    placed = placed.join(first_across, on="row_id", how="left", maintain_order="left")
    outcome = (
        pl.when(pl.col("file_status") == "superseded")
        .then(pl.lit("superseded"))
        .when((pl.col("file_status") == "rejected") | pl.col("has_error"))
        .then(pl.lit("rejected"))
        .when(~pl.col("_first_in_file"))
        .then(pl.lit("duplicate_in_file"))
        .when(pl.col("_first_across").is_null())
        .then(pl.lit("duplicate_across_villages"))
        .otherwise(pl.lit("accepted"))
    )
    # Rows of a superseded file were never the village's list: their own problems are not reported back.
    row_reasons = (
        pl.when(pl.col("file_status") == "superseded")
        .then(pl.lit([], pl.List(pl.String)))
        # Without a required column the row-level checks only echo the missing column; the file reason says it.
        .when(pl.col("file_reason") == "column_missing")
        .then(pl.concat_list(pl.col("file_reason").cast(pl.String)))
        .when(pl.col("file_status") == "rejected")
        .then(pl.concat_list("reasons", pl.col("file_reason").cast(pl.String)).list.unique().list.sort())
        .otherwise(pl.col("reasons"))
    )
    decided = (
        placed.with_columns(outcome.cast(pl.Enum(OUTCOMES)).alias("outcome"), row_reasons.alias("reasons"))
        .drop("_first_in_file", "_first_across", "has_error", "file_status", "file_reason", "file_village")
        .collect()
    )
    return files, decided
