import polars as pl
import pytest

from cakupan.nik import nik_columns


@pytest.mark.parametrize(
    ("nik", "province", "sex", "date_valid"),
    [
        ("6203011705800003", "62", "L", True),  # a man born 17-05-1980
        ("6203015705800003", "62", "P", True),  # the same date for a woman: day + 40
        ("6203013102800003", "62", "L", False),  # 31 February never exists
        ("6203012902000003", "62", "L", True),  # 29-02-00 exists in 2000
        ("6203012902010003", "62", "L", False),  # 29-02-01 exists in no century
        ("6203011713800003", "62", "L", False),  # month 13
        ("6203013505800003", "62", "L", False),  # day 35 is neither a man's nor a woman's day
        ("6203011705800000", "62", "L", False),  # serial 0000 is never issued
        ("9903011705800003", "99", "L", True),  # the region rule is a separate expectation
    ],
)
def test_nik_columns_read_the_birth_date_and_sex(nik: str, province: str, sex: str, date_valid: bool) -> None:
    row = pl.DataFrame({"nik": [nik]}).with_columns(nik_columns()).row(0, named=True)
    assert (row["nik_province"], row["nik_sex"], row["nik_date_valid"]) == (province, sex, date_valid)


def test_a_nik_that_is_not_16_digits_says_nothing() -> None:
    row = pl.DataFrame({"nik": ["620301170580000"]}).with_columns(nik_columns()).row(0, named=True)
    assert row["nik_province"] is None and row["nik_date_valid"] is None
