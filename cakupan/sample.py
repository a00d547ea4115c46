"""A synthetic Kapuas-sized regency: village lists, BPJS exports, reference data and the true outcome of each.

`write_sample` writes what a Dinas Sosial would receive (village submissions in every mess seen in the wild, the
BPJS Ketenagakerjaan membership export, the village list with kuota) and, under ``truth/``, what the pipeline must
conclude from it. The truth is recorded from how each case was *made* ("this row was given a 15-digit NIK", "this
person was enrolled and lapsed"), never by running pipeline code, so the pipeline can be tested against it.

Layout of ``OUT/``::

    submissions/   village files, .xlsx and .csv, as villages send them
    bpjs/          bpjs_export_<date>.csv (the export to use) and an older, smaller .xlsx export
    reference/     villages.csv (kode_desa, nama_desa, kode_kecamatan, nama_kecamatan, kuota), workforce.csv
    truth/         manifest.json, rows.csv, files.csv, persons.csv, coverage.csv

Truth tables (UTF-8 CSV with a header row and LF line ends):

- ``manifest.json``: seed, as_of, villages, workers, bpjs_export (the file to use), pii ("synthetic").
- ``rows.csv``, one row per data row of every submission file (a fully blank line is not a data row; an unreadable
  file has none): source_file (name inside submissions/), source_row (the row number a spreadsheet shows: CSV header
  = 1, xlsx the sheet row), outcome, reasons (sorted codes joined by ";", empty when none), nik (the true NIK of the
  person the row is about, whatever the cell says: a cut, shared or missing NIK still names its person). Rows of a
  superseded file (older list, identical copy) are ``superseded`` with no reasons, whatever they contain; duplicates
  have no reasons; a rejected row has only its E code (plus ``too_many_rejected`` when its file was rejected for it).
  Sorted by source_file, source_row.
- ``files.csv``, one row per submission file: source_file, kode_desa (dotted), status (loaded | rejected |
  superseded), reason (empty for loaded; file_unreadable, column_missing, too_many_rejected; newer_submission,
  duplicate_file). Sorted by source_file.
- ``persons.csv``, one row per NIK: the people accepted on current lists (kode_desa of the accepted row) and the
  regency-paid members covered or in grace that are on no current list (enrolled_not_submitted, kode_desa empty).
  Sorted by nik.
- ``coverage.csv``, one row per village of villages.csv (zeros when it sent nothing), per kecamatan of
  villages.csv and one for the regency (kode "62.03"). Row counts go to the file's village (every row of a sample
  file names its file's village or nothing resolvable). duplicates = duplicate_in_file + duplicate_across_villages;
  persons = the sum of the seven status columns; enrolled_not_submitted counts only in the regency row (0 below);
  members_active_total (regency only, empty below) = NIKs of the main export whose kept membership is covered.

The same seed gives the same bytes in every file, file modification times included.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import os
import random
import shutil
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import xlsxwriter

from cakupan.headers import BPJS_INDEX, SUBMISSION_INDEX, header_key

REGION = "62.03"
SAMPLE_AS_OF = date(2026, 11, 27)  # the run date the default sample's truth is for
MAIN_EXPORT_LAG_DAYS = 2
OLD_EXPORT_LAG_DAYS = 88
AGE_RANGE = (20, 60)
EARLIEST_MEMBERSHIP = date(2015, 1, 1).toordinal()

KECAMATAN: dict[str, str] = {
    "01": "Selat",
    "02": "Kapuas Hilir",
    "03": "Kapuas Timur",
    "04": "Kapuas Kuala",
    "05": "Kapuas Barat",
    "06": "Pulau Petak",
    "07": "Kapuas Murung",
    "08": "Basarang",
    "09": "Mantangai",
    "10": "Timpah",
    "11": "Kapuas Tengah",
    "12": "Kapuas Hulu",
    "13": "Tamban Catur",
    "14": "Pasak Talawang",
    "15": "Mandau Talawang",
    "16": "Dadahup",
    "17": "Bataguh",
}
# Villages and kelurahan per kecamatan in the Kepmendagri wilayah data (domain.md §4); 231 villages in all.
REAL_VILLAGES: dict[str, int] = {
    "01": 10, "02": 8, "03": 7, "04": 13, "05": 12, "06": 12, "07": 23, "08": 14, "09": 38,
    "10": 9, "11": 13, "12": 14, "13": 10, "14": 10, "15": 10, "16": 13, "17": 15,
}  # fmt: skip
REAL_KELURAHAN: dict[str, int] = {"01": 8, "02": 5, "05": 1, "07": 2, "17": 1}

# Real villages whose names trip up matching (domain.md §4). The first seven are in every sample, the rest from
# 40 villages up. Sidomulyo twice, a near-identical pair, Sei/Sungai, a Roman numeral and an apostrophe.
PRIMARY_TRAPS: tuple[tuple[str, str], ...] = (
    ("62.03.07.1001", "Palingkau Baru"),
    ("62.03.07.2010", "Palangkau Baru"),
    ("62.03.02.1005", "Sei Pasah"),
    ("62.03.09.2034", "Sidomulyo"),
    ("62.03.13.2009", "Sidomulyo"),
    ("62.03.12.2013", "Barunang II"),
    ("62.03.15.2004", "Karetau Manta'a"),
)
SECONDARY_TRAPS: tuple[tuple[str, str], ...] = (
    ("62.03.07.1002", "Palingkau Lama"),
    ("62.03.07.2008", "Palangkau Lama"),
    ("62.03.08.2003", "Basarang"),
    ("62.03.10.2004", "Timpah"),
    ("62.03.16.2001", "Dadahup"),
    ("62.03.11.2011", "Barunang"),
    ("62.03.03.2003", "Anjir Serapat Barat"),
    ("62.03.03.2007", "Anjir Serapat Baru"),
    ("62.03.17.2006", "Terusan Raya"),
    ("62.03.17.2007", "Terusan Karya"),
)
UNKNOWN_VILLAGE = "Tumbang Antah Berantah"

# Row outcomes and reason codes (design contract).
ACCEPTED = "accepted"
REJECTED = "rejected"
DUP_IN_FILE = "duplicate_in_file"
DUP_ACROSS = "duplicate_across_villages"
SUPERSEDED = "superseded"
PERSON_STATUSES: tuple[str, ...] = (
    "active",
    "grace",
    "lapsed",
    "not_enrolled",
    "identity_conflict",
    "probable_match",
    "enrolled_not_submitted",
)

# Row defects: kind -> reasons of the row it makes. Each messy row has exactly one defect.
E_KINDS: dict[str, tuple[str, ...]] = {
    "precision_num": ("nik_precision_lost",),
    "precision_sci": ("nik_precision_lost",),
    "nik_format": ("nik_format",),
    "nik_region_00": ("nik_region",),
    "nik_region_99": ("nik_region",),
    "nik_date": ("nik_date",),
    "nik_missing": ("nik_missing",),
    "name_missing": ("name_missing",),
    "birth_impossible": ("birthdate_invalid",),
    "birth_missing": ("birthdate_invalid",),
    "birth_future": ("birthdate_invalid",),
    "sex_invalid": ("sex_invalid",),
    "village_unknown": ("village_unknown",),
    "nik_shared": ("nik_shared",),
}
W_KINDS: dict[str, tuple[str, ...]] = {
    "sex_empty": ("sex_from_nik",),
    "age70": ("age_out_of_range",),
    "mismatch": ("nik_birthdate_mismatch",),
}
# Accepted without a reason: cleaning and normalisation are not errors.
OK_KINDS: tuple[str, ...] = ("nik_spaces", "nik_dots", "nik_apostrophe", "sungai_pasah", "probable", "decoy")
MANDATED: tuple[str, ...] = (
    "precision_num", "precision_sci", "nik_format", "nik_region_00", "nik_region_99", "nik_date", "nik_missing",
    "name_missing", "birth_impossible", "birth_missing", "birth_future", "sex_invalid", "village_unknown",
    "nik_shared", "sex_empty", "age70", "mismatch", "nik_spaces", "nik_dots", "nik_apostrophe",
)  # fmt: skip
EXTRA_KINDS: tuple[tuple[str, float], ...] = (
    ("nik_format", 10), ("nik_region_00", 1), ("nik_date", 2), ("nik_missing", 4), ("name_missing", 3),
    ("birth_impossible", 3), ("birth_missing", 3), ("birth_future", 1), ("sex_invalid", 2), ("precision_num", 3),
    ("precision_sci", 2), ("village_unknown", 1), ("sex_empty", 12), ("age70", 6), ("mismatch", 12),
    ("nik_spaces", 8), ("nik_dots", 4), ("nik_apostrophe", 8), ("empty_desa", 6),
)  # fmt: skip

MONTHS_ABBR = ("JAN", "FEB", "MAR", "APR", "MEI", "JUN", "JUL", "AGS", "SEP", "OKT", "NOV", "DES")
MONTHS_FULL = (
    "Januari", "Februari", "Maret", "April", "Mei", "Juni",
    "Juli", "Agustus", "September", "Oktober", "November", "Desember",
)  # fmt: skip

MALE_FIRST = (
    "Ahmad", "Muhammad", "Budi", "Agus", "Rahmat", "Hendra", "Yusuf", "Abdul", "Rudi", "Slamet", "Supriadi",
    "Fajar", "Darmawan", "Herman", "Syahrani", "Ardiansyah", "Rizki", "Junaidi", "Samsul", "Yohanes", "Markus",
    "Rinaldi", "Suriansyah", "Taufik", "Wahyu", "Eko", "Joko", "Bambang", "Sugianto", "Kristian", "Iwan", "Dedi",
    "Hamdani", "Norhadi", "Mahyudin", "Ibrahim", "Jainudin", "Saprudin", "Asmuni", "Ma'ruf", "Yanto", "Andreas",
    "Petrus", "Fransiskus", "Antonius", "Gusti", "Aspian", "Riduan", "Hairul", "Mulyadi", "Sahrudin", "Nurdin",
)  # fmt: skip
FEMALE_FIRST = (
    "Siti", "Nur", "Rahmah", "Aminah", "Fatimah", "Dewi", "Sri", "Yuliana", "Rina", "Wati", "Lestari", "Normila",
    "Nurhayati", "Maria", "Elisabeth", "Halimah", "Mariana", "Rusmini", "Yanti", "Susanti", "Herlina", "Juliani",
    "Nurul", "Kartini", "Aisyah", "Rosita", "Ernawati", "Salmah", "Hartini", "Nur'aini", "Masliani", "Rabiatul",
    "Mahrita", "Yuyun", "Intan", "Marlina", "Sumiati", "Agustina", "Veronika", "Noorjanah", "Hamidah", "Erlina",
)  # fmt: skip
MIDDLE = {"L": ("Nur", "Dwi", "Tri", "Eka", "Adi", "Budi", "Arif", "Putra"),
          "P": ("Nur", "Dwi", "Tri", "Eka", "Puspita", "Indah", "Sari", "Putri")}  # fmt: skip
LAST = (
    "Santoso", "Wijaya", "Saputra", "Rahman", "Hidayat", "Hasan", "Ramadhan", "Setiawan", "Pratama", "Kurniawan",
    "Nugroho", "Bahrun", "Dinata", "Lambung", "Anden", "Tingang", "Nyahu", "Usup", "Kasdi", "Ilham", "Hamidi",
    "Arbain", "Jumri", "Asnawi", "Rusdi", "Syamsuri", "Hairani", "Effendi", "Sanjaya", "Gunawan", "Suryadi",
    "Mahmud", "Yani", "Fauzi", "Akbar", "Siregar", "Simanjuntak", "Ranying", "Anyu", "Djaya", "Sahari", "Mulyono",
    "Wibowo", "Susilo", "Kasim", "Rasyid", "Jumadi", "Riyadi", "Hamzah",
)  # fmt: skip
LAST_FEMALE = ("Lestari", "Anggraini", "Wulandari", "Rahmawati", "Handayani")
# Names with characters of Windows-1252 beyond ASCII, for the files a Windows Excel saved as CSV.
ACCENTED = {"L": ("René Simanjuntak", "Andréas Tingang", "José Anden"),
            "P": ("Désy Natalia", "Agnès Lestari", "Joséphine Anden")}  # fmt: skip
PLACES = (
    "Kuala Kapuas", "Kuala Kapuas", "Kuala Kapuas", "Palangka Raya", "Banjarmasin", "Mantangai", "Timpah",
    "Pulang Pisau", "Sampit", "Tamban", "Lamunti", "Dadahup", "Anjir Serapat", "Pujon", "Barito Kuala",
)  # fmt: skip
TRANSMIGRANT = (("3313", "Karanganyar"), ("3507", "Malang"), ("5203", "Lombok Timur"), ("3309", "Boyolali"))
JOBS = (
    "PETANI/PEKEBUN", "NELAYAN/PERIKANAN", "BURUH TANI/PERKEBUNAN", "BURUH NELAYAN/PERIKANAN", "PEDAGANG",
    "OJEK PANGKALAN", "TUKANG BATU", "TUKANG KAYU", "PEKERJA RUMAH TANGGA", "PETUGAS KEBERSIHAN", "MARBOT MESJID",
    "BURUH HARIAN LEPAS", "PENAMBANG RAKYAT", "Petani", "Pedagang Pasar", "Buruh harian lepas",
)  # fmt: skip

VILLAGE_PREFIXES = (
    "Sei", "Sungai", "Anjir", "Tumbang", "Pulau", "Lupak", "Pangkalan", "Tanjung", "Danau", "Lawang", "Petak",
    "Bukit", "Muara", "Teluk", "Handil", "Saka", "Tamban", "Bapeang", "Lamunti", "Batu",
)  # fmt: skip
VILLAGE_ROOTS = (
    "Asam", "Kayu", "Tatas", "Teras", "Pudak", "Garantung", "Mampai", "Rangas", "Tarung", "Alalak", "Batuah",
    "Kapar", "Bakung", "Balai", "Sirih", "Manis", "Mangkutup", "Rungan", "Hanjak", "Betung", "Kuta", "Luwuk",
    "Penda", "Manuhing", "Katimpun", "Lahei", "Telaga", "Lembu", "Sepang", "Mantaren", "Sekata", "Talekung",
    "Purun", "Bandar", "Rawa", "Tampang", "Kahayan", "Mendawai", "Sepuluh", "Hampangen", "Pahawan", "Jingah",
    "Kanamit", "Tewah", "Karya", "Dusun", "Ramba", "Nusa", "Randang", "Tumbak", "Rambai", "Jangkit", "Ulin",
)  # fmt: skip
VILLAGE_SUFFIXES = ("", "", "", "", "Baru", "Lama", "Jaya", "Makmur", "Raya", "Hilir", "Hulu", "Permai", "I", "II")
TRANSMIGRANT_VILLAGES = (
    "Sumber Makmur", "Wonosari", "Sukamaju", "Karya Bersama", "Tri Mulyo", "Margo Rukun", "Sri Rejeki",
    "Bina Karya", "Rukun Santosa", "Mekar Sari", "Harapan Jaya", "Tanjung Rejo", "Gading Rejo", "Sido Makmur",
)  # fmt: skip

Cell = str | float | date | None
T = TypeVar("T")


class _Random(random.Random):
    """random.Random with cheaper draws: tens of thousands of members are drawn, and none of it is secret."""

    def between(self, low: int, high: int) -> int:
        """An integer in [low, high]."""
        return low + int(self.random() * (high - low + 1))

    def pick(self, options: Sequence[T]) -> T:
        return options[int(self.random() * len(options))]

    def weighted(self, options: Sequence[T], weights: Sequence[float]) -> T:
        x = self.random() * sum(weights)
        for option, weight in zip(options, weights, strict=True):
            x -= weight
            if x < 0:
                return option
        return options[-1]


@dataclass(frozen=True)
class SampleSummary:
    """What `write_sample` wrote: submission files and their data rows, export rows, and persons by status."""

    out: Path
    villages: int
    files: int
    rows: int
    members: int
    persons: dict[str, int]


@dataclass
class _Village:
    kode: str
    nama: str
    kuota: int = 0
    trap: bool = False  # a real village whose name trips up matching

    @property
    def kode_kecamatan(self) -> str:
        return self.kode[:8]

    @property
    def nama_kecamatan(self) -> str:
        return KECAMATAN[self.kode[6:8]]

    @property
    def kelurahan(self) -> bool:
        return self.kode[9] == "1"


@dataclass
class _Person:
    nik: str
    nama: str  # as submitted, titles included
    inti: str  # the name without titles
    lahir: date  # the stated (true) birth date
    sex: str  # "L" | "P"
    tempat: str
    role: str = ""  # "probable" | "decoy" | ""


@dataclass
class _Row:
    cells: dict[str, Cell]
    outcome: str
    reasons: tuple[str, ...]
    person: _Person | None
    clean: bool = False  # an ordinary accepted row without reasons: may be copied to make duplicates
    blank: bool = False  # a fully blank line: shown by a spreadsheet, not a data row
    source_row: int = 0


@dataclass
class _Style:
    fmt: str  # "xlsx" | "csv"
    columns: list[tuple[str, str]]  # (key, header text) in column order; key is canonical or an extra
    birth: str  # date_cell | serial | mixed | dmy_slash | dmy_dash | iso | d_month_y | d_mon_yy
    encoding: str = "utf-8"
    delimiter: str = ","
    title: bool = False
    sex_values: tuple[str, str] = ("L", "P")
    desa: str = "name"  # name | upper | code | dotted | prefixed
    nik: str = "plain"  # plain | apostrophe
    blank_row: bool = False
    accents: bool = False

    def has(self, key: str) -> bool:
        return any(k == key for k, _ in self.columns)


@dataclass
class _File:
    name: str
    village: _Village
    submitted: date
    style: _Style
    role: str  # current | old | copy | corrupt | too_many | column_missing
    code_in_name: bool
    date_in_name: bool
    rows: list[_Row] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    status: str = "loaded"
    reason: str = ""
    data: bytes = b""
    sexless: bool = False
    copy_of: _File | None = None
    dropped: list[_Person] = field(default_factory=list)  # people an older list had and the newer one dropped


@dataclass
class _Member:
    kpj: str
    nik: str
    nama: str
    lahir: date
    mulai: date
    berakhir: date
    grace: date | None  # None: MASA_GRACE left empty (the pipeline adds 3 months to TGL_BERAKHIR)
    pembayar: str
    segmen: str
    jht: int
    state: str  # covered | grace | lapsed on as_of, as made


@dataclass
class _Sample:
    villages: list[_Village]
    files: list[_File]
    members: list[_Member]
    old_members: list[_Member]
    persons: list[tuple[str, str, str]]  # nik, kode_desa, status


def write_sample(
    out: Path,
    *,
    seed: int = 7,
    villages: int = 231,
    workers: int = 10_000,
    as_of: date = SAMPLE_AS_OF,
    overwrite: bool = False,
) -> SampleSummary:
    """Write a synthetic regency's inputs and their true outcomes under `out`.

    Args:
        out: target folder; submissions/, bpjs/, reference/ and truth/ are written below it.
        seed: the same seed gives byte-identical files (modification times included).
        villages: number of villages (at least 12, so that every kind of mess fits; 231 is Kapuas).
        workers: kuota over all villages (sums exactly to this); current lists hold about this many rows and the
            main BPJS export about six times as many members. At least 20 per village.
        as_of: the run date the truth is computed for (member state, ages, file dates before it).
        overwrite: remove earlier submissions/, bpjs/, reference/ and truth/ under `out` first; without it a
            non-empty one is an error.

    Returns:
        counts of what was written.

    Example:
        >>> summary = write_sample(Path("/tmp/kapuas"), villages=12, workers=300)  # doctest: +SKIP
    """
    if villages < 12:
        raise ValueError(f"villages must be at least 12 to hold every kind of mess, got {villages}")
    if workers < 20 * villages:
        raise ValueError(f"workers must be at least 20 per village ({20 * villages}), got {workers}")
    out = Path(out)
    parts = [out / name for name in ("submissions", "bpjs", "reference", "truth")]
    for part in parts:
        if part.exists() and any(part.iterdir()):
            if not overwrite:
                raise FileExistsError(f"{part} is not empty (pass overwrite=True to replace the sample)")
            shutil.rmtree(part)
    sample = _Generator(seed=seed, villages=villages, workers=workers, as_of=as_of).build()
    return _write(out, sample, seed=seed, workers=workers, as_of=as_of)


# ---------------------------------------------------------------------------------------------------------------
# Small helpers


def _add_months(day: date, months: int) -> date:
    """Calendar months later, the day clamped to the month's end (31 Aug + 3 months = 30 Nov)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    last = (date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)).day
    return date(year, month, min(day.day, last))


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _serial(day: date) -> int:
    return (day - date(1899, 12, 30)).days


