"""Work lists for people, not analysts: the review queue, the BPJS registration list and the grace list.

Each list is a pure function of the reconciliation (``cakupan.reconcile.reconcile``) and the villages reference;
``write_xlsx`` and ``write_csv`` are the only functions here that touch a file. Every list holds personal data and is
written under ``restricted/`` only.

- review queue: one row per identity_conflict or probable_match, both sides of the pair side by side, for a person
  to decide same_person / different_person (read back from ``reference/review_decisions.csv`` on the next run);
- registration list: one row per not_enrolled person, in a layout a BPJS Ketenagakerjaan branch can bulk-register
  as BPU (bukan penerima upah) members of the regency's collective (wadah);
- grace list: one row per person in grace, whose protection ends for good at ``grace_end`` unless the arrears are
  paid, soonest first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, time
from pathlib import Path

import polars as pl
import xlsxwriter

from cakupan.reconcile import DECISIONS

REVIEW_STATUSES = ("identity_conflict", "probable_match")
REVIEW_COLUMNS = (
    "status",
    "reason",
    "nik",
    "nama",
    "tgl_lahir",
    "jenis_kelamin",
    "kode_desa",
    "nama_desa",
    "source_file",
    "source_row",
    "kpj",
    "member_nik",
    "member_nama",
    "member_tgl_lahir",
    "state",
    "pembayar",
    "name_similarity",
    "decision",
    "decided_by",
    "decided_at",
)
# Column order and headers of the registration list. BPJS Ketenagakerjaan publishes no bulk template for BPU
# collectives (README, "Registration list"): these are the fields its BPU registration asks for, in the header
# style of the village lists (domain.md §6), so a branch can map them onto whatever upload form it uses.
REGISTRATION_COLUMNS = (
    "NO",
    "NIK",
    "NAMA",
    "TEMPAT_LAHIR",
    "TGL_LAHIR",
    "JENIS_KELAMIN",
    "ALAMAT",
    "DESA_KELURAHAN",
    "KODE_DESA",
    "KECAMATAN",
    "KABUPATEN_KOTA",
    "PEKERJAAN",
    "NO_HP",
    "EMAIL",
    "PROGRAM",
    "CATATAN",
)
GRACE_COLUMNS = (
    "NO",
    "NIK",
    "KPJ",
    "NAMA",
    "TGL_LAHIR",
    "KODE_DESA",
    "DESA_KELURAHAN",
    "KECAMATAN",
    "PEMBAYAR",
    "DIBAYAR_PEMKAB",
    "TGL_BERAKHIR",
    "AKHIR_MASA_GRACE",
    "SISA_HARI",
    "NO_HP",
)
# Identifiers and phone numbers stay text in every output: as numbers Excel would keep 15 digits and drop zeros.
TEXT_COLUMNS = frozenset({"nik", "kpj", "member_nik", "NIK", "KPJ", "NO_HP", "KODE_DESA", "kode_desa"})


def _optional(frame: pl.DataFrame, column: str, dtype: pl.DataType) -> pl.Expr:
    """A column that older person frames may lack (source_row, birth_place, ...) reads as null."""
    return pl.col(column) if column in frame.columns else pl.lit(None, dtype=dtype).alias(column)


def _with_village_names(result: pl.DataFrame, villages: pl.DataFrame) -> pl.DataFrame:
    return result.join(villages.select("kode_desa", "nama_desa", "nama_kecamatan"), on="kode_desa", how="left")


def _nik_edit(person: str, member: str) -> pl.Expr:
    """Where two one-edit-apart NIKs differ, in words: 'digit 14' or 'digit 13-14 tertukar' (1-based)."""
    differs = [pl.col(person).str.slice(i, 1) != pl.col(member).str.slice(i, 1) for i in range(16)]
    first = pl.concat_list(*(pl.when(d).then(pl.lit(i + 1)) for i, d in enumerate(differs))).list.drop_nulls()
    return (
        pl.when(first.list.len() == 1)
        .then(pl.format("beda satu digit (digit ke-{})", first.list.first()))
        .otherwise(pl.format("dua digit bertukar (digit ke-{} dan {})", first.list.first(), first.list.last()))
    )


def review_queue(result: pl.DataFrame, villages: pl.DataFrame, *, name_match_min: float) -> pl.DataFrame:
    """One row per pair a person must decide on: the listed row and the BPJS member side by side, with the reason.

    Grain: one row per identity_conflict or probable_match person; key ``nik`` (with ``kpj``, the pair a decision
    names). ``decision``, ``decided_by`` and ``decided_at`` are left empty for the reviewer.
    """
    similarity = pl.col("name_similarity").round(2).cast(pl.String)
    reason = (
        pl.when(pl.col("status") == "identity_conflict")
        .then(
            pl.format(
                "NIK sama, nama berbeda (kemiripan {} < {}): NIK mungkin milik orang lain atau salah ketik",
                similarity,
                pl.lit(f"{name_match_min:.2f}"),
            )
        )
        .otherwise(
            pl.format(
                "NIK tidak terdaftar; peserta BPJS dengan NIK {}, tanggal lahir sama, nama mirip ({})",
                _nik_edit("nik", "member_nik"),
                similarity,
            )
        )
    )
    queue = _with_village_names(result.filter(pl.col("status").cast(pl.String).is_in(REVIEW_STATUSES)), villages)
    return queue.select(
        pl.col("status").cast(pl.String),
        reason.alias("reason"),
        "nik",
        "nama",
        pl.col("birth_date").alias("tgl_lahir"),
        pl.col("sex").alias("jenis_kelamin"),
        "kode_desa",
        "nama_desa",
        _optional(queue, "source_file", pl.String()),
        _optional(queue, "source_row", pl.Int64()),
        "kpj",
        "member_nik",
        "member_nama",
        pl.col("member_birth_date").alias("member_tgl_lahir"),
        "state",
        "pembayar",
        "name_similarity",
        pl.lit(None, dtype=pl.String).alias("decision"),
        pl.lit(None, dtype=pl.String).alias("decided_by"),
        pl.lit(None, dtype=pl.String).alias("decided_at"),
    ).sort("status", "kode_desa", "nik")


def _phone(expr: pl.Expr) -> pl.Expr:
    """The phone number as given, without the spaces, dots and dashes that split it up."""
    return expr.str.replace_all(r"[\s.\-]", "")


def registration_list(result: pl.DataFrame, villages: pl.DataFrame, *, region_name: str) -> pl.DataFrame:
    """The not_enrolled people, laid out for a BPJS branch to register them as BPU members of the regency.

    Grain: one row per not_enrolled person; key ``NIK``. Sorted by village, then name. PROGRAM is JKK and JKM, the
    two programmes the regency pays for pekerja rentan.
    """
    people = _with_village_names(result.filter(pl.col("status") == "not_enrolled"), villages)
    note = pl.when(pl.col("decision") == "different_person").then(
        pl.format("hasil review: bukan peserta KPJ {}", pl.col("decision_kpj"))
    )
    return people.sort("kode_desa", "nama", "nik").select(
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("NO"),
        pl.col("nik").alias("NIK"),
        pl.col("nama").alias("NAMA"),
        _optional(people, "birth_place", pl.String()).alias("TEMPAT_LAHIR"),
        pl.col("birth_date").alias("TGL_LAHIR"),
        pl.col("sex").alias("JENIS_KELAMIN"),
        _optional(people, "alamat", pl.String()).alias("ALAMAT"),
        pl.col("nama_desa").str.to_uppercase().alias("DESA_KELURAHAN"),
        pl.col("kode_desa").alias("KODE_DESA"),
        pl.col("nama_kecamatan").str.to_uppercase().alias("KECAMATAN"),
        pl.lit(region_name.upper()).alias("KABUPATEN_KOTA"),
        _optional(people, "pekerjaan", pl.String()).alias("PEKERJAAN"),
        _phone(_optional(people, "no_hp", pl.String())).alias("NO_HP"),
        pl.lit(None, dtype=pl.String).alias("EMAIL"),
        pl.lit("JKK, JKM").alias("PROGRAM"),
        note.alias("CATATAN"),
    )


def grace_list(result: pl.DataFrame, villages: pl.DataFrame, run_date: date) -> pl.DataFrame:
    """People in grace: protection has ended and lapses for good at AKHIR_MASA_GRACE unless the arrears are paid.

    Grain: one row per listed person in grace; key ``NIK``. Sorted by AKHIR_MASA_GRACE (most urgent first), then
    village and name. SISA_HARI counts the days from the run date to the end of grace.
    """
    people = _with_village_names(result.filter(pl.col("status") == "grace"), villages)
    return people.sort("grace_end", "kode_desa", "nama", "nik").select(
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("NO"),
        pl.col("nik").alias("NIK"),
        pl.col("kpj").alias("KPJ"),
        pl.col("nama").alias("NAMA"),
        pl.col("birth_date").alias("TGL_LAHIR"),
        pl.col("kode_desa").alias("KODE_DESA"),
        pl.col("nama_desa").str.to_uppercase().alias("DESA_KELURAHAN"),
        pl.col("nama_kecamatan").str.to_uppercase().alias("KECAMATAN"),
        pl.col("pembayar").alias("PEMBAYAR"),
        pl.when(pl.col("paid_by_regency")).then(pl.lit("YA")).otherwise(pl.lit("TIDAK")).alias("DIBAYAR_PEMKAB"),
        pl.col("paid_through").alias("TGL_BERAKHIR"),
        pl.col("grace_end").alias("AKHIR_MASA_GRACE"),
        (pl.col("grace_end") - pl.lit(run_date)).dt.total_days().alias("SISA_HARI"),
        _phone(_optional(people, "no_hp", pl.String())).alias("NO_HP"),
    )


_NUMERIC_TEXT = r"^[+\-]?[0-9 ().\-]*$"


def neutralise_formulas(frame: pl.DataFrame) -> pl.DataFrame:
    """Text that a spreadsheet would run as a formula (=, +, -, @, tab, CR first) gets a leading apostrophe.

    A village list is typed by hand and a cell such as ``=HYPERLINK(...)`` must not become live in an office's
    Excel. Phone-like text (``+62 812-...``) is left alone: it can only ever be a number.
    """
    risky = pl.col(pl.String).str.contains(r"^[=+\-@\t\r]") & ~pl.col(pl.String).str.contains(_NUMERIC_TEXT)
    text = pl.col(pl.String)
    return frame.with_columns(pl.when(risky.fill_null(False)).then(text.str.replace(r"^", "'")).otherwise(text))


def write_csv(frame: pl.DataFrame, path: Path) -> Path:
    """UTF-8 CSV with dates as DD-MM-YYYY; for systems, since Excel would turn a NIK in a CSV into a number."""
    path.parent.mkdir(parents=True, exist_ok=True)
    neutralise_formulas(frame).write_csv(path, date_format="%d-%m-%Y", datetime_format="%d-%m-%Y %H:%M")
    return path


def _width(frame: pl.DataFrame, column: str) -> int:
    longest = frame.select(pl.col(column).cast(pl.String).str.len_chars().max()).item() or 0
    return min(max(len(column), int(longest)) + 2, 60)


# Rows of one Excel sheet, its header included (Excel's limit, and xlsxwriter silently drops writes past it).
EXCEL_ROWS = 1_048_576


def write_xlsx(
    frame: pl.DataFrame,
    path: Path,
    *,
    sheet: str,
    run_date: date,
    choices: Mapping[str, Sequence[str]] | None = None,
    notes: Sequence[str] = (),
) -> Path:
    """One sheet with a frozen, filterable header; identifiers and phones as text cells, dates as date cells.

    ``choices`` puts a drop-down list on a column (e.g. decision). ``notes`` go to a second sheet, "Keterangan".
    The workbook's creation time is the run date, so rerunning a date writes the same bytes.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = neutralise_formulas(frame)
    # constant_memory: each row goes to disk once written, so a province's list does not sit in memory as millions
    # of cell objects (rows must then be written in order, each whole).
    options = {
        "constant_memory": True,
        "strings_to_numbers": False,
        "strings_to_formulas": False,
        "strings_to_urls": False,
    }
    workbook = xlsxwriter.Workbook(str(path), options)
    try:
        workbook.set_properties({"created": datetime.combine(run_date, time()), "title": sheet})
        header = workbook.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True})
        text = workbook.add_format({"num_format": "@"})
        day = workbook.add_format({"num_format": "dd-mm-yyyy"})
        moment = workbook.add_format({"num_format": "dd-mm-yyyy hh:mm"})
        # A sheet holds at most EXCEL_ROWS rows: a longer list (a province's registration list) continues on
        # further sheets rather than losing its tail.
        for number, start in enumerate(range(0, max(frame.height, 1), EXCEL_ROWS - 1), start=1):
            part = frame.slice(start, EXCEL_ROWS - 1)
            ws = workbook.add_worksheet(sheet if number == 1 else f"{sheet} ({number})")
            text_of = [text if name in TEXT_COLUMNS else None for name in part.columns]
            date_of = [day if d == pl.Date else moment if isinstance(d, pl.Datetime) else None for d in part.dtypes]
            for col, name in enumerate(part.columns):
                ws.write_string(0, col, name, header)
                ws.set_column(col, col, _width(part, name), text_of[col])
            for row, values in enumerate(part.iter_rows(), start=1):
                for col, value in enumerate(values):
                    if value is None:
                        ws.write_blank(row, col, None, text_of[col])
                    elif isinstance(value, datetime | date):
                        ws.write_datetime(row, col, value, date_of[col])
                    elif isinstance(value, bool):
                        ws.write_boolean(row, col, value)
                    elif isinstance(value, int | float):
                        ws.write_number(row, col, value)
                    else:
                        ws.write_string(row, col, str(value), text_of[col])
            ws.freeze_panes(1, 0)
            ws.autofilter(0, 0, max(part.height, 1), max(len(part.columns) - 1, 0))
            for name, allowed in (choices or {}).items():
                col = part.columns.index(name)
                ws.data_validation(1, col, max(part.height, 1), col, {"validate": "list", "source": list(allowed)})
        if notes:
            about = workbook.add_worksheet("Keterangan")
            about.set_column(0, 0, 120)
            for row, line in enumerate(notes):
                about.write_string(row, 0, line)
    finally:
        workbook.close()
    return path


