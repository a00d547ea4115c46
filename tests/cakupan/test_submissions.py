from datetime import datetime

import polars as pl
import pytest

from cakupan.submissions import code_in_name, date_in_name, decide


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("6203012001_Sei_Asam_2026-11-03.xlsx", datetime(2026, 11, 3)),
        ("DESA KARETAU 20261101.csv", datetime(2026, 11, 1)),
        ("daftar pekerja rentan.xlsx", None),
        ("6203012001 usulan.csv", None),  # a village code is not a date
    ],
)
def test_date_in_name(name: str, expected: datetime | None) -> None:
    assert date_in_name(name) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("6203012001_Sei_Asam.xlsx", "62.03.01.2001"),
        ("62.03.01.2001 usulan.csv", "62.03.01.2001"),
        ("usulan.csv", None),
    ],
)
def test_code_in_name(name: str, expected: str | None) -> None:
    assert code_in_name(name) == expected


def files(*rows: tuple) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "file_id": i,
                "source_file": n,
                "sha256": sha,
                "submitted_at": at,
                "read_error": err,
                "file_kode_desa": None,
            }
            for i, (n, sha, at, err) in enumerate(rows)
        ],
        schema={
            "file_id": pl.Int64,
            "source_file": pl.String,
            "sha256": pl.String,
            "submitted_at": pl.Datetime("us"),
            "read_error": pl.String,
            "file_kode_desa": pl.String,
        },
    )


def rows(*rows: tuple) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {"row_id": i, "file_id": f, "source_row": r, "nik": nik, "kode_desa": desa}
            for i, (f, r, nik, desa) in enumerate(rows)
        ],
        schema={
            "row_id": pl.Int64,
            "file_id": pl.Int64,
            "source_row": pl.Int64,
            "nik": pl.String,
            "kode_desa": pl.String,
        },
    )


NO_FAILURES = pl.DataFrame(schema={"row_id": pl.Int64, "reason": pl.String, "level": pl.String})
A, B = "62.03.01.2001", "62.03.01.2002"


def test_every_row_gets_one_outcome() -> None:
    f = files(
        ("a_old.csv", "s1", datetime(2026, 10, 1), None),  # superseded by a_new
        ("a_new.csv", "s2", datetime(2026, 11, 1), None),
        ("b.csv", "s3", datetime(2026, 11, 2), None),
        ("b_copy.csv", "s3", datetime(2026, 11, 3), None),  # same bytes as b.csv
        ("broken.xlsx", "s4", datetime(2026, 11, 1), "file_unreadable"),
    )
    r = rows(
        (0, 2, "1111", A),
        (1, 2, "1111", A),
        (1, 3, "1111", A),  # same NIK again in one file
        (1, 4, "2222", A),
        (2, 2, "2222", B),  # on A's list too; A submitted earlier
        (2, 3, "3333", B),  # rejected by a rule
        (3, 2, "2222", B),
    )
    failures = pl.DataFrame({"row_id": [5], "reason": ["nik_format"], "level": ["E"]})
    decided_files, decided = decide(f, r, failures, max_rejected_share=0.5)
    assert decided.sort("row_id")["outcome"].cast(pl.String).to_list() == [
        "superseded",
        "accepted",
        "duplicate_in_file",
        "accepted",
        "duplicate_across_villages",
        "rejected",
        "superseded",
    ]
    statuses = dict(decided_files.select("source_file", pl.col("status").cast(pl.String)).iter_rows())
    assert statuses == {
        "a_old.csv": "superseded",
        "a_new.csv": "loaded",
        "b.csv": "loaded",
        "b_copy.csv": "superseded",
        "broken.xlsx": "rejected",
    }
    reasons = dict(decided_files.select("source_file", "reason").iter_rows())
    assert reasons["b_copy.csv"] == "duplicate_file" and reasons["a_old.csv"] == "newer_submission"


def test_a_file_with_mostly_rejected_rows_is_rejected_whole() -> None:
    f = files(("bad.csv", "s1", datetime(2026, 11, 1), None))
    r = rows((0, 2, "1", A), (0, 3, "2", A), (0, 4, "3", A))
    failures = pl.DataFrame({"row_id": [0, 1], "reason": ["nik_format"] * 2, "level": ["E"] * 2})
    decided_files, decided = decide(f, r, failures, max_rejected_share=0.5)
    assert decided_files["reason"].item() == "too_many_rejected"
    assert decided.sort("row_id")["reasons"].to_list() == [
        ["nik_format", "too_many_rejected"],
        ["nik_format", "too_many_rejected"],
        ["too_many_rejected"],
    ]


def test_warnings_do_not_reject() -> None:
    f = files(("a.csv", "s1", datetime(2026, 11, 1), None))
    r = rows((0, 2, "1", A))
    failures = pl.DataFrame({"row_id": [0], "reason": ["age_out_of_range"], "level": ["W"]})
    _, decided = decide(f, r, failures, max_rejected_share=0.5)
    assert decided["outcome"].cast(pl.String).item() == "accepted"
    assert decided["reasons"].item().to_list() == ["age_out_of_range"]


def test_the_first_acceptable_copy_of_a_person_is_kept() -> None:
    # Rows 2 and 3 are the same person; row 2 was rejected (say its birth date is unreadable), so row 3 is the one
    # kept, not a duplicate of a row that was never taken. Row 4 is a plain second copy.
    f = files(("a.csv", "s1", datetime(2026, 11, 1), None))
    r = rows((0, 2, "1111", A), (0, 3, "1111", A), (0, 4, "1111", A), (0, 5, "2222", A))
    failures = pl.DataFrame({"row_id": [0], "reason": ["birthdate_invalid"], "level": ["E"]})
    _, decided = decide(f, r, failures, max_rejected_share=0.5)
    assert decided.sort("row_id")["outcome"].cast(pl.String).to_list() == [
        "rejected",
        "accepted",
        "duplicate_in_file",
        "accepted",
    ]
