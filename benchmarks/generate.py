"""Deterministic benchmark inputs: village lists as CSV files, a BPJS export and the village reference list.

Three sizes (issue 7): S is one regency (Kabupaten Kapuas: 17 kecamatan, 231 villages), M a province, L the
nation, with about 120 rows per village file at M and L (8,333 and 83,333 files: one file per village, as the
villages really send them). Layout of ``BENCH_DIR/<size>/inputs/``::

    submissions/<kode desa, 10 digits>_<Nama_Desa>_<YYYY-MM-DD>.csv   one current list per village; 2% of the
                                                                      villages also sent an older list
    bpjs/bpjs_export_<YYYY-MM-DD>.csv                                 the BPJS Ketenagakerjaan export
    reference/villages.csv, reference/workforce.csv

and ``manifest.json`` next to ``inputs/`` (seed, size, generator version, counts, seconds taken), written last:
a manifest that matches means the inputs are complete and are reused.

What is in them (fractions of list rows): four file templates with the header synonyms, delimiters, date and
sex spellings of cakupan/headers.py; valid NIKs (region prefix of the village's kecamatan, 10% of another
kecamatan, birth date DDMMYY with 40 added for women, serial 0001-4999) and about 3.7% rows with an error (NIK
missing, 15 digits, cut by Excel to "6.20304E+15", province 00, month 13, shared by two names; name missing;
impossible or missing birth date; sex "X"; unknown village), 6% with a warning, 1% in-file and 0.5%
cross-village duplicates. About 60% of the listed people are in the export (2% of those under a NIK one typo
away, 0.5% under someone else's name, 3% with a second, lapsed KPJ); the rest of the export are other members
(NIK serials 5000-9999, so never a listed NIK), 3% of them paid by the regency.

The same seed writes the same bytes. Rows are made in chunks with numpy and polars (no Python loop per row),
so memory stays bounded at L.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from cakupan.nik import PROVINCE_CODES
from cakupan.sample import (
    BPJS_COLUMNS,
    FEMALE_FIRST,
    JOBS,
    KECAMATAN,
    LAST,
    LAST_FEMALE,
    MALE_FIRST,
    MIDDLE,
    MONTHS_ABBR,
    MONTHS_FULL,
    PLACES,
    REAL_KELURAHAN,
    REAL_VILLAGES,
    VILLAGE_ROOTS,
)

# Bump when the output for a given seed changes: a manifest of another version is regenerated.
GENERATOR_VERSION = 1
RUN_DATE = date(2026, 11, 27)
EXPORT_DATE = RUN_DATE - timedelta(days=2)
EXPORT_NAME = f"bpjs_export_{EXPORT_DATE.isoformat()}.csv"
DEFAULT_SEED = 7

_EPOCH = date(1970, 1, 1)
_RUN_DAYS = (RUN_DATE - _EPOCH).days
_EARLIEST_MEMBERSHIP = (date(2015, 1, 1) - _EPOCH).days
_KPJ_BASE, _KPJ_SPAN, _KPJ_STEP = 10_000_000_000, 89_999_999_999, 2_654_435_761  # a bijection on the span
_LIST_CHUNK_ROWS = 400_000
_EXPORT_CHUNK_ROWS = 1_000_000


@dataclass(frozen=True)
class Size:
    """How much to make: rows of all village files together, export rows, villages; ``kapuas`` for the real
    kecamatan of Kabupaten Kapuas (231 villages), else a synthetic nation of 15 villages per kecamatan."""

    name: str
    list_rows: int
    export_rows: int
    villages: int
    kapuas: bool = False


SIZES: dict[str, Size] = {
    "S": Size("S", 10_000, 60_000, 231, kapuas=True),
    "M": Size("M", 1_000_000, 5_000_000, 8_333),
    "L": Size("L", 10_000_000, 50_000_000, 83_333),
}


@dataclass(frozen=True)
class Inputs:
    """Where one generated size lives."""

    root: Path

    @property
    def submissions(self) -> Path:
        return self.root / "inputs" / "submissions"

    @property
    def export_file(self) -> Path:
        return self.root / "inputs" / "bpjs" / EXPORT_NAME

    @property
    def reference(self) -> Path:
        return self.root / "inputs" / "reference"

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.json"


def bench_dir() -> Path:
    """BENCH_DIR, default benchmarks/.data (git-ignored)."""
    return Path(os.environ.get("BENCH_DIR") or Path(__file__).parent / ".data")


# ---------------------------------------------------------------------------------------------- vocabulary

# Village names are unique by construction (a mixed-radix number over these words), so every row that names its
# village resolves to exactly one. No "Sungai": "Sei" and "Sungai" are one word to the village matcher.
_PREFIXES = (
    "Sei", "Anjir", "Tumbang", "Pulau", "Lupak", "Pangkalan", "Tanjung", "Danau", "Lawang", "Petak",
    "Bukit", "Muara", "Teluk", "Handil", "Saka", "Tamban", "Bapeang", "Lamunti", "Batu", "Lunuk",
)  # fmt: skip
_ROOTS = VILLAGE_ROOTS
_SUFFIXES = ("", "Baru", "Lama", "Jaya", "Makmur", "Raya", "Hilir", "Hulu", "Permai", "Indah")
_UNKNOWN_VILLAGE = ("Tumbang Antah Berantah", "62.99.99.2999")
_COMPANIES = ("SAWIT", "KARYA", "BORNEO", "MITRA", "AGRO", "KAHAYAN", "BARITO", "SUMBER")
_COMPANY_KINDS = ("LESTARI", "JAYA", "ABADI", "MAKMUR", "PERKASA")
# Provinces in the order a synthetic nation fills them: Kalimantan Tengah first.
_PROVINCES = ("62", *(p for p in PROVINCE_CODES if p != "62"))


def _vocabulary_hash() -> str:
    """Fingerprint of every word list that reaches the bytes: a change in cakupan/sample.py regenerates."""
    words = [FEMALE_FIRST, JOBS, LAST, LAST_FEMALE, MALE_FIRST, sorted(MIDDLE.items()), MONTHS_ABBR, MONTHS_FULL]
    words += [PLACES, list(BPJS_COLUMNS), sorted(KECAMATAN.items()), sorted(REAL_VILLAGES.items())]
    words += [sorted(REAL_KELURAHAN.items()), _PREFIXES, _ROOTS, _SUFFIXES, _PROVINCES]
    return hashlib.sha256(json.dumps(words).encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------------------------- templates


@dataclass(frozen=True)
class _Template:
    """One village spreadsheet layout: (header, field) pairs, delimiter, date shape, how sex is written."""

    columns: tuple[tuple[str, str], ...]
    delimiter: str
    date: str  # dmy_slash | dmy_dash | named
    sex: tuple[str, str]
    bom: bool = False


_TEMPLATES = (
    _Template(
        (
            ("No", "no"), ("NIK", "nik"), ("Nama", "nama"), ("Tempat Lahir", "place"), ("Tanggal Lahir", "date"),
            ("Jenis Kelamin", "sex"), ("Desa/Kelurahan", "desa_name"), ("Kecamatan", "kecamatan"),
            ("Pekerjaan", "job"), ("No HP", "phone"), ("Alamat", "address"),
        ),
        ",", "dmy_slash", ("L", "P"),
    ),
    _Template(
        (
            ("NO", "no"), ("NIK KTP", "nik"), ("Nama Sesuai KTP", "nama"), ("Tmp Lahir", "place"),
            ("Tgl Lahir", "date"), ("L/P", "sex"), ("Kelurahan/Desa", "desa_name"), ("Kec", "kecamatan"),
            ("Mata Pencaharian", "job"), ("No WA", "phone"), ("Alamat Rumah", "address"),
        ),
        ";", "dmy_dash", ("LK", "PR"),
    ),
    _Template(
        (
            ("No", "no"), ("Nomor Induk Kependudukan", "nik"), ("Nama Lengkap", "nama"), ("TTL", "ttl"),
            ("Jenis Kelamin", "sex"), ("Desa", "desa_name"), ("Pekerjaan", "job"), ("Alamat", "address"),
        ),
        ",", "dmy_dash", ("Laki-laki", "Perempuan"),
    ),
    _Template(
        (
            ("NIK", "nik"), ("NAMA", "nama"), ("TANGGAL LAHIR", "date"), ("JK", "sex"), ("DESA", "desa_code"),
            ("KECAMATAN", "kecamatan"), ("PEKERJAAN", "job"), ("NO HP", "phone"),
        ),
        ",", "named", ("L", "P"), bom=True,
    ),
)  # fmt: skip

# Row kinds and their shares of the rows of a current list.
_KINDS: dict[str, float] = {
    "ok": 0.0,  # the rest
    "dup_in_file": 0.010,
    "dup_across": 0.005,
    "nik_shared": 0.002,  # and the row above it: 0.4% of rows share a NIK
    "nik_missing": 0.004,
    "nik_format": 0.006,
    "nik_sci": 0.003,
    "nik_region": 0.002,
    "nik_date": 0.002,
    "name_missing": 0.003,
    "birth_invalid": 0.004,
    "sex_invalid": 0.003,
    "village_unknown": 0.002,
    "sex_empty": 0.030,
    "age70": 0.010,
    "mismatch": 0.020,
}
_KINDS["ok"] = 1.0 - sum(_KINDS.values())
_KIND = {name: code for code, name in enumerate(_KINDS)}
_NOT_A_PERSON = ("dup_in_file", "dup_across", "nik_shared", "nik_missing", "nik_format", "nik_sci", "nik_region")
_NOT_A_PERSON += ("nik_date",)

_PAYERS = ("regency", "desa", "mandiri", "company", "province", "bank")
_LISTED_PAYER_SHARES = (0.60, 0.10, 0.20, 0.10, 0.0, 0.0)
_OTHER_PAYER_SHARES = (0.03, 0.15, 0.30, 0.45, 0.05, 0.02)
_STATES = ("covered", "grace", "lapsed")
_LISTED_STATE_SHARES = (0.70, 0.08, 0.22)
_OTHER_STATE_SHARES = (0.60, 0.10, 0.30)


def _rng(seed: int, size: Size, *stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, size.list_rows, size.export_rows, size.villages, *stream])


def _pick(words: Sequence[str], rng: np.random.Generator, n: int) -> pl.Series:
    return pl.Series(list(words), dtype=pl.String).gather(rng.integers(0, len(words), n))


def _choose(words: Sequence[str], shares: Sequence[float], rng: np.random.Generator, n: int) -> pl.Series:
    return pl.Series(list(words), dtype=pl.String).gather(rng.choice(len(words), n, p=shares))


def _z(expr: pl.Expr, width: int) -> pl.Expr:
    return expr.cast(pl.String).str.zfill(width)


# ---------------------------------------------------------------------------------------------- villages


def villages_frame(size: Size, seed: int) -> pl.DataFrame:
    """One row per village: codes, names, kuota, and the list(s) it sends (rows, date, template)."""
    if size.kapuas:
        codes, kec_names = [], {}
        for kec, count in REAL_VILLAGES.items():
            kelurahan = REAL_KELURAHAN.get(kec, 0)
            kec_names[f"62.03.{kec}"] = KECAMATAN[kec]
            codes += [f"62.03.{kec}.{1001 + j}" for j in range(kelurahan)]
            codes += [f"62.03.{kec}.{2001 + j}" for j in range(count - kelurahan)]
        if len(codes) != size.villages:
            raise ValueError(f"Kapuas has {len(codes)} villages, size {size.name} asks for {size.villages}")
        frame = pl.DataFrame({"kode_desa": codes}).with_columns(pl.col("kode_desa").str.slice(0, 8).alias("kk"))
        frame = frame.with_columns(pl.col("kk").replace_strict(kec_names).alias("nama_kecamatan"))
    else:
        i = np.arange(size.villages)
        kec_index, j = i // 15, i % 15
        regency_index = kec_index // 15
        province = pl.Series(list(_PROVINCES)).gather(regency_index // 15)
        frame = pl.DataFrame(
            {"province": province, "regency": regency_index % 15 + 1, "kec": kec_index % 15 + 1, "j": j, "k": kec_index}
        ).select(
            pl.concat_str(
                "province",
                pl.lit("."),
                _z(pl.col("regency"), 2),
                pl.lit("."),
                _z(pl.col("kec"), 2),
                pl.lit("."),
                pl.when(pl.col("j") == 0).then(pl.lit(1001)).otherwise(pl.col("j") + 2000).cast(pl.String),
            ).alias("kode_desa"),
            # "Mantaren 12": unique, and no single digit (which the village matcher reads as a Roman numeral).
            pl.concat_str(
                pl.Series(list(_ROOTS)).gather(kec_index % len(_ROOTS)),
                pl.lit(" "),
                (pl.col("k") // len(_ROOTS) + 10).cast(pl.String),
            ).alias("nama_kecamatan"),
        )
        frame = frame.with_columns(pl.col("kode_desa").str.slice(0, 8).alias("kk"))
    n = frame.height
    i = np.arange(n)
    name_parts = pl.DataFrame(
        {
            "prefix": pl.Series(list(_PREFIXES)).gather(i % len(_PREFIXES)),
            "root": pl.Series(list(_ROOTS)).gather(i // len(_PREFIXES) % len(_ROOTS)),
            "suffix": pl.Series(list(_SUFFIXES)).gather(i // (len(_PREFIXES) * len(_ROOTS)) % len(_SUFFIXES)),
            "number": i // (len(_PREFIXES) * len(_ROOTS) * len(_SUFFIXES)),
        }
    ).select(
        pl.concat_str(
            "prefix",
            pl.lit(" "),
            "root",
            pl.when(pl.col("suffix") != "").then(pl.lit(" ") + pl.col("suffix")),
            pl.when(pl.col("number") > 0).then(pl.lit(" ") + (pl.col("number") + 10).cast(pl.String)),
            ignore_nulls=True,
        ).alias("nama_desa")
    )
    rng = _rng(seed, size, 1)
    weights = rng.uniform(0.6, 1.4, n)
    exact = size.list_rows * weights / weights.sum()
    rows = np.floor(exact).astype(np.int64)
    rows[np.argsort(rows - exact, kind="stable")[: size.list_rows - rows.sum()]] += 1
    resubmitted = (rng.random(n) < 0.02) & (rows >= 6)
    rows_old = np.where(resubmitted, rows // 3, 0)
    day_new = rng.integers(3, 31, n)
    day_old = day_new + rng.integers(30, 61, n)
    frame = pl.concat([frame, name_parts], how="horizontal").with_columns(
        pl.col("kk").alias("kode_kecamatan"),
        pl.col("kode_desa").str.replace_all(".", "", literal=True).alias("kode10"),
        pl.col("kode_desa").str.replace_all(".", "", literal=True).str.slice(0, 6).cast(pl.Int64).alias("prefix6"),
        pl.Series("kuota", np.round(rows * rng.uniform(0.95, 1.25, n)).astype(np.int64)),
        pl.Series("rows_new", rows - rows_old),
        pl.Series("rows_old", rows_old),
        pl.Series("template", rng.integers(0, len(_TEMPLATES), n)),
        pl.Series("date_new", _RUN_DAYS - day_new).cast(pl.Int32).cast(pl.Date),
        pl.Series("date_old", _RUN_DAYS - day_old).cast(pl.Int32).cast(pl.Date),
    )
    return frame.drop("kk").with_row_index("village").with_columns(pl.col("village").cast(pl.Int64))


def _file_name(kode10: pl.Expr, nama: pl.Expr, day: pl.Expr) -> pl.Expr:
    return pl.concat_str(
        kode10, pl.lit("_"), nama.str.replace_all(" ", "_"), pl.lit("_"), day.dt.to_string(), pl.lit(".csv")
    )


# ---------------------------------------------------------------------------------------------- people


def _people(rng: np.random.Generator, prefix6: np.ndarray, serials: tuple[int, int], old: np.ndarray) -> pl.DataFrame:
    """Persons with a NIK that fits them: its prefix, their birth date (+40 for women) and a serial."""
    n = len(prefix6)
    female = rng.random(n) < 0.5
    age_days = np.where(old, rng.integers(70 * 365 + 30, 72 * 365, n), rng.integers(20 * 365, 60 * 365, n))
    heap = rng.random(n)
    middle_m, middle_p = _pick(MIDDLE["L"], rng, n), _pick(MIDDLE["P"], rng, n)
    frame = pl.DataFrame(
        {
            "prefix6": prefix6,
            "female": female,
            "born": pl.Series(_RUN_DAYS - age_days).cast(pl.Int32).cast(pl.Date),
            "heap": heap,
            "serial": rng.integers(serials[0], serials[1] + 1, n),
            "first_m": _pick(MALE_FIRST, rng, n),
            "first_p": _pick(FEMALE_FIRST, rng, n),
            "middle": pl.select(pl.when(pl.Series(female)).then(middle_p).otherwise(middle_m)).to_series(),
            "has_middle": rng.random(n) < 0.4,
            "last": _pick(LAST, rng, n),
            "last_p": _pick(LAST_FEMALE, rng, n),
            "last_p_use": rng.random(n) < 0.2,
            "place": _pick(PLACES, rng, n),
            "job": _pick(JOBS, rng, n),
            "phone": rng.integers(10**8, 10**10, n),
            "rt": rng.integers(1, 20, n),
            "rw": rng.integers(1, 9, n),
        }
    )
    # Birth dates heap on 1 July and 31 December (Dukcapil defaults for an unknown date).
    year = pl.col("born").dt.year()
    frame = frame.with_columns(
        pl.when(pl.col("heap") < 0.04)
        .then(pl.date(year, 7, 1))
        .when(pl.col("heap") < 0.06)
        .then(pl.date(year, 12, 31))
        .otherwise(pl.col("born"))
        .alias("born")
    )
    born = pl.col("born")
    day_in_nik = born.dt.day().cast(pl.Int64) + pl.when(pl.col("female")).then(40).otherwise(0)
    nik = (
        pl.col("prefix6") * 10**10
        + day_in_nik * 10**8
        + born.dt.month().cast(pl.Int64) * 10**6
        + (born.dt.year().cast(pl.Int64) % 100) * 10**4
        + pl.col("serial")
    )
    return frame.select(
        nik.alias("nik"),
        "female",
        "born",
        pl.concat_str(
            pl.when(pl.col("female")).then(pl.col("first_p")).otherwise(pl.col("first_m")),
            pl.when(pl.col("has_middle")).then(pl.col("middle")),
            pl.when(pl.col("female") & pl.col("last_p_use")).then(pl.col("last_p")).otherwise(pl.col("last")),
            separator=" ",
            ignore_nulls=True,
        ).alias("inti"),
        "place",
        "job",
        pl.concat_str(pl.lit("08"), pl.col("phone").cast(pl.String)).alias("phone"),
        pl.concat_str(pl.lit("RT "), _z(pl.col("rt"), 3), pl.lit("/RW "), _z(pl.col("rw"), 3)).alias("address"),
    )


def _nik_text(nik: pl.Expr) -> pl.Expr:
    return _z(nik, 16)


# ---------------------------------------------------------------------------------------------- lists


def _list_chunk(
    villages: pl.DataFrame, all_prefixes: np.ndarray, rng: np.random.Generator
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(rows of the chunk's files: file, template, row number and cells; the listed people to enrol)."""
    rows_new = villages["rows_new"].to_numpy()
    n = int(rows_new.sum())
    slot_village = np.repeat(np.arange(villages.height), rows_new)
    starts = np.r_[0, np.cumsum(rows_new)[:-1]]
    pos = np.arange(n) - np.repeat(starts, rows_new)

    kind = rng.choice(len(_KINDS), size=n, p=list(_KINDS.values()))
    ok = _KIND["ok"]
    prev_ok = np.r_[False, kind[:-1] == ok] & (pos > 0)
    needs_prev = np.isin(kind, [_KIND["dup_in_file"], _KIND["nik_shared"]])
    kind[needs_prev & ~prev_ok] = ok
    kind[np.r_[kind[1:] == _KIND["nik_shared"], False]] = _KIND["nik_shared"]  # the row above shares it
    across = np.flatnonzero(kind == _KIND["dup_across"])
    candidates = np.flatnonzero(kind == ok)
    source = np.arange(n)
    if across.size and candidates.size:
        picked = candidates[rng.integers(0, candidates.size, across.size)]
        same = slot_village[picked] == slot_village[across]
        kind[across[same]] = ok
        source[across[~same]] = picked[~same]
    else:
        kind[across] = ok
    in_file = kind == _KIND["dup_in_file"]
    source[in_file] = np.flatnonzero(in_file) - 1

    own_prefix = villages["prefix6"].to_numpy()[slot_village]
    moved = rng.random(n) < 0.10  # registered in another kecamatan (transmigrants, people who moved)
    prefix6 = np.where(moved, all_prefixes[rng.integers(0, all_prefixes.size, n)], own_prefix)
    people = _people(rng, prefix6, (1, 4999), kind == _KIND["age70"])
    shared = kind == _KIND["nik_shared"]
    first_shared = shared & ~np.r_[False, shared[:-1]]
    nik_source = np.where(shared & ~first_shared, np.arange(n) - 1, source)

    r = rng.random(n)
    title = rng.random(n)
    slots = pl.concat(
        [
            people.select(pl.all().gather(pl.Series(source))),
            people.select(pl.col("nik").gather(pl.Series(nik_source)).alias("row_nik")),
            villages.select(
                pl.col("village", "kode_desa", "kode10", "nama_desa", "nama_kecamatan", "template").gather(
                    pl.Series(slot_village)
                )
            ),
        ],
        how="horizontal",
    ).with_columns(
        pl.Series("kind", kind),
        pl.Series("pos", pos),
        pl.Series("r", r),
        pl.Series("title", title),
        pl.Series("slot", np.arange(n)),
    )
    enrol = slots.filter(
        ~pl.col("kind").is_in([_KIND[k] for k in _NOT_A_PERSON]) & (pl.Series(rng.random(n)) < 0.6)
    ).select("nik", "female", "born", "inti", "village", "nama_desa")

    k = pl.col("kind")
    nik = _nik_text(pl.col("row_nik"))
    nik_cell = (
        pl.when(k == _KIND["nik_missing"])
        .then(pl.lit(""))
        .when(k == _KIND["nik_format"])
        .then(nik.str.slice(0, 15))
        .when(k == _KIND["nik_sci"])
        .then(pl.concat_str(nik.str.slice(0, 1), pl.lit("."), nik.str.slice(1, 5), pl.lit("E+15")))
        .when(k == _KIND["nik_region"])
        .then(pl.lit("00") + nik.str.slice(2))
        .when(k == _KIND["nik_date"])
        .then(pl.concat_str(nik.str.slice(0, 8), pl.lit("13"), nik.str.slice(10)))
        .when(pl.col("r") < 0.02)
        .then(pl.lit("'") + nik)  # Excel's text marker, kept by the export to CSV
        .otherwise(nik)
    )
    titled = (
        pl.when(pl.col("title") < 0.03)
        .then(pl.when(pl.col("female")).then(pl.lit("Hj. ")).otherwise(pl.lit("H. ")) + pl.col("inti"))
        .when(pl.col("title") < 0.04)
        .then(pl.col("inti") + pl.lit(" S.Pd"))
        .otherwise(pl.col("inti"))
    )
    born = pl.col("born")
    invalid_birth = k == _KIND["birth_invalid"]
    cells = slots.select(
        "slot",
        "village",
        "kode_desa",
        "kode10",
        "nama_kecamatan",
        "template",
        "pos",
        nik_cell.alias("nik"),
        pl.when(k == _KIND["name_missing"]).then(pl.lit("")).otherwise(titled).alias("nama"),
        "place",
        pl.when(k == _KIND["mismatch"])
        .then(born.dt.day().cast(pl.Int64) % 28 + 1)
        .when(invalid_birth)
        .then(pl.lit(31, pl.Int64))
        .otherwise(born.dt.day().cast(pl.Int64))
        .alias("d"),
        pl.when(invalid_birth).then(pl.lit(2, pl.Int64)).otherwise(born.dt.month().cast(pl.Int64)).alias("m"),
        born.dt.year().cast(pl.Int64).alias("y"),
        (invalid_birth & (pl.col("r") < 0.5)).alias("birth_blank"),
        pl.when(k == _KIND["sex_invalid"])
        .then(pl.lit("X"))
        .when(k == _KIND["sex_empty"])
        .then(pl.lit(""))
        .when(pl.col("female"))
        .then(pl.lit("P"))
        .otherwise(pl.lit("L"))
        .alias("sex"),
        (k == _KIND["village_unknown"]).alias("village_unknown"),
        "nama_desa",
        "job",
        "phone",
        "address",
    )
    return cells, enrol


