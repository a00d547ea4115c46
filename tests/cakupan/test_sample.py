"""The sample generator: reproducible bytes, every kind of mess present, and a truth that matches the files.

These tests read the generated files with plain csv/python_calamine, never with the pipeline, so a pipeline bug
cannot hide a generator bug (or the other way round).
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import zipfile
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest
from python_calamine import CalamineWorkbook

from cakupan.headers import SUBMISSION_INDEX, header_key
from cakupan.sample import SampleSummary, write_sample

SMALL = {"villages": 12, "workers": 300}
SEX = {"L": "L", "LK": "L", "LAKI-LAKI": "L", "PRIA": "L", "P": "P", "PR": "P", "PEREMPUAN": "P", "WANITA": "P"}
AS_OF = date(2026, 11, 27)
MONTHS = {
    name: number
    for number, names in enumerate(
        (("jan", "januari"), ("feb", "februari"), ("mar", "maret"), ("apr", "april"), ("mei",), ("jun", "juni"),
         ("jul", "juli"), ("ags", "agt", "agustus"), ("sep", "september"), ("okt", "oktober"), ("nov", "november"),
         ("des", "desember")),
        start=1,
    )
    for name in names
}  # fmt: skip


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SampleSummary]:
    out = tmp_path_factory.mktemp("sample")
    return out, write_sample(out, seed=7, **SMALL)


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _fingerprints(root: Path) -> dict[str, tuple[str, int]]:
    return {
        str(p.relative_to(root)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _grid(path: Path) -> list[list[object]]:
    """The file's cells as a spreadsheet shows them: row 1 first, typed cells for xlsx, text for CSV."""
    if path.suffix == ".xlsx":
        return CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python(skip_empty_area=False)
    data = path.read_bytes()
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    delimiter = ";" if text.split("\n", 1)[0].count(";") > text.split("\n", 1)[0].count(",") else ","
    return [list(row) for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)]


def _columns(grid: list[list[object]]) -> tuple[int, dict[str, int]]:
    """(0-based header row, canonical name -> column) of the first row with a NIK or Nama header."""
    for i, row in enumerate(grid[:20]):
        mapping = {
            SUBMISSION_INDEX[header_key(str(c))]: j for j, c in enumerate(row) if header_key(str(c)) in SUBMISSION_INDEX
        }
        if "nama" in mapping:
            return i, mapping
    raise AssertionError("no header row")


def _clean_nik(cell: object) -> str:
    return re.sub(r"[\s.'-]", "", str(cell))


def _date(cell: object) -> date | None:
    """The birth dates the generator writes: date cells, serials and the text formats villages use."""
    if isinstance(cell, date):
        return cell
    if isinstance(cell, float):
        return date(1899, 12, 30) + timedelta(days=int(cell))
    text = str(cell).strip()
    if "," in text:  # TTL: "Kuala Kapuas, 12-05-1980"
        text = text.rsplit(",", 1)[1].strip()
    if m := re.fullmatch(r"(\d{4})-(\d\d)-(\d\d)", text):
        return date(int(m[1]), int(m[2]), int(m[3]))
    if m := re.fullmatch(r"(\d\d)[/-](\d\d)[/-](\d{4})", text):
        return date(int(m[3]), int(m[2]), int(m[1]))
    if m := re.fullmatch(r"(\d{1,2})[ -]([A-Za-z]+)[ -](\d{2}|\d{4})", text):
        year = int(m[3])
        if year < 100:
            year += 2000 if 2000 + year <= AS_OF.year else 1900
        return date(year, MONTHS[m[2].lower()], int(m[1]))
    return None