@functools.cache
def _nik_date(born: date, sex: str) -> str:
    return f"{born.day + (40 if sex == 'P' else 0):02d}{born.month:02d}{born.year % 100:02d}"


def _village_key(name: str) -> str:
    """A comparison key close to the pipeline's (Sei = Sungai, no punctuation) to keep invented names apart."""
    words = "".join(c for c in name.lower() if c.isalnum() or c == " ").split()
    return " ".join("sungai" if w == "sei" else w for w in words)


def _nik_neighbours(nik: str) -> list[str]:
    """NIKs one digit substitution or one adjacent transposition away."""
    found: list[str] = []
    for i, digit in enumerate(nik):
        found.extend(nik[:i] + d + nik[i + 1 :] for d in "0123456789" if d != digit)
    for i in range(len(nik) - 1):
        if nik[i] != nik[i + 1]:
            found.append(nik[:i] + nik[i + 1] + nik[i] + nik[i + 2 :])
    return found


def _check_headers(columns: Sequence[tuple[str, str]]) -> None:
    """Every header must mean what the generator wrote under it, or be unknown to the pipeline."""
    for key, text in columns:
        meant = SUBMISSION_INDEX.get(header_key(text))
        expected = key if key in {*SUBMISSION_INDEX.values()} else None
        if meant != expected:
            raise AssertionError(f"header {text!r} would be read as {meant!r}, not {expected!r}")