def _old_lists(cells: pl.DataFrame, villages: pl.DataFrame) -> pl.DataFrame:
    """The older list of the villages that sent two: the first rows of their current list, as sent before."""
    first = villages.filter(pl.col("rows_old") > 0).select("village", "rows_old")
    return cells.join(first, on="village").filter(pl.col("pos") < pl.col("rows_old")).drop("rows_old")


def _line(t: _Template) -> pl.Expr:
    """One CSV record of template ``t`` from the cell columns."""
    d, m, y = pl.col("d"), pl.col("m"), pl.col("y")
    if t.date == "named":
        month = m.replace_strict(dict(enumerate(MONTHS_FULL, start=1)), return_dtype=pl.String)
        text = pl.concat_str(d.cast(pl.String), pl.lit(" "), month, pl.lit(" "), y.cast(pl.String))
    else:
        sep = pl.lit("/" if t.date == "dmy_slash" else "-")
        text = pl.concat_str(_z(d, 2), sep, _z(m, 2), sep, y.cast(pl.String))
    date_cell = pl.when(pl.col("birth_blank")).then(pl.lit("")).otherwise(text)
    unknown = pl.col("village_unknown")
    fields = {
        "no": (pl.col("pos") + 1).cast(pl.String),
        "nik": pl.col("nik"),
        "nama": pl.col("nama"),
        "place": pl.col("place"),
        "date": date_cell,
        "ttl": pl.concat_str(pl.lit('"'), pl.col("place"), pl.lit(", "), date_cell, pl.lit('"')),
        "sex": pl.col("sex").replace({"L": t.sex[0], "P": t.sex[1]}),
        "desa_name": pl.when(unknown).then(pl.lit(_UNKNOWN_VILLAGE[0])).otherwise(pl.col("nama_desa")),
        "desa_code": pl.when(unknown).then(pl.lit(_UNKNOWN_VILLAGE[1])).otherwise(pl.col("kode_desa")),
        "kecamatan": pl.col("nama_kecamatan"),
        "job": pl.col("job"),
        "phone": pl.col("phone"),
        "address": pl.col("address"),
    }
    return pl.concat_str([fields[key] for _, key in t.columns], separator=t.delimiter)