def review_notes(run_date: date) -> list[str]:
    """How to use the review queue, on its second sheet."""
    return [
        f"Antrean review cakupan, tanggal proses {run_date:%d-%m-%Y}.",
        "Setiap baris: orang dalam usulan desa (kiri) dan peserta BPJS Ketenagakerjaan (kanan) yang mungkin sama.",
        "identity_conflict: NIK sama, nama terlalu berbeda.",
        "probable_match: NIK beda satu ketikan, tanggal lahir sama, nama mirip.",
        f"Isi decision ({' atau '.join(DECISIONS)}), decided_by (nama petugas) dan decided_at (YYYY-MM-DD),",
        "lalu salin kolom nik, kpj, decision, decided_by, decided_at ke reference/review_decisions.csv.",
        "Proses berikutnya memakai keputusan itu: same_person mengikuti status peserta,",
        "different_person menjadikan orang itu belum terdaftar (not_enrolled).",
    ]


def registration_notes(run_date: date, region_name: str) -> list[str]:
    """What the registration list is and which parts of its layout are assumed, on its second sheet."""
    return [
        f"Daftar pendaftaran BPU kolektif (wadah) {region_name}, tanggal proses {run_date:%d-%m-%Y}.",
        "Isi: pekerja rentan yang diusulkan desa dan belum terdaftar di BPJS Ketenagakerjaan (not_enrolled).",
        "Kolom disusun dari data yang diminta pendaftaran BPU (NIK, nama, tempat/tanggal lahir, alamat,",
        "pekerjaan, no HP); templat unggah resmi BPJS untuk wadah tidak ditemukan, jadi urutan dan nama",
        "kolom mungkin perlu disesuaikan dengan formulir kantor cabang.",
        "NIK, NO_HP dan KODE_DESA adalah teks; TGL_LAHIR tanggal (dd-mm-yyyy). PROGRAM: JKK dan JKM dibayar APBD.",
        "EMAIL kosong: desa tidak mengirim e-mail; BPJS meminta e-mail atau nomor HP.",
    ]


