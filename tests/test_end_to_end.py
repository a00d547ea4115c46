"""`cakupan sample` + the nightly flow end to end, checked against the sample's truth/."""

from __future__ import annotations

import hashlib
import re
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from sqlalchemy import create_engine, text

from cakupan.cli import run_pipeline
from cakupan.reconcile import STATUSES
from cakupan.sample import write_sample

RUN = date(2026, 11, 27)
pytestmark = pytest.mark.usefixtures("prefect_api")


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample")
    write_sample(out, seed=3, villages=12, workers=300)
    return out


@pytest.fixture(scope="module")
def data(sample: Path, tmp_path_factory: pytest.TempPathFactory, prefect_api: None) -> Path:
    data_dir = tmp_path_factory.mktemp("data")
    run(sample, data_dir)
    return data_dir


def run(sample: Path, data_dir: Path, db: str | None = None):  # type: ignore[no-untyped-def]
    return run_pipeline(
        run_date=RUN,
        submissions=sample / "submissions",
        bpjs=sample / "bpjs",
        reference=sample / "reference",
        data_dir=data_dir,
        db=db,
    )


def partition(data: Path, zone: str, dataset: str) -> pl.DataFrame:
    return pl.read_parquet(data / zone / dataset / f"run_date={RUN}" / "*.parquet")


def truth(sample: Path, name: str) -> pl.DataFrame:
    return pl.read_csv(sample / "truth" / name, infer_schema=False)


def test_every_row_read_is_recorded_once_with_its_true_outcome_and_reasons(sample: Path, data: Path) -> None:
    ledger = partition(data, "restricted", "submission_rows").select(
        "source_file",
        pl.col("source_row").cast(pl.String),
        pl.col("outcome").cast(pl.String),
        pl.col("reasons").list.join(";"),
    )
    expected = truth(sample, "rows.csv").select("source_file", "source_row", "outcome", pl.col("reasons").fill_null(""))
    assert ledger.height == expected.height
    assert ledger.select("source_file", "source_row").is_duplicated().sum() == 0
    assert_frame_equal(ledger.sort("source_file", "source_row"), expected.sort("source_file", "source_row"))
    # Every kind of mess the sample makes is really exercised.
    assert set(ledger["outcome"]) == {
        "accepted",
        "rejected",
        "duplicate_in_file",
        "duplicate_across_villages",
        "superseded",
    }


def test_every_file_has_its_true_status(sample: Path, data: Path) -> None:
    files = partition(data, "restricted", "files").select(
        pl.col("path").alias("source_file"),
        "kode_desa",
        pl.col("status").cast(pl.String),
        pl.col("reason").fill_null(""),
    )
    expected = truth(sample, "files.csv").with_columns(pl.col("kode_desa", "reason").fill_null(""))
    assert_frame_equal(
        files.with_columns(pl.col("kode_desa").fill_null("")).sort("source_file"),
        expected.select(files.columns).sort("source_file"),
    )


def test_every_person_has_their_true_status(sample: Path, data: Path) -> None:
    persons = partition(data, "restricted", "persons").select(
        "nik", pl.col("kode_desa").fill_null(""), pl.col("status").cast(pl.String)
    )
    expected = truth(sample, "persons.csv").select("nik", pl.col("kode_desa").fill_null(""), "status")
    assert_frame_equal(persons.sort("nik"), expected.sort("nik"))


def test_coverage_equals_truth(sample: Path, data: Path) -> None:
    coverage = partition(data, "analytics", "coverage")
    expected = pl.read_csv(sample / "truth" / "coverage.csv")
    counts = [c for c in expected.columns if c not in ("level", "kode")]
    got = coverage.select("level", "kode", *(pl.col(c).cast(pl.Int64) for c in counts)).sort("level", "kode")
    assert_frame_equal(
        got, expected.select("level", "kode", *(pl.col(c).cast(pl.Int64) for c in counts)).sort("level", "kode")
    )