def _write_lists(cells: pl.DataFrame, files: pl.DataFrame, folder: Path) -> int:
    """Write one CSV file per (village, list date); returns the number of files."""
    lines = pl.concat(
        [
            cells.filter(pl.col("template") == i).select("file", "pos", _line(t).alias("line"))
            for i, t in enumerate(_TEMPLATES)
        ]
    )
    bodies = (
        lines.sort("file", "pos")
        .group_by("file", maintain_order=True)
        .agg(pl.col("line").str.join("\r\n"))
        .join(files, on="file")
    )
    written = 0
    for name, body, template in bodies.select("file", "line", "template").iter_rows():
        t = _TEMPLATES[template]
        header = t.delimiter.join(text for text, _ in t.columns)
        data = f"{header}\r\n{body}\r\n".encode()
        (folder / name).write_bytes(b"\xef\xbb\xbf" + data if t.bom else data)
        written += 1
    return written


# ---------------------------------------------------------------------------------------------- export


def _date_cell(day: pl.Expr, serial: pl.Expr) -> pl.Expr:
    """BPJS style "15-AGS-26", or an Excel serial day number where the export came through a spreadsheet."""
    month = day.dt.month().replace_strict(dict(enumerate(MONTHS_ABBR, start=1)), return_dtype=pl.String)
    text = pl.concat_str(_z(day.dt.day(), 2), pl.lit("-"), month, pl.lit("-"), _z(day.dt.year() % 100, 2))
    excel = (day - pl.lit(date(1899, 12, 30))).dt.total_days().cast(pl.String)
    return pl.when(day.is_null()).then(pl.lit("")).when(serial).then(excel).otherwise(text)