# Header sets seen in village templates (domain.md §6a); "no", "no_kk" and "keterangan" are unknown columns.
TEMPLATES: dict[str, list[tuple[str, str]]] = {
    "plain": [
        ("no", "NO"), ("nik", "NIK"), ("nama", "NAMA"), ("tempat_lahir", "TEMPAT LAHIR"),
        ("tanggal_lahir", "TANGGAL LAHIR"), ("jenis_kelamin", "JENIS KELAMIN"), ("alamat", "ALAMAT"),
        ("desa", "DESA/KELURAHAN"), ("kecamatan", "KECAMATAN"), ("pekerjaan", "PEKERJAAN"), ("no_hp", "NO HP"),
    ],
    "synonyms": [
        ("no", "No."), ("nik", "NIK"), ("nama", "NAMA LENGKAP"), ("tanggal_lahir", "tgl. lahir"),
        ("jenis_kelamin", "L/P"), ("desa", "Desa/Kel"), ("pekerjaan", "Pekerjaan"), ("no_hp", "No. HP"),
    ],
    "ktp": [
        ("no", "NO"), ("nik", "NIK KTP"), ("no_kk", "NO KK"), ("nama", "Nama Sesuai KTP"),
        ("tempat_lahir", "Tmp Lahir"), ("tanggal_lahir", "Tgl Lahir"), ("jenis_kelamin", "Jenis Kelamin"),
        ("alamat", "Alamat Rumah"), ("desa", "Kelurahan/Desa"), ("kecamatan", "Kec"),
        ("pekerjaan", "Mata Pencaharian"), ("no_hp", "No WA"),
    ],
    "lower": [
        ("no", "no"), ("nik", "nik"), ("nama", "nama"), ("tanggal_lahir", "tanggal lahir"),
        ("jenis_kelamin", "kelamin"), ("desa", "desa"), ("pekerjaan", "pekerjaan"), ("keterangan", "Keterangan"),
    ],
    "peserta": [
        ("no", "No"), ("nama", "Nama Peserta"), ("nik", "Nomor NIK"), ("tanggal_lahir", "Tanggal Lhr"),
        ("jenis_kelamin", "JK"), ("alamat", "Alamat"), ("desa", "Kelurahan"), ("no_hp", "Nomor HP"),
    ],
}  # fmt: skip
SEX_VALUES: tuple[tuple[str, str], ...] = (
    ("L", "P"), ("L", "P"), ("Laki-laki", "Perempuan"), ("LK", "PR"), ("Pria", "Wanita"), ("l", "p"),
)  # fmt: skip


def _columns(
    template: str, *, ttl: bool = False, sex: bool = True, kecamatan: bool | None = None, desa: bool = True
) -> list[tuple[str, str]]:
    """A template's columns, with TTL instead of birth place and date, without sex/desa, with/without kecamatan."""
    columns: list[tuple[str, str]] = []
    for key, text in TEMPLATES[template]:
        if key == "tempat_lahir" and ttl:
            continue
        if key == "tanggal_lahir" and ttl:
            columns.append(("ttl", "TTL" if template != "synonyms" else "Tempat/Tanggal Lahir"))
            continue
        if key == "jenis_kelamin" and not sex:
            continue
        if key == "desa" and not desa:
            continue
        if key == "kecamatan" and kecamatan is False:
            continue
        columns.append((key, text))
    if kecamatan and not any(k == "kecamatan" for k, _ in columns):
        at = next(i for i, (k, _) in enumerate(columns) if k == "desa") + 1
        columns.insert(at, ("kecamatan", "Kecamatan"))
    _check_headers(columns)
    return columns


# ---------------------------------------------------------------------------------------------------------------
# The generator