def _nik_birth(nik: str, stated: date) -> tuple[date, str]:
    day, month, yy = int(nik[6:8]), int(nik[8:10]), int(nik[10:12])
    return date(stated.year // 100 * 100 + yy, month, day % 40), "P" if day > 40 else "L"


def test_same_seed_gives_the_same_bytes_and_times(sample: tuple[Path, SampleSummary], tmp_path: Path) -> None:
    first, summary = sample
    again = write_sample(tmp_path / "again", seed=7, **SMALL)
    assert again.persons == summary.persons
    assert _fingerprints(tmp_path / "again") == _fingerprints(first)
    # xlsxwriter stamps the creation time into docProps/core.xml; every zip entry must still match.
    for path in sorted((first / "submissions").glob("*.xlsx")):
        other = tmp_path / "again" / "submissions" / path.name
        if not zipfile.is_zipfile(path):
            continue  # the corrupt upload
        with zipfile.ZipFile(path) as a, zipfile.ZipFile(other) as b:
            assert [(i.filename, i.date_time) for i in a.infolist()] == [
                (i.filename, i.date_time) for i in b.infolist()
            ]
            assert all(a.read(name) == b.read(name) for name in a.namelist())


def test_another_seed_gives_other_files(sample: tuple[Path, SampleSummary], tmp_path: Path) -> None:
    first, _ = sample
    write_sample(tmp_path / "other", seed=8, **SMALL)
    mine, theirs = _fingerprints(first), _fingerprints(tmp_path / "other")
    for name in ("truth/rows.csv", "truth/persons.csv", "bpjs/bpjs_export_2026-11-25.csv", "reference/villages.csv"):
        assert mine[name][0] != theirs[name][0], name


def test_an_existing_sample_is_not_overwritten_silently(sample: tuple[Path, SampleSummary]) -> None:
    out, _ = sample
    with pytest.raises(FileExistsError):
        write_sample(out, seed=7, **SMALL)


@pytest.mark.parametrize(("villages", "workers"), [(11, 300), (12, 200)])
def test_too_small_a_regency_is_refused(tmp_path: Path, villages: int, workers: int) -> None:
    with pytest.raises(ValueError):
        write_sample(tmp_path, villages=villages, workers=workers)


def test_every_kind_of_mess_is_in_the_truth(sample: tuple[Path, SampleSummary]) -> None:
    out, summary = sample
    rows = _read_csv(out / "truth" / "rows.csv")
    files = _read_csv(out / "truth" / "files.csv")
    persons = _read_csv(out / "truth" / "persons.csv")
    reasons = {code for r in rows for code in r["reasons"].split(";") if code}
    assert reasons == {
        "nik_missing", "nik_format", "nik_precision_lost", "nik_region", "nik_date", "nik_shared",
        "nik_birthdate_mismatch", "name_missing", "birthdate_invalid", "age_out_of_range", "sex_invalid",
        "sex_from_nik", "village_unknown", "too_many_rejected", "column_missing",
    }  # fmt: skip
    assert {r["outcome"] for r in rows} == {
        "accepted", "rejected", "duplicate_in_file", "duplicate_across_villages", "superseded",
    }  # fmt: skip
    assert {f["status"] for f in files} == {"loaded", "rejected", "superseded"}
    assert {f["reason"] for f in files} == {
        "",
        "file_unreadable",
        "column_missing",
        "duplicate_file",
        "too_many_rejected",
        "newer_submission",
    }
    assert {f["reason"] for f in files if f["status"] == "superseded"} == {"duplicate_file", "newer_submission"}
    assert {p["status"] for p in persons} == set(summary.persons)
    assert all(summary.persons.values())
    # Both precision-loss shapes: a numeric xlsx cell and "6.20301E+15" text in a CSV.
    lost = {r["source_file"].rsplit(".", 1)[1] for r in rows if r["reasons"] == "nik_precision_lost"}
    assert lost == {"xlsx", "csv"}
    assert summary.rows == len(rows)
    assert summary.files == len(files) == len(list((out / "submissions").iterdir()))


def test_a_messy_row_has_one_defect_and_errors_carry_no_warnings(sample: tuple[Path, SampleSummary]) -> None:
    out, _ = sample
    for r in _read_csv(out / "truth" / "rows.csv"):
        codes = r["reasons"].split(";") if r["reasons"] else []
        if r["outcome"] in ("duplicate_in_file", "duplicate_across_villages", "superseded"):
            assert codes == [], r
        elif r["outcome"] == "rejected":
            assert len([c for c in codes if c != "too_many_rejected"]) == 1, r
            assert not {"sex_from_nik", "age_out_of_range", "nik_birthdate_mismatch"} & set(codes), r
        else:
            assert len(codes) <= 1, r


def test_source_rows_point_at_the_rows_of_the_person(sample: tuple[Path, SampleSummary]) -> None:
    """Every clean row's NIK cell is the truth NIK, and each file has exactly the truth's data rows."""
    out, _ = sample
    rows = _read_csv(out / "truth" / "rows.csv")
    by_file: dict[str, list[dict[str, str]]] = {}
    for r in rows:
        by_file.setdefault(r["source_file"], []).append(r)
    checked = Counter[str]()
    for f in _read_csv(out / "truth" / "files.csv"):
        path = out / "submissions" / f["source_file"]
        if f["reason"] == "file_unreadable":
            assert f["source_file"] not in by_file
            continue
        grid = _grid(path)
        header, columns = _columns(grid)
        data_rows = [i + 1 for i, row in enumerate(grid) if i > header and any(str(c).strip() for c in row)]
        assert [int(r["source_row"]) for r in by_file[f["source_file"]]] == data_rows, f["source_file"]
        if "nik" not in columns:
            continue
        for r in by_file[f["source_file"]]:
            if r["outcome"] == "accepted" and r["reasons"] == "":
                cell = grid[int(r["source_row"]) - 1][columns["nik"]]
                assert isinstance(cell, str) and _clean_nik(cell) == r["nik"], (f["source_file"], r)
                checked[path.suffix] += 1
    assert checked[".xlsx"] > 20 and checked[".csv"] > 20


def test_clean_rows_agree_with_their_nik(sample: tuple[Path, SampleSummary]) -> None:
    """A row without reasons: 16-digit NIK, a name, birth date and sex as the NIK says, aged 20-60 on as_of."""
    out, _ = sample
    rows = [r for r in _read_csv(out / "truth" / "rows.csv") if r["outcome"] == "accepted" and not r["reasons"]]
    grids: dict[str, tuple[list[list[object]], dict[str, int]]] = {}
    for r in rows:
        if r["source_file"] not in grids:
            grid = _grid(out / "submissions" / r["source_file"])
            grids[r["source_file"]] = (grid, _columns(grid)[1])
        grid, columns = grids[r["source_file"]]
        cells = grid[int(r["source_row"]) - 1]
        nik = r["nik"]
        assert re.fullmatch(r"\d{16}", nik) and nik[12:] != "0000" and nik[:2] in ("62", "33", "35", "52"), r
        assert len(str(cells[columns["nama"]]).split()) >= 2, r
        stated = _date(cells[columns["tanggal_lahir"] if "tanggal_lahir" in columns else columns["ttl"]])
        assert stated is not None, r
        born, sex = _nik_birth(nik, stated)
        assert born == stated, r
        assert 20 <= AS_OF.year - born.year - ((AS_OF.month, AS_OF.day) < (born.month, born.day)) <= 60, r
        if "jenis_kelamin" in columns:
            assert SEX[str(cells[columns["jenis_kelamin"]]).upper()] == sex, r


@pytest.mark.parametrize(
    ("reason", "shows"),
    [
        ("nik_format", lambda nik, cells: len(_clean_nik(nik)) != 16),
        ("nik_precision_lost", lambda nik, cells: isinstance(nik, float) or "E+" in str(nik)),
        ("nik_region", lambda nik, cells: str(nik)[:2] in ("00", "99")),
        ("nik_date", lambda nik, cells: str(nik)[8:10] == "13"),
        ("nik_missing", lambda nik, cells: nik == ""),
    ],
)
def test_a_nik_defect_is_in_the_nik_cell(sample: tuple[Path, SampleSummary], reason: str, shows: object) -> None:
    out, _ = sample
    found = 0
    for r in _read_csv(out / "truth" / "rows.csv"):
        if r["outcome"] != "rejected" or reason not in r["reasons"].split(";"):
            continue
        grid = _grid(out / "submissions" / r["source_file"])
        columns = _columns(grid)[1]
        cells = grid[int(r["source_row"]) - 1]
        assert callable(shows) and shows(cells[columns["nik"]], cells), r
        found += 1
    assert found


def test_precision_lost_nik_was_cut_by_excel(sample: tuple[Path, SampleSummary]) -> None:
    """The numeric cell is the true NIK with its 16th digit turned to 0; the true last digit was not 0."""
    out, _ = sample
    for r in _read_csv(out / "truth" / "rows.csv"):
        if r["reasons"] == "nik_precision_lost" and r["source_file"].endswith(".xlsx"):
            grid = _grid(out / "submissions" / r["source_file"])
            cell = grid[int(r["source_row"]) - 1][_columns(grid)[1]["nik"]]
            assert isinstance(cell, float)
            assert f"{int(cell):016d}" == r["nik"][:15] + "0" and r["nik"][15] != "0" and r["nik"][12:15] != "000"


def test_persons_are_one_per_nik_and_follow_the_export(sample: tuple[Path, SampleSummary]) -> None:
    out, _ = sample
    persons = _read_csv(out / "truth" / "persons.csv")
    assert len({p["nik"] for p in persons}) == len(persons)
    export = _read_csv(out / "bpjs" / "bpjs_export_2026-11-25.csv")
    assert len({m["KPJ"] for m in export}) == len(export) and all(re.fullmatch(r"\d{11}", m["KPJ"]) for m in export)
    members: dict[str, list[dict[str, str]]] = {}
    for m in export:
        members.setdefault(m["NIK"], []).append(m)
    accepted = {r["nik"] for r in _read_csv(out / "truth" / "rows.csv") if r["outcome"] == "accepted"}
    for p in persons:
        if p["status"] in ("active", "grace", "lapsed", "identity_conflict"):
            assert p["nik"] in members and p["nik"] in accepted, p
        elif p["status"] in ("not_enrolled", "probable_match"):
            assert p["nik"] not in members and p["nik"] in accepted, p
        else:
            assert p["kode_desa"] == "" and p["nik"] not in accepted, p
            regency = [m for m in members[p["nik"]] if m["PEMBAYAR"].upper() == "PEMKAB KAPUAS" or m["SEGMEN"] == "SA"]
            assert regency, p
    assert len(accepted) == sum(1 for p in persons if p["status"] != "enrolled_not_submitted")


def test_coverage_adds_up(sample: tuple[Path, SampleSummary]) -> None:
    out, summary = sample
    coverage = _read_csv(out / "truth" / "coverage.csv")
    villages = _read_csv(out / "reference" / "villages.csv")
    counts = [c for c in coverage[0] if c not in ("level", "kode", "members_active_total")]
    levels = Counter(c["level"] for c in coverage)
    assert levels == {"desa": len(villages), "kecamatan": len({v["kode_kecamatan"] for v in villages}), "kabupaten": 1}
    (regency,) = [c for c in coverage if c["level"] == "kabupaten"]
    assert regency["kode"] == "62.03" and int(regency["members_active_total"]) > 0
    for level in ("desa", "kecamatan"):
        part = [c for c in coverage if c["level"] == level]
        assert all(c["members_active_total"] == "" and c["enrolled_not_submitted"] == "0" for c in part)
        unlisted = int(regency["enrolled_not_submitted"])
        for name in counts:
            expected = int(regency[name]) - (unlisted if name == "persons" else 0)
            if name != "enrolled_not_submitted":
                assert sum(int(c[name]) for c in part) == expected, (level, name)
    for c in coverage:
        n = {name: int(c[name]) for name in counts}
        assert n["submitted_rows"] == n["accepted"] + n["rejected"] + n["duplicates"] + n["superseded"], c
        assert n["persons"] == sum(
            n[s]
            for s in (
                "active",
                "grace",
                "lapsed",
                "not_enrolled",
                "identity_conflict",
                "probable_match",
                "enrolled_not_submitted",
            )
        ), c
        # An accepted row is one person; the regency's persons also count those paid for but on no list.
        assert n["accepted"] == n["persons"] - n["enrolled_not_submitted"], c
    rows = _read_csv(out / "truth" / "rows.csv")
    assert int(regency["submitted_rows"]) == len(rows)
    assert int(regency["enrolled_not_submitted"]) == summary.persons["enrolled_not_submitted"]


def test_reference_villages_have_the_traps_and_the_kuota(sample: tuple[Path, SampleSummary]) -> None:
    out, _ = sample
    villages = _read_csv(out / "reference" / "villages.csv")
    assert sum(int(v["kuota"]) for v in villages) == SMALL["workers"]
    assert len(villages) == SMALL["villages"]
    names = Counter(v["nama_desa"] for v in villages)
    assert names["Sidomulyo"] == 2
    assert {"Palingkau Baru", "Palangkau Baru", "Sei Pasah", "Barunang II", "Karetau Manta'a"} <= set(names)
    for v in villages:
        assert re.fullmatch(r"62\.03\.(0[1-9]|1[0-7])\.[12]\d{3}", v["kode_desa"]), v
        assert v["kode_desa"].startswith(v["kode_kecamatan"] + ".")
    (workforce,) = _read_csv(out / "reference" / "workforce.csv")
    assert workforce["kode"] == "62.03" and workforce["sumber"] == "contoh sintetis, bukan angka BPS"


@pytest.mark.slow
def test_default_size(tmp_path: Path) -> None:
    """Kapuas size: 17 kecamatan, 231 villages, kuota 10,000, about 60,000 members."""
    summary = write_sample(tmp_path)
    villages = _read_csv(tmp_path / "reference" / "villages.csv")
    assert len(villages) == 231 and sum(int(v["kuota"]) for v in villages) == 10_000
    assert len({v["kode_kecamatan"] for v in villages}) == 17
    assert sum(v["kode_desa"][9] == "1" for v in villages) == 17
    assert 55_000 <= summary.members <= 65_000