def _export_rows(members: pl.DataFrame, rng: np.random.Generator, first_kpj: int) -> pl.DataFrame:
    """BPJS export records (BPJS_COLUMNS) of members: nik (Int64), nama, born, state, payer, nama_desa."""
    n = members.height
    today = _RUN_DAYS
    covered, grace = (members["state"] == "covered").to_numpy(), (members["state"] == "grace").to_numpy()
    end = np.select(
        [covered, grace],
        [today + rng.integers(0, 201, n), today - rng.integers(1, 81, n)],
        today - rng.integers(130, 2201, n),
    )
    start = np.maximum(np.minimum(end - rng.integers(30, 2001, n), today), _EARLIEST_MEMBERSHIP)
    payer_word = pl.Series(list(_COMPANIES)).gather(rng.integers(0, len(_COMPANIES), n))
    payer_kind = pl.Series(list(_COMPANY_KINDS)).gather(rng.integers(0, len(_COMPANY_KINDS), n))
    kpj = (np.arange(first_kpj, first_kpj + n, dtype=np.int64) * _KPJ_STEP + 12_345) % _KPJ_SPAN + _KPJ_BASE
    frame = members.with_columns(
        pl.Series("kpj", kpj),
        pl.Series("start", start).cast(pl.Int32).cast(pl.Date),
        pl.Series("end", end).cast(pl.Int32).cast(pl.Date),
        pl.Series("no_grace", rng.random(n) < 0.15),
        pl.Series("serial", rng.random(n) < 0.08),
        pl.Series("regency_way", rng.random(n)),
        pl.Series("jht_draw", rng.random(n)),
        payer_word.alias("company"),
        payer_kind.alias("company_kind"),
    )
    payer = pl.col("payer")
    regency = pl.col("regency_way")
    pembayar = (
        pl.when(payer == "regency")
        .then(
            pl.when(regency < 0.80)
            .then(pl.lit("PEMKAB KAPUAS"))
            .when(regency < 0.95)
            .then(pl.lit("DINAS SOSIAL KAB. KAPUAS"))
            .otherwise(pl.lit("PEMKAB KAPUAS"))
        )
        .when(payer == "desa")
        .then(pl.lit("PEMDES ") + pl.col("nama_desa").str.to_uppercase())
        .when(payer == "mandiri")
        .then(pl.lit("MANDIRI"))
        .when(payer == "company")
        .then(pl.concat_str(pl.lit("PT "), pl.col("company"), pl.lit(" "), pl.col("company_kind")))
        .when(payer == "province")
        .then(pl.lit("PEMPROV KALTENG"))
        .otherwise(pl.lit("BANK KALTENG CAB. KUALA KAPUAS"))
    )
    segmen = (
        pl.when(payer == "regency")
        .then(pl.when(regency < 0.95).then(pl.lit("SA")).otherwise(pl.lit("SG")))
        .when(payer == "desa")
        .then(pl.lit("SD"))
        .when(payer == "mandiri")
        .then(pl.lit(""))
        .when(payer == "company")
        .then(pl.lit("SC"))
        .when(payer == "province")
        .then(pl.lit("SG"))
        .otherwise(pl.lit("SB"))
    )
    serial = pl.col("serial")
    return frame.select(
        pl.col("kpj").cast(pl.String).alias("KPJ"),
        _nik_text(pl.col("nik")).alias("NIK"),
        pl.col("nama").alias("NAMA"),
        _date_cell(pl.col("born"), serial).alias("TGL_LAHIR"),
        _date_cell(pl.col("start"), serial).alias("TGL_KEPESERTAAN"),
        _date_cell(pl.col("end"), serial).alias("TGL_BERAKHIR"),
        _date_cell(pl.when(~pl.col("no_grace")).then(pl.col("end").dt.offset_by("3mo")), serial).alias("MASA_GRACE"),
        pl.when(pl.col("state") == "lapsed").then(pl.lit("NON AKTIF")).otherwise(pl.lit("AKTIF")).alias("STATUS"),
        pembayar.alias("PEMBAYAR"),
        segmen.alias("SEGMEN"),
        pl.lit("1").alias("JKK"),
        pl.lit("1").alias("JKM"),
        pl.when((segmen == "SC") | (pl.col("jht_draw") < 0.1)).then(pl.lit("1")).otherwise(pl.lit("0")).alias("JHT"),
    )


