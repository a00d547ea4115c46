from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

from cakupan.errors import InputError
from cakupan.reconcile import DECISIONS_SCHEMA
from cakupan.reference import load_review_decisions

HEADER = "nik,kpj,decision,decided_by,decided_at\n"


def write(folder: Path, body: str) -> Path:
    (folder / "review_decisions.csv").write_text(HEADER + body, encoding="utf-8")
    return folder


def test_no_file_means_no_decisions(tmp_path: Path) -> None:
    assert load_review_decisions(tmp_path) is None


def test_decisions_are_read_typed_and_the_later_verdict_on_a_pair_holds(tmp_path: Path) -> None:
    write(
        tmp_path,
        "6203011705800037,10000000004,same_person,Rina,2026-11-20\n"
        " 6203011705800037 ,10000000004, Different_Person ,Budi,2026-11-25 09:30\n"  # changed mind, any case
        "6203011705800003,10000000007,different_person,Rina,2026-11-20T08:00:00\n",
    )
    frame = load_review_decisions(tmp_path)
    assert frame is not None
    assert frame.schema == pl.Schema(DECISIONS_SCHEMA)
    assert frame.rows() == [
        ("6203011705800003", "10000000007", "different_person", "Rina", datetime(2026, 11, 20, 8, 0)),
        ("6203011705800037", "10000000004", "different_person", "Budi", datetime(2026, 11, 25, 9, 30)),
    ]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("6203011705800037,10000000004,yes,Rina,2026-11-20", r"line 2: decision 'yes' is not one of same_person"),
        ("6203011705800037,10000000004,,Rina,2026-11-20", r"line 2: decision '' is not one of"),
        ("620301170580003,10000000004,same_person,Rina,2026-11-20", r"line 2: nik '620301170580003' is not 16"),
        ("6203011705800037,1000000004,same_person,Rina,2026-11-20", r"line 2: kpj '1000000004' is not 11 digits"),
        ("6203011705800037,10000000004,same_person,,2026-11-20", r"line 2: decided_by '' is empty"),
        ("6203011705800037,10000000004,same_person,Rina,20/11/2026", r"line 2: decided_at '20/11/2026' is not a date"),
    ],
)
def test_a_bad_row_stops_the_run_with_one_line(tmp_path: Path, row: str, message: str) -> None:
    write(tmp_path, row + "\n")
    with pytest.raises(InputError, match=message) as error:
        load_review_decisions(tmp_path)
    assert "\n" not in str(error.value)


def test_a_pair_decided_both_ways_at_once_is_an_error(tmp_path: Path) -> None:
    write(
        tmp_path,
        "6203011705800037,10000000004,same_person,Rina,2026-11-20\n"
        "6203011705800037,10000000004,different_person,Budi,2026-11-20\n",
    )
    with pytest.raises(InputError, match="decided both ways"):
        load_review_decisions(tmp_path)


def test_a_missing_column_is_named(tmp_path: Path) -> None:
    (tmp_path / "review_decisions.csv").write_text("nik,kpj,decision\n", encoding="utf-8")
    with pytest.raises(InputError, match="lacks column"):
        load_review_decisions(tmp_path)