class _Generator:
    def __init__(self, *, seed: int, villages: int, workers: int, as_of: date) -> None:
        self.rng = _Random(seed)
        self.n_villages = villages
        self.workers = workers
        self.as_of = as_of
        self.used_niks: set[str] = set()
        self.used_kpj: set[str] = set()
        self.near: set[str] = set()  # NIKs one edit from a listed person absent from the export
        self.villages: list[_Village] = []
        self.files: list[_File] = []
        self.members: list[_Member] = []
        # Edges of the state rules, each given to the first listed member of that state.
        self.boundary_cases = ["covered_end", "grace_end", "grace_empty", "lapsed_end", "lapsed_empty"]

    # -- villages --------------------------------------------------------------------------------------------

    def build(self) -> _Sample:
        self._make_villages()
        self._plan_files()
        self._assign_mess()
        for f in sorted(self.files, key=lambda f: f.name):
            if f.role in ("current", "too_many", "column_missing"):
                self._materialise(f)
        for f in sorted(self.files, key=lambda f: f.name):
            if f.role == "old":
                self._materialise_old(f)
        self._duplicates_in_file()
        self._duplicates_across_villages()
        self._number_rows()
        for f in self.files:
            if f.role == "copy":
                assert f.copy_of is not None
                f.rows = [replace(r, outcome=SUPERSEDED, reasons=(), clean=False) for r in f.copy_of.rows]
        persons = self._persons_and_members()
        old_members = self._old_export()
        return _Sample(self.villages, self.files, self.members, old_members, persons)

    def _make_villages(self) -> None:
        n = self.n_villages
        traps = list(PRIMARY_TRAPS) + (list(SECONDARY_TRAPS) if n >= 40 else [])
        trap_kec = Counter(kode[6:8] for kode, _ in traps)
        counts = {k: max(trap_kec[k], n * REAL_VILLAGES[k] // 231) for k in KECAMATAN}
        # Largest remainder, never below the trap villages a kecamatan must hold.
        share = {k: n * REAL_VILLAGES[k] / 231 for k in KECAMATAN}
        while sum(counts.values()) < n:
            k = max(KECAMATAN, key=lambda k: (share[k] - counts[k], k))
            counts[k] += 1
        while sum(counts.values()) > n:
            k = max((k for k in KECAMATAN if counts[k] > trap_kec[k]), key=lambda k: (counts[k] - share[k], k))
            counts[k] -= 1
        reserved = {_village_key(name) for _, name in traps} | {_village_key(name) for name in KECAMATAN.values()}
        reserved |= {_village_key(UNKNOWN_VILLAGE), "sungai pasah", "palingkau", "palangkau"}
        names = self._village_names(n, reserved)
        for k in sorted(KECAMATAN):
            fixed = [(kode, name) for kode, name in traps if kode[6:8] == k]
            fixed_kel = sum(1 for kode, _ in fixed if kode[9] == "1")
            fixed_desa = len(fixed) - fixed_kel
            n_kel = round(REAL_KELURAHAN.get(k, 0) * n / 231)
            n_kel = min(max(n_kel, fixed_kel), counts[k] - fixed_desa)
            taken = {kode for kode, _ in fixed}
            for kode, name in fixed:
                self.villages.append(_Village(kode, name, trap=True))
            for kind, total in (("1", n_kel - fixed_kel), ("2", counts[k] - n_kel - fixed_desa)):
                number = 1
                for _ in range(total):
                    while f"{REGION}.{k}.{kind}{number:03d}" in taken:
                        number += 1
                    kode = f"{REGION}.{k}.{kind}{number:03d}"
                    taken.add(kode)
                    self.villages.append(_Village(kode, names.pop()))
        self.villages.sort(key=lambda v: v.kode)
        assert len(self.villages) == n
        # Kuota: village weights, rounded by largest remainder so the total is exactly `workers`.
        weights: list[float] = [self.rng.uniform(0.6, 1.6) for _ in self.villages]
        weight_sum = sum(weights)
        exact = [self.workers * w / weight_sum for w in weights]
        kuota = [int(x) for x in exact]
        order = sorted(range(n), key=lambda i: (kuota[i] - exact[i], i))
        for i in order[: self.workers - sum(kuota)]:
            kuota[i] += 1
        for village, q in zip(self.villages, kuota, strict=True):
            village.kuota = q

    def _village_names(self, n: int, reserved: set[str]) -> list[str]:
        names: list[str] = []
        keys = set(reserved)
        while len(names) < n:
            if self.rng.random() < 0.12:
                name = self.rng.pick(TRANSMIGRANT_VILLAGES)
                suffix = self.rng.pick(VILLAGE_SUFFIXES)
            else:
                name = f"{self.rng.pick(VILLAGE_PREFIXES)} {self.rng.pick(VILLAGE_ROOTS)}"
                suffix = self.rng.pick(VILLAGE_SUFFIXES)
            name = f"{name} {suffix}".strip()
            key = _village_key(name)
            if key in keys:
                continue
            keys.add(key)
            names.append(name)
        return names

    def _village(self, kode: str) -> _Village:
        return next(v for v in self.villages if v.kode == kode)

    # -- submission files -------------------------------------------------------------------------------------

    def _day(self, low: int, high: int) -> date:
        return self.as_of - timedelta(days=self.rng.between(low, high))

    def _name_code(self, v: _Village, day: date, ext: str) -> str:
        words = v.nama.replace("'", "").replace(" ", "_")
        if self.rng.random() < 0.2:
            return f"{v.kode} {v.nama.replace(chr(39), '')} {day.isoformat()}.{ext}"
        return f"{v.kode.replace('.', '')}_{words}_{day.isoformat()}.{ext}"

    def _new_file(
        self,
        v: _Village,
        day: date,
        style: _Style,
        role: str,
        *,
        name: str | None = None,
        code: bool = True,
        dated: bool = True,
    ) -> _File:
        ext = "xlsx" if style.fmt == "xlsx" else "csv"
        if name is None:
            if code:
                name = self._name_code(v, day, ext)
            elif self.rng.random() < 0.5:
                name = f"DESA {v.nama.upper().replace(chr(39), '')} {day:%Y%m%d}.{ext}"
            else:
                name = f"Usulan Pekerja Rentan {v.nama.replace(chr(39), '')} {day.isoformat()}.{ext}"
        if any(f.name == name for f in self.files):
            name = f"{v.kode.replace('.', '')}_{v.nama.replace(' ', '_')}_{day.isoformat()}_{len(self.files)}.{ext}"
            code, dated = True, True
        f = _File(name, v, day, style, role, code_in_name=code, date_in_name=dated)
        self.files.append(f)
        return f

    def _random_style(self, v: _Village, *, code: bool) -> _Style:
        rng = self.rng
        fmt = "xlsx" if rng.random() < 0.5 else "csv"
        template = rng.pick(list(TEMPLATES))
        ttl = rng.random() < 0.15
        kecamatan = True if v.nama == "Sidomulyo" else (None if rng.random() < 0.7 else False)
        # A file without a code in its name needs a desa column to be placed.
        desa = True if not code else rng.random() < 0.85
        columns = _columns(template, ttl=ttl, kecamatan=kecamatan, desa=desa)
        if fmt == "xlsx":
            birth = rng.pick(("date_cell", "date_cell", "serial", "mixed", "dmy_slash", "iso"))
        else:
            birth = rng.pick(("dmy_slash", "dmy_slash", "dmy_dash", "iso", "d_month_y", "d_mon_yy"))
        if ttl:
            birth = rng.pick(("dmy_dash", "dmy_slash", "d_month_y"))
        encoding, delimiter = "utf-8", ","
        if fmt == "csv":
            encoding, delimiter = rng.pick((("utf-8", ","), ("utf-8-sig", ","), ("cp1252", ";"), ("utf-8", ";")))
        desa_style = rng.pick(("name", "name", "upper", "code", "dotted", "prefixed"))
        if not code and desa_style in ("code", "dotted") and rng.random() < 0.5:
            desa_style = "name"
        return _Style(
            fmt=fmt,
            columns=columns,
            birth=birth,
            encoding=encoding,
            delimiter=delimiter,
            title=fmt == "xlsx" and rng.random() < 0.3,
            sex_values=rng.pick(SEX_VALUES),
            desa=desa_style,
            nik="apostrophe" if rng.random() < 0.1 else "plain",
            blank_row=rng.random() < 0.1,
            accents=encoding == "cp1252",
        )

    def _plan_files(self) -> None:
        rng = self.rng
        v = self._village
        # The trap villages, each with a file that shows its trap and one format of mess.
        palingkau = self._new_file(
            v("62.03.07.1001"),
            self._day(17, 17),
            _Style("xlsx", _columns("synonyms"), "date_cell", title=True, blank_row=True),
            "current",
        )
        self._new_file(
            v("62.03.07.2010"),
            palingkau.submitted,
            _Style("csv", _columns("plain", kecamatan=False), "dmy_dash", desa="upper", sex_values=("LK", "PR")),
            "current",
            code=False,
        )
        self._new_file(
            v("62.03.02.1005"),
            self._day(23, 23),
            _Style(
                "csv",
                _columns("ktp"),
                "d_month_y",
                encoding="cp1252",
                delimiter=";",
                desa="prefixed",
                blank_row=True,
                accents=True,
            ),
            "current",
        )
        sidomulyo_09 = v("62.03.09.2034")
        self._new_file(
            sidomulyo_09,
            self._day(21, 21),
            _Style("xlsx", _columns("plain", kecamatan=True), "serial", sex_values=("Laki-laki", "Perempuan")),
            "current",
            name=f"Desa Sidomulyo {self._day(21, 21).isoformat()}.xlsx",
            code=False,
        )
        self._new_file(
            v("62.03.13.2009"),
            self._day(15, 15),
            _Style("csv", _columns("peserta", kecamatan=True), "dmy_slash", encoding="utf-8-sig", desa="upper"),
            "current",
        )
        self._new_file(
            v("62.03.12.2013"),
            self._day(19, 19),
            _Style("xlsx", _columns("plain", ttl=True, kecamatan=False), "dmy_dash", title=True),
            "current",
            name="daftar pekerja rentan.xlsx",
            code=False,
            dated=False,
        )
        self._new_file(
            v("62.03.15.2004"),
            self._day(26, 26),
            _Style("csv", _columns("lower"), "d_mon_yy", delimiter=";"),
            "current",
            name=f"DESA KARETAU {self._day(26, 26):%Y%m%d}.csv",
            code=False,
        )
        others = [x for x in self.villages if not x.trap]
        rng.shuffle(others)
        corrupt, too_many, no_nik, resubmit, copied = others[0], others[1], others[2], others[3], others[4]
        rest = others[5:]
        n = self.n_villages
        n_resubmit = max(1, round(0.03 * n))
        n_copied = 1 if n < 40 else 2
        n_silent = round(0.02 * n) if n >= 40 else 0
        resubmitters = [resubmit, *rest[: n_resubmit - 1]]
        rest = rest[n_resubmit - 1 :]
        copiers = [copied, *rest[: n_copied - 1]]
        rest = rest[n_copied - 1 :]
        rest = rest[n_silent:]  # villages that sent nothing

        # A corrupt upload (random bytes named .xlsx) from a village that sends nothing else.
        style = _Style("xlsx", _columns("plain"), "date_cell")
        f = self._new_file(corrupt, self._day(5, 30), style, "corrupt")
        f.data = b"\x00\x17" + rng.randbytes(3000)
        f.status, f.reason = REJECTED, "file_unreadable"
        # A short list where every NIK lost a digit: rejected whole for too many rejected rows.
        style = _Style("csv", _columns("plain", kecamatan=False), "dmy_slash")
        f = self._new_file(too_many, self._day(5, 30), style, "too_many")
        f.kinds = ["nik_format"] * min(4, too_many.kuota)
        f.status, f.reason = REJECTED, "too_many_rejected"
        # KK numbers instead of NIKs, under "NO KK": no NIK column at all.
        columns = [c for c in _columns("ktp") if c[0] != "nik"]
        f = self._new_file(no_nik, self._day(5, 30), _Style("xlsx", columns, "date_cell"), "column_missing")
        f.kinds = ["clean"] * min(30, no_nik.kuota)
        f.status, f.reason = REJECTED, "column_missing"

        sexless_left = 1 if n < 40 else 3
        for village in resubmitters:
            # An older list, then a newer one that replaces it; the first newer list has no sex column.
            new_day = self._day(3, 20)
            style = self._random_style(village, code=True)
            if sexless_left:
                style.columns = [c for c in style.columns if c[0] != "jenis_kelamin"]
                sexless_left -= 1
            new = self._new_file(village, new_day, style, "current")
            new.sexless = not style.has("jenis_kelamin")
            old_style = self._random_style(village, code=True)
            self._new_file(village, self._day(40, 60), old_style, "old")
        for village in copiers:
            # The same file sent twice under two names; the later name is a duplicate.
            style = self._random_style(village, code=False)
            first = self._new_file(village, self._day(10, 30), style, "current", code=False)
            later = first.submitted + timedelta(days=2)
            ext = first.name.rsplit(".", 1)[1]
            copy = self._new_file(
                village, later, style, "copy", name=f"{village.kode.replace('.', '')}_{later.isoformat()}.{ext}"
            )
            copy.copy_of = first
            copy.status, copy.reason = SUPERSEDED, "duplicate_file"
        for village in rest:
            code = self.rng.random() < 0.7 or village.nama in {x.nama for x in self.villages if x is not village}
            style = self._random_style(village, code=code)
            if sexless_left and style.has("jenis_kelamin"):
                style.columns = [c for c in style.columns if c[0] != "jenis_kelamin"]
                sexless_left -= 1
            f = self._new_file(village, self._day(3, 38), style, "current", code=code)
            f.sexless = not style.has("jenis_kelamin")
        for f in self.files:
            if f.role in ("current", "old") and not f.kinds:
                f.kinds = ["clean"] * f.village.kuota
            if f.sexless and f.style.has("jenis_kelamin"):
                f.sexless = False

    def _hosts(self) -> list[_File]:
        return sorted(
            (f for f in self.files if f.role == "current" and not f.sexless and len(f.kinds) >= 6),
            key=lambda f: f.name,
        )

    def _eligible(self, kind: str, f: _File) -> bool:
        s = f.style
        if kind == "precision_num":
            return s.fmt == "xlsx"
        if kind == "precision_sci":
            return s.fmt == "csv"
        if kind in ("sex_invalid", "sex_empty"):
            return s.has("jenis_kelamin")
        if kind == "village_unknown":
            return s.has("desa") and f.code_in_name
        if kind == "empty_desa":
            return s.has("desa") and f.code_in_name
        if kind == "birth_future":
            return s.birth != "d_mon_yy"
        return True

    def _assign_mess(self) -> None:
        rng = self.rng
        hosts = self._hosts()
        rejected = Counter[str]()
        marked = Counter[str]()

        def place(kind: str, f: _File) -> None:
            free = [i for i, k in enumerate(f.kinds) if k == "clean"]
            f.kinds[rng.pick(free)] = kind
            if kind in E_KINDS:
                rejected[f.name] += 3 if kind == "nik_shared" else 1
            marked[f.name] += 1

        sei_pasah = next(f for f in hosts if f.village.kode == "62.03.02.1005")
        place("sungai_pasah", sei_pasah)
        n_probable = max(1, round(0.0015 * self.workers))
        n_decoy = max(1, round(0.0005 * self.workers))
        for kind in (*MANDATED, *["probable"] * n_probable, *["decoy"] * n_decoy):
            candidates = [f for f in hosts if self._eligible(kind, f) and marked[f.name] < len(f.kinds) // 3]
            best = min((rejected[f.name] + 0.3 * marked[f.name]) / len(f.kinds) for f in candidates)
            ties = [f for f in candidates if (rejected[f.name] + 0.3 * marked[f.name]) / len(f.kinds) == best]
            place(kind, rng.pick(ties))
        if self.n_villages < 40:
            return
        # At full size, more of the same at the rates a Dinas sees, never more than a fifth of a file rejected.
        kinds = [k for k, _ in EXTRA_KINDS]
        weights = [w for _, w in EXTRA_KINDS]
        for f in hosts:
            for _ in range(len(f.kinds)):
                if rng.random() >= 0.035:
                    continue
                kind = rng.weighted(kinds, weights)
                if not self._eligible(kind, f) or "clean" not in f.kinds:
                    continue
                if kind in E_KINDS and rejected[f.name] + 1 > len(f.kinds) // 5:
                    continue
                place(kind, f)

    # -- people ---------------------------------------------------------------------------------------------

    def _birth(self, low: int = AGE_RANGE[0], high: int = AGE_RANGE[1]) -> date:
        """A birth date for an age in [low, high] on as_of, heaped on 1 July and 31 December as Dukcapil's are."""
        latest = _years_before(self.as_of, low).toordinal()
        earliest = _years_before(self.as_of, high + 1).toordinal() + 1
        born = date.fromordinal(self.rng.between(earliest, latest))
        heap = self.rng.random()
        if heap < 0.05:
            born = born.replace(month=7, day=1)
        elif heap < 0.07:
            born = born.replace(month=12, day=31)
        if not low <= _age(born, self.as_of) <= high:
            born = date.fromordinal(latest)
        return born

    def _nik_prefix(self, kec: str) -> tuple[str, str]:
        r = self.rng.random()
        if r < 0.1:
            code, place = self.rng.pick(TRANSMIGRANT)
            return f"{code}{self.rng.between(1, 20):02d}", place
        if r < 0.18:
            kec = self.rng.pick(sorted(KECAMATAN))
        return f"6203{kec}", self.rng.pick(PLACES)

    def _nik(self, prefix: str, born: date, sex: str) -> str:
        while True:
            serial = self.rng.between(11, 9999)
            if serial % 10 == 0:
                continue
            nik = f"{prefix}{_nik_date(born, sex)}{serial:04d}"
            if nik not in self.used_niks and nik not in self.near:
                self.used_niks.add(nik)
                return nik

    def _name(self, sex: str, *, titles: bool = True) -> tuple[str, str]:
        """(name as written, name without titles): two or three words, a few with H./Hj./Drs./S.Pd."""
        rng = self.rng
        first = rng.pick(MALE_FIRST if sex == "L" else FEMALE_FIRST)
        if first == "Muhammad" and rng.random() < 0.25:
            first = rng.pick(("Muh.", "Moh."))
        if first == "Abdul" and rng.random() < 0.3:
            first = "Abd"
        words = [first]
        if rng.random() < 0.3:
            words.append(rng.pick(MIDDLE[sex]))
        pool = LAST + LAST_FEMALE if sex == "P" else LAST
        last = rng.pick(pool)
        while last in words:
            last = rng.pick(pool)
        words.append(last)
        inti = " ".join(words)
        if not titles:
            return inti, inti
        r = rng.random()
        if r < 0.015:
            return f"{'H.' if sex == 'L' else 'Hj.'} {inti}", inti
        if r < 0.02:
            return f"{inti}, S.Pd", inti
        if r < 0.025 and sex == "L":
            return f"Drs. {inti}", inti
        return inti, inti

    def _person(
        self, village: _Village, *, born: date | None = None, sex: str | None = None, accents: bool = False
    ) -> _Person:
        sex = sex or self.rng.pick("LP")
        born = born or self._birth()
        prefix, place = self._nik_prefix(village.kode[6:8])
        nama, inti = self._name(sex)
        if accents and self.rng.random() < 0.12:
            nama = inti = self.rng.pick(ACCENTED[sex])
        return _Person(self._nik(prefix, born, sex), nama, inti, born, sex, place)

    # -- cells -----------------------------------------------------------------------------------------------

    def _date_text(self, style: str, d: date) -> str:
        if style in ("dmy_slash", "date_cell", "serial", "mixed"):
            return f"{d.day:02d}/{d.month:02d}/{d.year}"
        if style == "dmy_dash":
            return f"{d.day:02d}-{d.month:02d}-{d.year}"
        if style == "iso":
            return d.isoformat()
        if style == "d_month_y":
            return f"{d.day} {MONTHS_FULL[d.month - 1]} {d.year}"
        if style == "d_mon_yy":
            return f"{d.day:02d}-{MONTHS_ABBR[d.month - 1].title()}-{d.year % 100:02d}"
        raise ValueError(style)

    def _birth_cell(self, s: _Style, d: date) -> Cell:
        birth = s.birth
        if birth == "mixed":
            birth = self.rng.pick(("date_cell", "serial", "dmy_slash"))
        if birth == "date_cell":
            return d
        if birth == "serial":
            return float(_serial(d))
        return self._date_text(birth, d)

    def _desa_cell(self, s: _Style, v: _Village) -> str:
        if s.desa == "upper":
            return v.nama.upper()
        if s.desa == "code":
            return v.kode.replace(".", "")
        if s.desa == "dotted":
            return v.kode
        if s.desa == "prefixed":
            return f"{'Kelurahan' if v.kelurahan else 'Desa'} {v.nama}"
        return v.nama

    def _cells(self, f: _File, p: _Person) -> dict[str, Cell]:
        s, v, rng = f.style, f.village, self.rng
        cells: dict[str, Cell] = {}
        for key, _ in s.columns:
            if key == "nik":
                cells[key] = f"'{p.nik}" if s.nik == "apostrophe" else p.nik
            elif key == "nama":
                cells[key] = p.nama
            elif key == "tempat_lahir":
                cells[key] = p.tempat
            elif key == "tanggal_lahir":
                cells[key] = self._birth_cell(s, p.lahir)
            elif key == "ttl":
                cells[key] = f"{p.tempat}, {self._date_text(s.birth, p.lahir)}"
            elif key == "jenis_kelamin":
                cells[key] = s.sex_values[0] if p.sex == "L" else s.sex_values[1]
            elif key == "desa":
                cells[key] = self._desa_cell(s, v)
            elif key == "kecamatan":
                cells[key] = v.nama_kecamatan if rng.random() < 0.7 else v.nama_kecamatan.upper()
            elif key == "pekerjaan":
                cells[key] = rng.pick(JOBS)
            elif key == "no_hp":
                cells[key] = f"08{rng.pick('1235')}{rng.between(10_000_000, 999_999_999)}"
            elif key == "alamat":
                cells[key] = f"RT {rng.between(1, 12):03d}/RW {rng.between(1, 5):03d}"
                if rng.random() < 0.3:
                    cells[key] = f"Jl. {rng.pick(VILLAGE_ROOTS)} No. {rng.between(1, 90)}, {cells[key]}"
            elif key == "no_kk":
                cells[key] = f"6203{v.kode[6:8]}{rng.between(10**9, 10**10 - 1)}"
            elif key == "keterangan":
                cells[key] = rng.pick(("", "", "", "usulan baru", "lanjutan 2025"))
        return cells

    # -- rows ------------------------------------------------------------------------------------------------

    def _materialise(self, f: _File) -> None:
        rows: list[_Row] = []
        for kind in f.kinds:
            rows.extend(self._rows_for(kind, f))
        if f.role == "too_many":
            rows = [replace(r, reasons=(*r.reasons, "too_many_rejected")) for r in rows]
        elif f.role == "column_missing":
            rows = [replace(r, outcome=REJECTED, reasons=("column_missing",), clean=False) for r in rows]
        elif f.sexless:
            rows = [replace(r, reasons=("sex_from_nik",), clean=False) for r in rows]
        if f.style.blank_row and len(rows) > 3:
            rows.insert(self.rng.between(2, len(rows) - 1), _Row({}, "", (), None, blank=True))
        f.rows = rows

    def _rows_for(self, kind: str, f: _File) -> list[_Row]:
        rng, s, v = self.rng, f.style, f.village
        if kind == "nik_shared":
            # A family card number pasted for a household: one 16-digit value, different names.
            kk_day = date(rng.between(2008, 2020), rng.between(1, 12), rng.between(1, 28))
            kk = self._nik(f"6203{v.kode[6:8]}", kk_day, "L")
            rows = []
            for _ in range(3):
                p = self._person(v)
                cells = self._cells(f, p)
                cells["nik"] = kk
                rows.append(_Row(cells, REJECTED, ("nik_shared",), p))
            return rows
        born: date | None = None
        if kind == "age70":
            born = _years_before(self.as_of, 70) - timedelta(days=rng.between(1, 300))
        elif kind == "decoy":
            born = date(self.as_of.year - rng.between(25, 55), 7, 1)
        p = self._person(v, born=born, accents=s.accents and kind == "clean")
        if kind == "probable" and p.nama == p.inti and rng.random() < 0.5:
            p.nama = f"{'H.' if p.sex == 'L' else 'Hj.'} {p.inti}"
        if kind in ("probable", "decoy"):
            p.role = kind
        if kind == "mismatch":
            # The NIK keeps the birth date first registered; the stated one was corrected later.
            shift = rng.pick((1, 2, 3, 5, 9, 11, 14, 30, 31, 61, 365))
            nik_born = p.lahir + timedelta(days=shift * rng.pick((1, -1)))
            if not AGE_RANGE[0] <= _age(nik_born, self.as_of) <= AGE_RANGE[1]:
                nik_born = p.lahir + timedelta(days=shift if _age(p.lahir, self.as_of) > 30 else -shift)
            self.used_niks.discard(p.nik)
            p.nik = self._nik(p.nik[:6], nik_born, p.sex)
        cells = self._cells(f, p)
        nik = p.nik
        outcome, reasons = (REJECTED, E_KINDS[kind]) if kind in E_KINDS else (ACCEPTED, W_KINDS.get(kind, ()))
        if kind == "precision_num":
            # Excel keeps 15 significant digits: the 16th became 0. The serial's last digit was never 0.
            cells["nik"] = float(int(nik[:15] + "0"))
        elif kind == "precision_sci":
            cells["nik"] = f"{int(nik):.5E}"
        elif kind == "nik_format":
            cut = rng.between(6, 15)
            cells["nik"] = nik[:cut] + nik[cut + 1 :]
        elif kind == "nik_region_00":
            cells["nik"] = "00" + nik[2:]
        elif kind == "nik_region_99":
            cells["nik"] = "99" + nik[2:]
        elif kind == "nik_date":
            cells["nik"] = nik[:8] + "13" + nik[10:]
        elif kind == "nik_spaces":
            cells["nik"] = " ".join(nik[i : i + 4] for i in range(0, 16, 4))
        elif kind == "nik_dots":
            cells["nik"] = f"{nik[:2]}.{nik[2:4]}.{nik[4:6]}.{nik[6:12]}.{nik[12:]}"
        elif kind == "nik_apostrophe":
            cells["nik"] = "'" + nik
        elif kind == "nik_missing":
            cells["nik"] = None
        elif kind == "name_missing":
            cells["nama"] = None
        elif kind in ("birth_impossible", "birth_missing", "birth_future"):
            self._bad_birth(kind, f, p, cells)
        elif kind == "sex_invalid":
            cells["jenis_kelamin"] = "X"
        elif kind == "sex_empty":
            cells["jenis_kelamin"] = None
        elif kind == "village_unknown":
            cells["desa"] = UNKNOWN_VILLAGE
        elif kind == "sungai_pasah":
            cells["desa"] = "Sungai Pasah"
        elif kind == "empty_desa":
            cells["desa"] = None
        clean = kind in ("clean", "nik_spaces", "nik_apostrophe", "empty_desa")
        return [_Row(cells, outcome, reasons, p, clean=clean and not reasons)]

    def _bad_birth(self, kind: str, f: _File, p: _Person, cells: dict[str, Cell]) -> None:
        s = f.style
        key = "ttl" if s.has("ttl") else "tanggal_lahir"
        if kind == "birth_missing":
            cells[key] = None
            return
        if kind == "birth_future":
            day = self.as_of + timedelta(days=self.rng.between(60, 400))
            value: Cell = self._birth_cell(s, day) if key == "tanggal_lahir" else self._date_text(s.birth, day)
        else:
            year = p.lahir.year
            text = {
                "dmy_dash": f"31-02-{year}",
                "iso": f"{year}-02-31",
                "d_month_y": f"31 Februari {year}",
                "d_mon_yy": f"31-Feb-{year % 100:02d}",
            }.get(s.birth, f"31/02/{year}")
            value = text
        cells[key] = f"{p.tempat}, {value}" if key == "ttl" else value

    def _materialise_old(self, f: _File) -> None:
        """An older list of the village: most people of the newer one, some dropped since, one bad NIK."""
        new = next(x for x in self.files if x.village is f.village and x.role == "current")
        kept = [r.person for r in new.rows if r.outcome == ACCEPTED and r.person is not None and not r.person.role]
        kept = self.rng.sample(kept, k=int(len(kept) * 0.75))
        dropped = [self._person(f.village) for _ in range(max(2, len(kept) // 5))]
        people = kept + dropped
        self.rng.shuffle(people)
        rows = [_Row(self._cells(f, p), SUPERSEDED, (), p) for p in people]
        # A superseded list is not validated: its bad NIK does not make a reason.
        bad = rows[len(rows) // 2]
        if isinstance(bad.cells.get("nik"), str):
            bad.cells["nik"] = str(bad.cells["nik"])[:-1]
        f.rows = rows
        f.status, f.reason = SUPERSEDED, "newer_submission"
        f.dropped = dropped

    def _duplicates_in_file(self) -> None:
        """The same person typed twice in one file: the later row is the duplicate."""
        hosts = self._hosts()
        n_extra = 0 if self.n_villages < 40 else round(0.004 * self.workers)
        chosen = [self.rng.pick(hosts) for _ in range(n_extra)]
        chosen.insert(0, next(f for f in hosts if f.village.kode == "62.03.15.2004"))
        for f in chosen:
            clean = [i for i, r in enumerate(f.rows) if r.clean and r.person is not None and not r.person.role]
            if not clean:
                continue
            i = self.rng.pick(clean)
            original = f.rows[i]
            original.clean = False
            copy = _Row(dict(original.cells), DUP_IN_FILE, (), original.person)
            f.rows.insert(self.rng.between(i + 1, min(i + 6, len(f.rows))), copy)

    def _duplicates_across_villages(self) -> None:
        """The same person on two villages' lists: the later file (ties: higher kode_desa) has the duplicate."""
        candidates = [f for f in self._hosts() if f.date_in_name and not any(f is c.copy_of for c in self.files)]
        by_kode = {f.village.kode: f for f in candidates}
        pairs = [
            (by_kode["62.03.07.1001"], by_kode["62.03.07.2010"]),
            (by_kode["62.03.13.2009"], by_kode["62.03.15.2004"]),
        ]
        if self.n_villages >= 40:
            for _ in range(round(0.004 * self.workers)):
                a, b = self.rng.sample(candidates, 2)
                pairs.append((a, b))
        for source, target in pairs:
            clean = [r for r in source.rows if r.clean and r.person is not None and not r.person.role]
            if not clean:
                continue
            original = self.rng.pick(clean)
            original.clean = False
            assert original.person is not None
            row = _Row(self._cells(target, original.person), ACCEPTED, (), original.person)
            target.rows.insert(self.rng.between(1, len(target.rows)), row)
        # Who keeps the person is decided by submission order, not by the order the copies were made.
        seen: dict[str, list[tuple[date, str, _Row]]] = defaultdict(list)
        for f in candidates:
            for r in f.rows:
                if r.outcome == ACCEPTED and r.person is not None:
                    seen[r.person.nik].append((f.submitted, f.village.kode, r))
        for occurrences in seen.values():
            occurrences.sort(key=lambda o: (o[0], o[1]))
            for _, _, r in occurrences[1:]:
                r.outcome, r.reasons, r.clean = DUP_ACROSS, (), False

    def _number_rows(self) -> None:
        for f in self.files:
            header = 3 if f.style.title else 1
            for i, r in enumerate(f.rows):
                r.source_row = header + 1 + i

    # -- persons and the BPJS export -------------------------------------------------------------------------

    def _kpj(self) -> str:
        while True:
            kpj = str(self.rng.between(10_000_000_000, 99_999_999_999))
            if kpj not in self.used_kpj:
                self.used_kpj.add(kpj)
                return kpj

    def _payer(self, kind: str, village: _Village | None = None) -> tuple[str, str]:
        """(PEMBAYAR, SEGMEN) of a kind of payer; only "regency" is paid by the Pemkab (name and/or segment SA)."""
        rng = self.rng
        if kind == "regency":
            return rng.weighted(
                (
                    ("PEMKAB KAPUAS", "SA"),
                    ("Pemkab Kapuas", "SA"),
                    ("DINAS SOSIAL KAB. KAPUAS", "SA"),
                    ("PEMKAB KAPUAS", "SG"),
                ),
                (80, 5, 10, 5),
            )
        if kind == "desa":
            v = village or rng.pick(self.villages)
            return f"PEMDES {v.nama.upper()}", "SD"
        if kind == "mandiri":
            return "MANDIRI", ""
        if kind == "province":
            return "PEMPROV KALTENG", "SG"
        if kind == "bank":
            return rng.pick(("BANK KALTENG CAB. KUALA KAPUAS", "BRI UNIT MANTANGAI")), "SB"
        company = rng.pick(("SAWIT", "KARYA", "BORNEO", "MITRA", "AGRO", "KAHAYAN", "BARITO", "SUMBER"))
        return f"PT {company} {rng.pick(('LESTARI', 'JAYA', 'ABADI', 'MAKMUR', 'PERKASA'))}", "SC"

    def _ordinary_payer(self) -> str:
        return self.rng.weighted(("company", "mandiri", "desa", "province", "bank"), (45, 30, 15, 5, 5))

    def _dates(self, state: str) -> tuple[date, date, date | None]:
        """(TGL_KEPESERTAAN, TGL_BERAKHIR, MASA_GRACE or None) of a membership in `state` on as_of."""
        rng, today = self.rng, self.as_of.toordinal()
        if state == "covered":
            end = today + rng.between(0, 200)
        elif state == "grace":
            end = today - rng.between(1, 80)
        else:
            end = today - rng.between(130, 2200)
        start = max(min(end - rng.between(30, 2000), today), EARLIEST_MEMBERSHIP)
        grace = None if rng.random() < 0.15 else _add_months(date.fromordinal(end), 3)
        return date.fromordinal(start), date.fromordinal(end), grace

    def _member(
        self, nik: str, nama: str, lahir: date, state: str, payer: str, village: _Village | None = None
    ) -> _Member:
        start, end, grace = self._dates(state)
        pembayar, segmen = self._payer(payer, village)
        jht = 1 if segmen == "SC" or self.rng.random() < 0.1 else 0
        member = _Member(self._kpj(), nik, nama, lahir, start, end, grace, pembayar, segmen, jht, state)
        self.members.append(member)
        return member

    def _export_name(self, p: _Person) -> str:
        """How BPJS writes the same person: case, spacing, a title, MUH./MOH. or ABD, nothing else."""
        rng = self.rng
        words = p.inti.upper().split()
        r = rng.random()
        if r < 0.12 and words[0] in ("MUHAMMAD", "MUH.", "MOH."):
            words[0] = "MUHAMMAD" if words[0] != "MUHAMMAD" else rng.pick(("MUH.", "MOH."))
        elif r < 0.24 and words[0] in ("ABDUL", "ABD"):
            words[0] = "ABD" if words[0] == "ABDUL" else "ABDUL"
        elif r < 0.3:
            return "  ".join(words)
        elif r < 0.33:
            return "H. " + " ".join(words) if p.sex == "L" else "HJ. " + " ".join(words)
        elif r < 0.45:
            return p.nama.upper()
        elif r < 0.5:
            return p.inti.title()
        return " ".join(words)

    def _other_name(self, p: _Person) -> str:
        """Somebody else entirely: no word in common."""
        while True:
            sex = self.rng.pick("LP")
            nama, _ = self._name(sex, titles=False)
            if not set(nama.upper().split()) & set(p.inti.upper().split()):
                return nama.upper()

    def _persons_and_members(self) -> list[tuple[str, str, str]]:
        rng, as_of = self.rng, self.as_of
        accepted: list[tuple[_Person, _Village]] = []
        for f in sorted(self.files, key=lambda f: f.name):
            if f.role == "current":
                accepted.extend((r.person, f.village) for r in f.rows if r.outcome == ACCEPTED and r.person)
        listed = {p.nik for p, _ in accepted}
        assert len(listed) == len(accepted), "an accepted NIK twice"
        # Status by construction: a few of each rare kind first, then the usual shares.
        plain = [(p, v) for p, v in accepted if not p.role]
        order = rng.sample(plain, len(plain))
        n_conflict = max(1, round(0.0015 * self.workers))
        forced = ["identity_conflict"] * n_conflict + ["active", "grace", "grace", "lapsed", "lapsed", "not_enrolled"]
        status: dict[str, str] = {}
        for i, (p, _) in enumerate(order):
            if i < len(forced):
                status[p.nik] = forced[i]
            else:
                status[p.nik] = rng.weighted(("active", "grace", "lapsed", "not_enrolled"), (55, 5, 10, 25))
        for p, _ in accepted:
            if p.role == "probable":
                status[p.nik] = "probable_match"
            elif p.role == "decoy":
                status[p.nik] = "not_enrolled"
        # Nobody absent from the export may be one typo away from a stray member.
        for p, _ in accepted:
            if status[p.nik] in ("not_enrolled", "probable_match"):
                self.near.update(_nik_neighbours(p.nik))
        self.near.difference_update(listed)
        for p, v in accepted:
            st = status[p.nik]
            if st in ("active", "grace", "lapsed"):
                state = {"active": "covered", "grace": "grace", "lapsed": "lapsed"}[st]
                payer = rng.weighted(("regency", "desa", "mandiri", "company"), (60, 20, 15, 5))
                m = self._member(p.nik, self._export_name(p), p.lahir, state, payer, v)
                self._boundary(m)
                extra = rng.random()
                if extra < 0.08:
                    # An older, lapsed membership under another KPJ: the pipeline keeps the better one.
                    self._member(p.nik, self._export_name(p), p.lahir, "lapsed", "mandiri")
                elif extra < 0.1 and state == "covered":
                    self._member(p.nik, self._export_name(p), p.lahir, "covered", "company")
            elif st == "identity_conflict":
                state = rng.pick(("covered", "covered", "grace", "lapsed"))
                self._member(p.nik, self._other_name(p), self._birth(), state, self._ordinary_payer())
            elif st == "probable_match":
                self._probable_member(p)
            elif p.role == "decoy":
                # Same birth date (1 July), same name, a NIK 3+ digits away: not the same person.
                serial = p.nik[12:]
                while True:
                    other = f"{rng.between(11, 9999):04d}"
                    if sum(a != b for a, b in zip(serial, other, strict=True)) >= 3 and other[-1] != "0":
                        nik = p.nik[:12] + other
                        if nik not in self.used_niks and nik not in self.near:
                            break
                self.used_niks.add(nik)
                self._member(nik, p.inti.upper(), p.lahir, "covered", "mandiri")
        ens = self._unlisted_regency(listed)
        self._bulk_members()
        persons = [(p.nik, v.kode, status[p.nik]) for p, v in accepted]
        persons.extend((nik, "", "enrolled_not_submitted") for nik in ens)
        assert all(m.state == self._state(m) for m in self.members)
        assert all(m.mulai <= as_of for m in self.members)
        return sorted(persons)

    def _boundary(self, m: _Member) -> None:
        """Put the first listed members of each state exactly on the edges of the state rules."""
        as_of = self.as_of
        if not 2 <= as_of.day <= 28:  # month-end clamping would blur the edges
            return
        wanted = {
            "covered": ("covered_end",),
            "grace": ("grace_end", "grace_empty"),
            "lapsed": ("lapsed_end", "lapsed_empty"),
        }[m.state]
        case = next((c for c in self.boundary_cases if c in wanted), None)
        if case is None:
            return
        self.boundary_cases.remove(case)
        if case == "covered_end":
            m.berakhir, m.grace = as_of, _add_months(as_of, 3)
        elif case == "grace_end":
            m.berakhir, m.grace = _add_months(as_of, -3), as_of
        elif case == "grace_empty":
            m.berakhir, m.grace = _add_months(as_of, -3), None
        elif case == "lapsed_end":
            m.berakhir, m.grace = _add_months(as_of, -3) - timedelta(days=1), as_of - timedelta(days=1)
        elif case == "lapsed_empty":
            m.berakhir, m.grace = _add_months(as_of, -3) - timedelta(days=1), None
        m.mulai = min(m.mulai, m.berakhir - timedelta(days=30))

    def _probable_member(self, p: _Person) -> None:
        """The person under a NIK with one typo: one adjacent transposition or one substitution in the serial."""
        rng = self.rng
        while True:
            i = rng.between(12, 14)
            if rng.random() < 0.5 and p.nik[i] != p.nik[i + 1]:
                nik = p.nik[:i] + p.nik[i + 1] + p.nik[i] + p.nik[i + 2 :]
            else:
                digit = rng.pick([d for d in "123456789" if d != p.nik[i]])
                nik = p.nik[:i] + digit + p.nik[i + 1 :]
            # Exactly one listed person may be this member's neighbour: only `p`.
            neighbours_listed = [n for n in _nik_neighbours(nik) if n in self.used_niks and n != p.nik]
            if nik not in self.used_niks and not neighbours_listed:
                break
        self.used_niks.add(nik)
        state = rng.pick(("covered", "covered", "grace", "lapsed"))
        payer = "regency" if state != "lapsed" and rng.random() < 0.5 else self._ordinary_payer()
        self._member(nik, p.inti.upper() if rng.random() < 0.7 else p.nama.upper(), p.lahir, state, payer)

    def _unlisted_regency(self, listed: set[str]) -> list[str]:
        """Regency-paid members on no current list: covered or in grace -> enrolled_not_submitted; lapsed -> none."""
        rng = self.rng
        target = max(2, round(0.025 * self.workers))
        candidates: list[_Person] = []
        # People a newer list dropped, and the person whose NIK Excel cut, are still paid for by the regency.
        for f in sorted(self.files, key=lambda f: f.name):
            candidates.extend(f.dropped[::2])
            if f.role == "current":
                candidates.extend(
                    r.person
                    for r in f.rows
                    if r.outcome == REJECTED
                    and r.person
                    and "nik_precision_lost" in r.reasons
                    and isinstance(r.cells.get("nik"), float)
                )
        candidates = [p for p in candidates if p.nik not in listed and p.nik not in self.near]
        ens: list[str] = []
        for p in candidates[:target]:
            state = "covered" if rng.random() < 0.85 else "grace"
            self._member(p.nik, self._export_name(p), p.lahir, state, "regency")
            ens.append(p.nik)
        while len(ens) < target:
            v = rng.pick(self.villages)
            p = self._person(v)
            state = "covered" if rng.random() < 0.85 else "grace"
            self._member(p.nik, self._export_name(p), p.lahir, state, "regency")
            if rng.random() < 0.1:
                # Also an old lapsed MANDIRI membership: the regency-paid one is chosen either way.
                self._member(p.nik, self._export_name(p), p.lahir, "lapsed", "mandiri")
            ens.append(p.nik)
        for _ in range(max(1, round(0.01 * self.workers))):
            # Regency-paid but lapsed and unlisted: no person row.
            p = self._person(rng.pick(self.villages))
            self._member(p.nik, self._export_name(p), p.lahir, "lapsed", "regency")
        # Covered under a company, with an old lapsed regency membership: not the regency's to count.
        p = self._person(rng.pick(self.villages))
        self._member(p.nik, self._export_name(p), p.lahir, "lapsed", "regency")
        self._member(p.nik, self._export_name(p), p.lahir, "covered", "company")
        return ens

    def _bulk_members(self) -> None:
        """Everybody else insured in the regency: wage earners, self-payers, village-paid, province-paid."""
        rng = self.rng
        target = 6 * self.workers
        while len(self.members) < target:
            v = rng.pick(self.villages)
            sex = rng.pick("LP")
            born = self._birth(18, 64)
            prefix = f"62{rng.pick(('71', '11', '07'))}{rng.between(1, 9):02d}" if rng.random() < 0.1 else None
            if prefix is None:
                prefix, _ = self._nik_prefix(v.kode[6:8])
            nama, inti = self._name(sex)
            nik = self._nik(prefix, born, sex)
            p = _Person(nik, nama, inti, born, sex, "")
            state = rng.weighted(("covered", "grace", "lapsed"), (62, 4, 34))
            payer = self._ordinary_payer()
            self._member(nik, self._export_name(p), born, state, payer, v)
            if rng.random() < 0.02:
                self._member(nik, self._export_name(p), born, "lapsed", payer, v)

    def _state(self, m: _Member) -> str:
        """The state rule, used only to check the generator's own dates."""
        grace = m.grace or _add_months(m.berakhir, 3)
        if m.mulai <= self.as_of <= m.berakhir:
            return "covered"
        if m.berakhir < self.as_of <= grace:
            return "grace"
        return "lapsed"

    def _old_export(self) -> list[_Member]:
        """A few hundred members of an export three months older, only to be passed over for the newer one."""
        cutoff = self.as_of - timedelta(days=OLD_EXPORT_LAG_DAYS)
        pool = [m for m in sorted(self.members, key=lambda m: m.kpj) if m.mulai <= cutoff]
        return pool[: min(300, len(pool))]


# ---------------------------------------------------------------------------------------------------------------
# Writing


@functools.cache
def _dd_mmm_yy(d: date, month: str) -> str:
    return f"{d.day:02d}-{month}-{d.year % 100:02d}"


def _export_date(d: date, rng: _Random) -> str:
    """BPJS style "15-AGS-26"; August is AGT in some rows, as both abbreviations are in use."""
    month = MONTHS_ABBR[d.month - 1]
    if d.month == 8 and rng.random() < 0.4:
        month = "AGT"
    return _dd_mmm_yy(d, month)


BPJS_COLUMNS = ("KPJ", "NIK", "NAMA", "TGL_LAHIR", "TGL_KEPESERTAAN", "TGL_BERAKHIR", "MASA_GRACE", "STATUS",
                "PEMBAYAR", "SEGMEN", "JKK", "JKM", "JHT")  # fmt: skip


def _check_bpjs_headers() -> None:
    expected = ("kpj", "nik", "nama", "tgl_lahir", "tgl_kepesertaan", "tgl_berakhir", "masa_grace", "status",
                "pembayar", "segmen", "jkk", "jkm", "jht")  # fmt: skip
    for text, key in zip(BPJS_COLUMNS, expected, strict=True):
        if BPJS_INDEX.get(header_key(text)) != key:
            raise AssertionError(f"BPJS header {text!r} would not be read as {key!r}")


def _member_values(m: _Member, rng: _Random, *, serial: bool) -> list[str]:
    def fmt(d: date | None) -> str:
        if d is None:
            return ""
        return str(_serial(d)) if serial else _export_date(d, rng)

    status = "NON AKTIF" if m.state == "lapsed" else "AKTIF"
    return [
        m.kpj,
        m.nik,
        m.nama,
        fmt(m.lahir),
        fmt(m.mulai),
        fmt(m.berakhir),
        fmt(m.grace),
        status,
        m.pembayar,
        m.segmen,
        "1",
        "1",
        str(m.jht),
    ]


def _csv_bytes(header: Sequence[str], rows: Iterable[Sequence[str]], *, encoding: str, delimiter: str) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


def _text(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return str(int(value))
    if isinstance(value, date):
        return f"{value.day:02d}/{value.month:02d}/{value.year}"
    return value


def _submission_bytes(f: _File) -> bytes:
    s = f.style
    headers = [text for _, text in s.columns]
    if s.fmt == "csv":
        lines: list[list[str]] = []
        number = 0
        for r in f.rows:
            if r.blank:
                lines.append([""] * len(headers))
                continue
            number += 1
            lines.append([str(number) if k == "no" else _text(r.cells.get(k)) for k, _ in s.columns])
        return _csv_bytes(headers, lines, encoding=s.encoding, delimiter=s.delimiter)
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    created = datetime(f.submitted.year, f.submitted.month, f.submitted.day, 9, 0, 0)
    workbook.set_properties({"created": created, "author": "Operator Desa", "title": "Usulan pekerja rentan"})
    sheet = workbook.add_worksheet("Usulan")
    bold = workbook.add_format({"bold": True})
    date_format = workbook.add_format({"num_format": "dd/mm/yyyy"})
    top = 0
    if s.title:
        title = workbook.add_format({"bold": True, "align": "center", "font_size": 14})
        heading = f"DAFTAR USULAN PEKERJA RENTAN {'KELURAHAN' if f.village.kelurahan else 'DESA'} "
        sheet.merge_range(0, 0, 0, len(headers) - 1, heading + f.village.nama.upper(), title)
        top = 2
    for c, text in enumerate(headers):
        sheet.write_string(top, c, text, bold)
    number = 0
    for r in f.rows:
        row = r.source_row - 1
        if r.blank:
            continue
        number += 1
        for c, (key, _) in enumerate(s.columns):
            value = float(number) if key == "no" else r.cells.get(key)
            if value is None or value == "":
                continue
            if isinstance(value, float):
                sheet.write_number(row, c, value)
            elif isinstance(value, date):
                sheet.write_datetime(row, c, datetime(value.year, value.month, value.day), date_format)
            else:
                sheet.write_string(row, c, value)
    sheet.set_column(0, len(headers) - 1, 18)
    workbook.close()
    return buffer.getvalue()


def _bpjs_xlsx(members: Sequence[_Member], made: date, rng: _Random) -> bytes:
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    workbook.set_properties({"created": datetime(made.year, made.month, made.day, 7, 0, 0), "author": "BPJSTK"})
    sheet = workbook.add_worksheet("Peserta")
    date_format = workbook.add_format({"num_format": "dd-mmm-yy"})
    for c, text in enumerate(BPJS_COLUMNS):
        sheet.write_string(0, c, text)
    dates = {3: "lahir", 4: "mulai", 5: "berakhir", 6: "grace"}
    for i, m in enumerate(members, start=1):
        as_cells = rng.random() < 0.5
        for c, value in enumerate(_member_values(m, rng, serial=False)):
            day = getattr(m, dates[c]) if c in dates else None
            if as_cells and isinstance(day, date):
                sheet.write_datetime(i, c, datetime(day.year, day.month, day.day), date_format)
            elif c in (10, 11, 12):
                sheet.write_number(i, c, int(value))
            elif value:
                sheet.write_string(i, c, value)
    workbook.close()
    return buffer.getvalue()


def _write_bytes(path: Path, data: bytes, mtime: datetime) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    stamp = mtime.replace(tzinfo=UTC).timestamp()
    os.utime(path, (stamp, stamp))


def _truth_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(["" if v is None else str(v) for v in row] for row in rows)
    return buffer.getvalue().encode("utf-8")


COVERAGE_COLUMNS = (
    "level", "kode", "submitted_rows", "accepted", "rejected", "duplicates", "superseded", "persons", "active",
    "grace", "lapsed", "not_enrolled", "identity_conflict", "probable_match", "enrolled_not_submitted",
    "members_active_total",
)  # fmt: skip


def _coverage(sample: _Sample) -> list[list[object]]:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    kecamatan_of = {v.kode: v.kode_kecamatan for v in sample.villages}

    def add(kode: str | None, key: str) -> None:
        # A row counts at its village, that village's kecamatan, and the regency.
        targets = [REGION] if kode is None else [kode, kecamatan_of[kode], REGION]
        for target in targets:
            counts[target][key] += 1

    outcome_column = {
        ACCEPTED: "accepted",
        REJECTED: "rejected",
        DUP_IN_FILE: "duplicates",
        DUP_ACROSS: "duplicates",
        SUPERSEDED: "superseded",
    }
    for f in sample.files:
        for r in f.rows:
            if r.blank:
                continue
            add(f.village.kode, "submitted_rows")
            add(f.village.kode, outcome_column[r.outcome])
    for _, kode, status in sample.persons:
        if status == "enrolled_not_submitted":
            # Not on any list, so in no village: a person of the regency only.
            counts[REGION][status] += 1
            counts[REGION]["persons"] += 1
            continue
        add(kode, "persons")
        add(kode, status)
    best: dict[str, bool] = defaultdict(bool)
    for m in sample.members:
        best[m.nik] |= m.state == "covered"
    active_total = sum(best.values())
    table: list[list[object]] = []
    levels = [
        ("desa", sorted(v.kode for v in sample.villages)),
        ("kecamatan", sorted({v.kode_kecamatan for v in sample.villages})),
        ("kabupaten", [REGION]),
    ]
    for level, kodes in levels:
        for kode in kodes:
            c = counts[kode]
            row: list[object] = [level, kode, *(c[name] for name in COVERAGE_COLUMNS[2:-1])]
            row.append(active_total if level == "kabupaten" else "")
            table.append(row)
    return table


def _write(out: Path, sample: _Sample, *, seed: int, workers: int, as_of: date) -> SampleSummary:
    _check_bpjs_headers()
    rng = _Random(seed * 7919 + 1)
    noon = datetime(as_of.year, as_of.month, as_of.day)
    submissions = out / "submissions"
    files = sorted(sample.files, key=lambda f: f.name)
    for f in files:
        if f.role != "copy" and f.role != "corrupt":
            f.data = _submission_bytes(f)
    for i, f in enumerate(files):
        data = f.copy_of.data if f.copy_of is not None else f.data
        stamp = datetime(f.submitted.year, f.submitted.month, f.submitted.day, 12, 0, 0) + timedelta(seconds=i)
        _write_bytes(submissions / f.name, data, stamp)

    main_day = as_of - timedelta(days=MAIN_EXPORT_LAG_DAYS)
    old_day = as_of - timedelta(days=OLD_EXPORT_LAG_DAYS)
    main_name = f"bpjs_export_{main_day.isoformat()}.csv"
    members = sorted(sample.members, key=lambda m: m.kpj)
    lines = [_member_values(m, rng, serial=rng.random() < 0.08) for m in members]
    _write_bytes(
        out / "bpjs" / main_name,
        _csv_bytes(BPJS_COLUMNS, lines, encoding="utf-8", delimiter=","),
        datetime(main_day.year, main_day.month, main_day.day, 18),
    )
    _write_bytes(
        out / "bpjs" / f"bpjs_export_{old_day.isoformat()}.xlsx",
        _bpjs_xlsx(sample.old_members, old_day, rng),
        datetime(old_day.year, old_day.month, old_day.day, 18),
    )

    villages = [[v.kode, v.nama, v.kode_kecamatan, v.nama_kecamatan, v.kuota] for v in sample.villages]
    _write_bytes(
        out / "reference" / "villages.csv",
        _truth_csv(("kode_desa", "nama_desa", "kode_kecamatan", "nama_kecamatan", "kuota"), villages),
        noon,
    )
    workforce = [[REGION, as_of.year - 1, round(153_000 * workers / 10_000), "contoh sintetis, bukan angka BPS"]]
    _write_bytes(
        out / "reference" / "workforce.csv",
        _truth_csv(("kode", "tahun", "penduduk_bekerja", "sumber"), workforce),
        noon,
    )

    truth_rows = sorted(
        (f.name, r.source_row, r.outcome, ";".join(sorted(r.reasons)), r.person.nik if r.person else "")
        for f in files
        for r in f.rows
        if not r.blank
    )
    _write_bytes(
        out / "truth" / "rows.csv",
        _truth_csv(("source_file", "source_row", "outcome", "reasons", "nik"), truth_rows),
        noon,
    )
    truth_files = [(f.name, f.village.kode, f.status, f.reason) for f in files]
    _write_bytes(
        out / "truth" / "files.csv", _truth_csv(("source_file", "kode_desa", "status", "reason"), truth_files), noon
    )
    _write_bytes(out / "truth" / "persons.csv", _truth_csv(("nik", "kode_desa", "status"), sample.persons), noon)
    _write_bytes(out / "truth" / "coverage.csv", _truth_csv(COVERAGE_COLUMNS, _coverage(sample)), noon)
    manifest = {
        "seed": seed,
        "as_of": as_of.isoformat(),
        "villages": len(sample.villages),
        "workers": workers,
        "bpjs_export": main_name,
        "pii": "synthetic",
    }
    _write_bytes(out / "truth" / "manifest.json", (json.dumps(manifest, indent=2) + "\n").encode(), noon)

    by_status = Counter(status for _, _, status in sample.persons)
    return SampleSummary(
        out=out,
        villages=len(sample.villages),
        files=len(files),
        rows=len(truth_rows),
        members=len(members),
        persons={status: by_status[status] for status in PERSON_STATUSES},
    )