def _export_name(inti: pl.Expr, female: pl.Expr, draw: pl.Expr) -> pl.Expr:
    """How BPJS writes a listed person: upper case, sometimes a title, MUH./ABD, double spaces or one letter off."""
    upper = inti.str.to_uppercase()
    return (
        pl.when(draw < 0.10)
        .then(pl.when(female).then(pl.lit("HJ. ")).otherwise(pl.lit("H. ")) + upper)
        .when(draw < 0.15)
        .then(upper.str.replace_all(" ", "  ", literal=True))
        .when(draw < 0.25)
        .then(upper.str.replace(r"^MUHAMMAD ", "MUH. ").str.replace(r"^ABDUL ", "ABD "))
        .when(draw < 0.30)
        .then(inti)
        .when(draw < 0.33)
        .then(upper.str.slice(0, upper.str.len_chars() - 1))
        .otherwise(upper)
    )


def _one_typo(nik: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each NIK with one digit substituted, or two adjacent digits swapped where they differ."""
    n = nik.size
    position = rng.integers(0, 15, n)
    high = 10 ** (15 - position)
    low = high // 10
    a, b = nik // high % 10, nik // low % 10
    swapped = nik + (b - a) * high + (a - b) * low
    new_digit = (a + rng.integers(1, 10, n)) % 10
    substituted = nik + (new_digit - a) * high
    return np.where((rng.random(n) < 0.4) & (a != b), swapped, substituted)


def _listed_members(enrol: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """Export members of listed people: typos, someone else's name, a second lapsed KPJ."""
    n = enrol.height
    draw = rng.random(n)
    typo = draw < 0.02
    conflict = (draw >= 0.02) & (draw < 0.025)
    others = _people(rng, np.full(n, 620301), (1, 9999), np.zeros(n, dtype=bool))
    nik = enrol["nik"].to_numpy()
    members = enrol.with_columns(
        pl.Series("nik", np.where(typo, _one_typo(nik, rng), nik)),
        pl.Series("conflict", conflict),
        others["inti"].alias("other_name"),
        pl.Series("name_draw", rng.random(n)),
        _choose(_STATES, _LISTED_STATE_SHARES, rng, n).alias("state"),
        _choose(_PAYERS, _LISTED_PAYER_SHARES, rng, n).alias("payer"),
        pl.Series("second", ~typo & (rng.random(n) < 0.03)),
    ).with_columns(
        pl.when(pl.col("conflict"))
        .then(pl.col("other_name").str.to_uppercase())
        .otherwise(_export_name(pl.col("inti"), pl.col("female"), pl.col("name_draw")))
        .alias("nama")
    )
    second = members.filter(pl.col("second")).with_columns(
        pl.lit("lapsed").alias("state"), pl.lit("mandiri").alias("payer")
    )
    columns = ["nik", "nama", "born", "state", "payer", "nama_desa"]
    return pl.concat([members.select(columns), second.select(columns)])


def _other_members(villages: pl.DataFrame, n: int, rng: np.random.Generator) -> pl.DataFrame:
    """Members on no list: people of any village, serials 5000-9999 so never a listed NIK."""
    village = rng.integers(0, villages.height, n)
    prefix6 = villages["prefix6"].to_numpy()[village]
    people = _people(rng, prefix6, (5000, 9999), np.zeros(n, dtype=bool))
    return people.select(
        "nik",
        _export_name(pl.col("inti"), pl.col("female"), pl.Series(rng.random(n))).alias("nama"),
        "born",
        _choose(_STATES, _OTHER_STATE_SHARES, rng, n).alias("state"),
        _choose(_PAYERS, _OTHER_PAYER_SHARES, rng, n).alias("payer"),
        villages["nama_desa"].gather(pl.Series(village)).alias("nama_desa"),
    )


# ---------------------------------------------------------------------------------------------- driver


def _chunks(rows: np.ndarray, target: int) -> list[tuple[int, int]]:
    """[start, end) village ranges of about ``target`` rows each."""
    bounds, start, total = [], 0, 0
    for end, count in enumerate(rows, start=1):
        total += int(count)
        if total >= target:
            bounds.append((start, end))
            start, total = end, 0
    if start < len(rows):
        bounds.append((start, len(rows)))
    return bounds


def _expected_manifest(size: Size, seed: int) -> dict[str, Any]:
    return {"generator_version": GENERATOR_VERSION, "seed": seed, "size": asdict(size), "words": _vocabulary_hash()}


def generate(size: Size, seed: int, root: Path) -> dict[str, Any]:
    """Write the inputs of one size under ``root`` (replacing what is there); returns the manifest."""
    started = time.perf_counter()
    inputs = Inputs(root)
    if root.exists():
        shutil.rmtree(root)
    for folder in (inputs.submissions, inputs.export_file.parent, inputs.reference):
        folder.mkdir(parents=True)
    villages = villages_frame(size, seed)
    villages.select("kode_desa", "nama_desa", "kode_kecamatan", "nama_kecamatan", "kuota").write_csv(
        inputs.reference / "villages.csv"
    )
    pl.DataFrame(
        {"kode": ["62.03"], "tahun": [RUN_DATE.year - 1], "penduduk_bekerja": [15 * size.list_rows]}
    ).with_columns(pl.lit("synthetic benchmark, not BPS").alias("sumber")).write_csv(inputs.reference / "workforce.csv")
    all_prefixes = villages["prefix6"].unique().sort().to_numpy()

    files = villages.select(
        pl.col("village"),
        _file_name(pl.col("kode10"), pl.col("nama_desa"), pl.col("date_new")).alias("file_new"),
        _file_name(pl.col("kode10"), pl.col("nama_desa"), pl.col("date_old")).alias("file_old"),
        "template",
    )
    file_count = list_rows = export_rows = 0
    with inputs.export_file.open("wb") as export:
        export.write((",".join(BPJS_COLUMNS) + "\r\n").encode())
        for chunk, (lo, hi) in enumerate(_chunks(villages["rows_new"].to_numpy(), _LIST_CHUNK_ROWS)):
            rng = _rng(seed, size, 2, chunk)
            part = villages.slice(lo, hi - lo)
            cells, enrol = _list_chunk(part, all_prefixes, rng)
            old = _old_lists(cells, part)
            names = files.slice(lo, hi - lo)
            cells = pl.concat(
                [
                    cells.join(names.select("village", pl.col("file_new").alias("file")), on="village"),
                    old.join(names.select("village", pl.col("file_old").alias("file")), on="village"),
                ]
            )
            resent = names.join(part.filter(pl.col("rows_old") > 0).select("village"), on="village")
            file_names = pl.concat(
                [
                    names.select(pl.col("file_new").alias("file"), "template"),
                    resent.select(pl.col("file_old").alias("file"), "template"),
                ]
            )
            file_count += _write_lists(cells, file_names, inputs.submissions)
            list_rows += cells.height
            members = _export_rows(_listed_members(enrol, rng), rng, export_rows)
            members.write_csv(export, include_header=False, line_terminator="\r\n")
            export_rows += members.height
        others = size.export_rows - export_rows
        if others < 0:
            raise ValueError(f"size {size.name}: {export_rows} listed members exceed {size.export_rows} export rows")
        for chunk, start in enumerate(range(0, others, _EXPORT_CHUNK_ROWS)):
            rng = _rng(seed, size, 3, chunk)
            n = min(_EXPORT_CHUNK_ROWS, others - start)
            _export_rows(_other_members(villages, n, rng), rng, export_rows).write_csv(
                export, include_header=False, line_terminator="\r\n"
            )
            export_rows += n
    manifest = {
        **_expected_manifest(size, seed),
        "run_date": RUN_DATE.isoformat(),
        "villages": villages.height,
        "files": file_count,
        "list_rows": list_rows,
        "export_rows": export_rows,
        "export_file": EXPORT_NAME,
        "input_bytes": sum(p.stat().st_size for p in (root / "inputs").rglob("*") if p.is_file()),
        "seconds": round(time.perf_counter() - started, 1),
    }
    inputs.manifest.write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def ensure(size: Size, seed: int = DEFAULT_SEED, base: Path | None = None) -> tuple[Inputs, dict[str, Any], bool]:
    """The inputs of ``size``: reused when their manifest matches (seed, size, generator version), else generated.

    Returns (inputs, manifest, generated now).
    """
    base = base or bench_dir()
    base.mkdir(parents=True, exist_ok=True)
    ignore = base / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# generated benchmark inputs and results of runs\n*\n")
    inputs = Inputs(base / size.name)
    if inputs.manifest.is_file():
        manifest = json.loads(inputs.manifest.read_text())
        expected = _expected_manifest(size, seed)
        if all(manifest.get(key) == value for key, value in expected.items()):
            return inputs, manifest, False
    return inputs, generate(size, seed, inputs.root), True


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate (or reuse) the benchmark inputs of some sizes.")
    parser.add_argument("sizes", nargs="*", default=list(SIZES), help="S, M and/or L (default all)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)
    for name in args.sizes:
        inputs, manifest, fresh = ensure(SIZES[name], args.seed)
        verb = f"generated in {manifest['seconds']} s" if fresh else "reused"
        counts = (
            f"{manifest['files']:,} files, {manifest['list_rows']:,} list rows, {manifest['export_rows']:,} export rows"
        )
        print(f"{name}: {counts}, {manifest['input_bytes'] / 1e6:,.0f} MB at {inputs.root} ({verb})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