def test_statuses_sum_to_persons_at_every_level(data: Path) -> None:
    coverage = partition(data, "analytics", "coverage")
    assert coverage.filter(pl.sum_horizontal(STATUSES) != pl.col("persons")).is_empty()
    assert coverage.filter(
        pl.col("submitted_rows") != pl.sum_horizontal("accepted", "rejected", "duplicates", "superseded")
    ).is_empty()


def test_analytics_hold_no_personal_data(sample: Path, data: Path) -> None:
    ledger = partition(data, "restricted", "submission_rows")
    persons = partition(data, "restricted", "persons")
    names = {n.upper() for n in ledger["nama"].drop_nulls() if len(n) >= 6}
    numbers = set(persons["nik"].drop_nulls()) | set(persons["kpj"].drop_nulls())
    long_number = re.compile(r"\d{11,}")
    for path in (data / "analytics").rglob("*.parquet"):
        frame = pl.read_parquet(path)
        # coverage has a `nama` column too, but it names villages; person names are caught by value below.
        assert not {"nik", "kpj", "no_hp", "alamat", "member_nik", "member_nama"} & set(frame.columns), path
        if "person_key" in frame.columns:
            # A keyed hash, not a NIK: 64 hex digits (and it may contain digit runs by chance).
            assert frame["person_key"].str.contains(r"^[0-9a-f]{64}$").all()
            assert not numbers & set(frame["person_key"])
        for column in frame.select(pl.col(pl.String).exclude("person_key")).columns:
            values = set(frame[column].drop_nulls())
            assert not any(long_number.search(v) for v in values), (path, column)
            assert not names & {v.upper() for v in values}, (path, column)
            assert not numbers & values, (path, column)


def test_outputs_read_as_one_dataset_with_polars_duckdb_and_pandas(data: Path) -> None:
    import duckdb
    import pandas as pd

    root = data / "analytics" / "reconciliation"
    via_polars = pl.read_parquet(root, hive_partitioning=True)
    via_duckdb = duckdb.sql(
        "select count(*) as n, count(distinct person_key) as k "
        f"from read_parquet('{root}/*/*.parquet', hive_partitioning=true)"
    ).fetchall()[0]
    via_pandas = pd.read_parquet(root)
    assert via_duckdb == (via_polars.height, via_polars.height)
    assert len(via_pandas) == via_polars.height
    assert "run_date" in via_pandas.columns and "run_date" in via_polars.columns


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(pl.read_parquet(p).write_ipc(None).getvalue()).hexdigest()
        for p in sorted(folder.rglob("*.parquet"))
    }


def test_rerunning_a_date_gives_the_same_outputs_and_no_duplicate_rows(sample: Path, data: Path) -> None:
    before = digest(data)
    run(sample, data)
    assert digest(data) == before
    engine = create_engine(f"sqlite:///{data / 'warehouse.db'}")
    with engine.connect() as conn:
        rows = conn.execute(text("select count(*), count(distinct level || kode) from coverage_metrics")).one()
        runs = conn.execute(text("select count(*) from pipeline_runs")).scalar()
    assert rows[0] == rows[1] == partition(data, "analytics", "coverage").height
    assert runs == 2
    assert not list((data / ".runs").glob("*")), "a completed run leaves no scratch behind"


def test_an_export_that_fails_its_gate_stops_the_run_and_changes_nothing(
    sample: Path, data: Path, tmp_path: Path
) -> None:
    from cakupan.errors import InputError

    export = sample / "bpjs" / "bpjs_export_2026-11-25.csv"
    broken = tmp_path / "bpjs_export_2026-11-26.csv"
    lines = export.read_text(encoding="utf-8").splitlines()
    # Every tenth member's KPJ cut to 9 digits: far beyond what a real export tolerates.
    cut = [line if i == 0 or i % 10 else line[:9] + line[11:] for i, line in enumerate(lines)]
    broken.write_text("\n".join(cut) + "\n", encoding="utf-8")
    before = digest(data)
    with pytest.raises(InputError, match="failed its checks"):
        run_pipeline(
            run_date=RUN,
            submissions=sample / "submissions",
            bpjs=broken,
            reference=sample / "reference",
            data_dir=data,
            db=None,
        )
    assert digest(data) == before
    assert not list((data / ".runs").glob("*"))
