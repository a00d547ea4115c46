import os
from datetime import date, datetime
from pathlib import Path

import pytest

from cakupan.errors import InputError
from cakupan.inputs import choose_export, parse_run_date


def touch(path: Path, modified: datetime | None = None) -> Path:
    path.write_text("KPJ,NIK,NAMA\n")
    if modified:
        os.utime(path, (modified.timestamp(), modified.timestamp()))
    return path


def test_a_folder_gives_the_newest_export_dated_on_or_before_the_run_date(tmp_path: Path) -> None:
    touch(tmp_path / "bpjs_export_2026-08-31.xlsx")
    wanted = touch(tmp_path / "bpjs_export_20261125.csv")
    touch(tmp_path / "bpjs_export_2026-12-01.csv")  # after the run date: a rerun of 27 Nov must not see it
    touch(tmp_path / "catatan.docx")  # not an export
    assert choose_export(tmp_path, date(2026, 11, 27)) == wanted


def test_an_undated_export_is_dated_by_its_modification_time(tmp_path: Path) -> None:
    old = touch(tmp_path / "peserta.csv", datetime(2026, 10, 1, 12))
    touch(tmp_path / "peserta_baru.csv", datetime(2026, 11, 30, 12))
    assert choose_export(tmp_path, date(2026, 11, 27)) == old


def test_a_file_is_used_as_given(tmp_path: Path) -> None:
    path = touch(tmp_path / "bpjs_export_2026-12-01.csv")
    assert choose_export(path, date(2026, 11, 27)) == path


def test_no_export_in_time_is_a_clear_error(tmp_path: Path) -> None:
    touch(tmp_path / "bpjs_export_2026-12-01.csv")
    with pytest.raises(InputError, match="no BPJS export dated on or before 2026-11-27"):
        choose_export(tmp_path, date(2026, 11, 27))


@pytest.mark.parametrize("text", ["2026-13-01", "27-11-2026", "", "2026/11/27"])
def test_bad_run_dates(text: str) -> None:
    with pytest.raises(InputError, match="bad run date"):
        parse_run_date(text)
