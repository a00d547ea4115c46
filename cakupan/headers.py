"""Canonical column names and the header synonyms villages and BPJS actually use.

Matching ignores case, spaces and punctuation (see `header_key`), so "Tgl. Lahir", "TGL_LAHIR" and "tgl lahir"
are one header. The README's input contract is generated from these tables; edit them here only.
"""

from __future__ import annotations

import functools
import re

# Submission columns, in the order a village template usually has them.
SUBMISSION_HEADERS: dict[str, tuple[str, ...]] = {
    "nik": ("NIK", "No NIK", "Nomor NIK", "NIK KTP", "No KTP", "Nomor KTP", "Nomor Induk Kependudukan", "NIK/KTP"),
    "nama": ("Nama", "Nama Lengkap", "Nama Peserta", "Nama Pekerja", "Nama Sesuai KTP", "Nama TK"),
    "tempat_lahir": ("Tempat Lahir", "Tmp Lahir", "Tempat"),
    "tanggal_lahir": ("Tanggal Lahir", "Tgl Lahir", "Tgl. Lahir", "Tanggal Lhr", "Tgl Lhr", "Lahir", "Date of Birth"),
    "ttl": ("TTL", "Tempat/Tanggal Lahir", "Tempat Tanggal Lahir", "Tempat, Tgl Lahir"),
    "jenis_kelamin": ("Jenis Kelamin", "JK", "L/P", "Kelamin", "Sex", "Gender"),
    "desa": ("Desa/Kelurahan", "Desa", "Kelurahan", "Desa/Kel", "Nama Desa", "Kode Desa", "Kelurahan/Desa"),
    "kecamatan": ("Kecamatan", "Kec", "Nama Kecamatan"),
    "pekerjaan": ("Pekerjaan", "Jenis Pekerjaan", "Profesi", "Mata Pencaharian"),
    "no_hp": ("No HP", "No. HP", "Nomor HP", "No Handphone", "No Telp", "Nomor Telepon", "HP", "No WA"),
    "alamat": ("Alamat", "Alamat Lengkap", "Alamat Rumah"),
}

# Columns without which a submission file is rejected whole. A birth date may come as Tanggal Lahir or as TTL.
SUBMISSION_REQUIRED: tuple[str, ...] = ("nik", "nama")
SUBMISSION_BIRTH_DATE_ANY: tuple[str, ...] = ("tanggal_lahir", "ttl")

BPJS_HEADERS: dict[str, tuple[str, ...]] = {
    "kpj": ("KPJ", "No KPJ", "Nomor KPJ", "No Kartu"),
    "nik": ("NIK", "Nomor Identitas", "No Identitas", "NIK KTP"),
    "nama": ("Nama", "Nama Lengkap", "Nama TK", "Nama Peserta"),
    "tgl_lahir": ("Tgl Lahir", "Tanggal Lahir"),
    "tgl_kepesertaan": ("Tgl Kepesertaan", "Tanggal Kepesertaan", "Tgl Kepesertaan1", "Tgl Mulai"),
    "tgl_berakhir": ("Tgl Berakhir", "Tanggal Berakhir", "Tgl Berakhir Perlindungan", "Tgl NA"),
    "masa_grace": ("Masa Grace", "Tgl Grace", "Akhir Masa Grace"),
    "status": ("Status", "Status Kepesertaan"),
    "pembayar": ("Pembayar", "Pemberi Kerja", "Pembayar/Pemberi Kerja", "Nama Perusahaan", "NAMAPRS", "Wadah"),
    "segmen": ("Segmen", "Kode Segmen", "Segmen Peserta"),
    "jkk": ("JKK",),
    "jkm": ("JKM",),
    "jht": ("JHT",),
}

BPJS_REQUIRED: tuple[str, ...] = ("kpj", "nik", "nama")


@functools.lru_cache(maxsize=4096)
def header_key(text: str) -> str:
    """The comparison key of a header: lower case, letters and digits only ("Tgl. Lahir" -> "tgllahir").

    Kept for texts seen before: every file of a regency repeats the same few headers, and the cells of its first
    rows are all looked up (a regency's 239 files: 18,700 lookups).
    """
    return re.sub(r"[^0-9a-z]", "", text.lower())


def _index(table: dict[str, tuple[str, ...]]) -> dict[str, str]:
    index: dict[str, str] = {}
    for canonical, synonyms in table.items():
        for name in (canonical, *synonyms):
            index.setdefault(header_key(name), canonical)
    return index


SUBMISSION_INDEX = _index(SUBMISSION_HEADERS)
BPJS_INDEX = _index(BPJS_HEADERS)


def canonical_columns(headers: list[str], index: dict[str, str]) -> dict[int, str]:
    """Map header positions to canonical names; the first column wins when two headers mean the same thing."""
    mapping: dict[int, str] = {}
    taken: set[str] = set()
    for position, header in enumerate(headers):
        canonical = index.get(header_key(header))
        if canonical is not None and canonical not in taken:
            mapping[position] = canonical
            taken.add(canonical)
    return mapping