def grace_notes(run_date: date) -> list[str]:
    """What the grace list asks of the office, on its second sheet."""
    return [
        f"Daftar masa grace, tanggal proses {run_date:%d-%m-%Y}.",
        "Perlindungan sudah berakhir (TGL_BERAKHIR); tunggakan masih dapat dibayar sampai AKHIR_MASA_GRACE.",
        "Lewat tanggal itu kepesertaan putus (lapsed). Urutan: paling mendesak dulu (SISA_HARI terkecil).",
    ]


# The statuses someone has to act on: a national run's active members never reach a work list.
TO_ACT_ON = ["identity_conflict", "probable_match", "not_enrolled", "grace"]


def write_lists(
    persons: Path,
    villages: pl.DataFrame,
    run_date: date,
    *,
    name_match_min: float,
    region_name: str,
    review: Path,
    registration: Path,
    grace: Path,
) -> dict[str, int]:
    """Write the lists people work from out of a run's persons file: review.xlsx into ``review``, registration.xlsx
    and .csv into ``registration``, grace.xlsx and .csv into ``grace``. Returns the rows of each list."""
    acted_on = pl.scan_parquet(persons).filter(pl.col("status").is_in(TO_ACT_ON)).collect()
    queue = review_queue(acted_on, villages, name_match_min=name_match_min)
    write_xlsx(
        queue,
        review / "review.xlsx",
        sheet="review",
        run_date=run_date,
        choices={"decision": DECISIONS},
        notes=review_notes(run_date),
    )
    to_register = registration_list(acted_on, villages, region_name=region_name)
    write_xlsx(
        to_register,
        registration / "registration.xlsx",
        sheet="pendaftaran",
        run_date=run_date,
        notes=registration_notes(run_date, region_name),
    )
    write_csv(to_register, registration / "registration.csv")
    in_grace = grace_list(acted_on, villages, run_date)
    write_xlsx(in_grace, grace / "grace.xlsx", sheet="grace", run_date=run_date, notes=grace_notes(run_date))
    write_csv(in_grace, grace / "grace.csv")
    return {"review": queue.height, "registration": to_register.height, "grace": in_grace.height}
