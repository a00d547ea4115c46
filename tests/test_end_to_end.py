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


def table_digest(table: pl.DataFrame) -> str:
    """The table's schema, rows and their order; not how they lie in memory (a file written in chunks reads as
    several, whose bytes differ from one chunk's)."""
    rows = table.hash_rows(seed=0).to_numpy().tobytes()
    return hashlib.sha256(str(table.schema).encode() + rows).hexdigest()


def digest(folder: Path) -> dict[str, str]:
    tables = {str(p.relative_to(folder)): table_digest(pl.read_parquet(p)) for p in sorted(folder.rglob("*.parquet"))}
    # The work lists people open (review queue, registration and grace lists) must come out byte for byte too.
    lists = {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.glob("restricted/**/*"))
        if p.suffix in (".xlsx", ".csv")
    }
    return tables | lists


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
    # The run's Data Docs and feedback are staged before the export is read: they must not appear either.
    reports = {p: p.read_bytes() for p in sorted((data / "reports").rglob("*")) if p.is_file()}
    assert (data / "reports" / "data_docs" / "index.html").is_file()
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
    assert {p: p.read_bytes() for p in sorted((data / "reports").rglob("*")) if p.is_file()} == reports
    assert not list((data / ".runs").glob("*"))


def sheet_rows(path: Path) -> pl.DataFrame:
    import openpyxl

    rows = list(openpyxl.load_workbook(path, read_only=True).worksheets[0].values)
    return pl.DataFrame([list(r) for r in rows[1:]], schema=[str(h) for h in rows[0]], orient="row")


def test_work_lists_follow_the_statuses_and_stay_restricted(data: Path) -> None:
    persons = partition(data, "restricted", "persons").with_columns(pl.col("status").cast(pl.String))

    def niks(status: str) -> list[str]:
        return sorted(persons.filter(pl.col("status") == status)["nik"])

    folder = f"run_date={RUN}"
    review = sheet_rows(data / "restricted" / "review" / folder / "review.xlsx")
    assert sorted(review["nik"]) == sorted(niks("identity_conflict") + niks("probable_match"))
    assert review.filter(pl.col("kpj").is_null() | pl.col("member_nama").is_null()).is_empty()
    registration = pl.read_csv(data / "restricted" / "registration" / folder / "registration.csv", infer_schema=False)
    assert sorted(registration["NIK"]) == niks("not_enrolled")
    assert sorted(sheet_rows(data / "restricted" / "registration" / folder / "registration.xlsx")["NIK"]) == niks(
        "not_enrolled"
    )
    grace = pl.read_csv(data / "restricted" / "grace" / folder / "grace.csv", infer_schema=False)
    assert sorted(grace["NIK"]) == niks("grace")
    assert niks("not_enrolled") and niks("grace") and len(review) > 0
    assert {p.suffix for p in (data / "analytics").rglob("*") if p.is_file()} == {".parquet"}


def test_review_decisions_are_honoured_on_the_next_run(sample: Path, data: Path, tmp_path: Path) -> None:
    """The reviewer confirms every probable match and rejects every identity conflict of the first run."""
    import shutil

    review = sheet_rows(data / "restricted" / "review" / f"run_date={RUN}" / "review.xlsx")
    decided = review.select(
        "nik",
        "kpj",
        pl.when(pl.col("status") == "probable_match")
        .then(pl.lit("same_person"))
        .otherwise(pl.lit("different_person"))
        .alias("decision"),
        pl.lit("Petugas Dinsos").alias("decided_by"),
        pl.lit("2026-11-26").alias("decided_at"),
    )
    reference = tmp_path / "reference"
    shutil.copytree(sample / "reference", reference)
    decided.write_csv(reference / "review_decisions.csv")
    out = tmp_path / "data"
    run_pipeline(
        run_date=RUN,
        submissions=sample / "submissions",
        bpjs=sample / "bpjs",
        reference=reference,
        data_dir=out,
        db=None,
    )
    before = partition(data, "restricted", "persons").with_columns(pl.col("status").cast(pl.String))
    after = partition(out, "restricted", "persons").with_columns(pl.col("status").cast(pl.String))
    pairs = before.join(after, on="nik", suffix="_after")
    confirmed = pairs.filter(pl.col("status") == "probable_match")
    assert confirmed.height > 0
    state_status = {"covered": "active", "grace": "grace", "lapsed": "lapsed"}
    assert confirmed["status_after"].to_list() == confirmed["state"].replace_strict(state_status).to_list()
    assert set(confirmed["match_method_after"]) == {"nik_near"}
    assert set(confirmed["decision_after"]) == {"same_person"}
    rejected = pairs.filter(pl.col("status") == "identity_conflict")
    assert rejected.height > 0
    assert set(rejected["status_after"]) == {"not_enrolled"}
    assert set(rejected["decision_after"]) == {"different_person"}
    # Nothing is left to review, and the rejected people are now on the registration list.
    assert not {"identity_conflict", "probable_match"} & set(after["status"])
    assert len(sheet_rows(out / "restricted" / "review" / f"run_date={RUN}" / "review.xlsx")) == 0
    registration = pl.read_csv(
        out / "restricted" / "registration" / f"run_date={RUN}" / "registration.csv", infer_schema=False
    )
    assert set(rejected["nik"]) <= set(registration["NIK"])


def test_analyst_parquet_is_zstd_hive_partitioned_in_bounded_row_groups(data: Path) -> None:
    import pyarrow.parquet as pq

    from warehouse.parquet import ROW_GROUP_SIZE

    files = sorted((data / "analytics").rglob("*.parquet"))
    assert files
    for path in files:
        assert path.parent.name == f"run_date={RUN}", path
        meta = pq.ParquetFile(path).metadata
        # The date lives in the folder name only, so readers never see two run_date columns.
        assert "run_date" not in meta.schema.names, path
        for group in range(meta.num_row_groups):
            assert meta.row_group(group).num_rows <= ROW_GROUP_SIZE
            assert {meta.row_group(group).column(c).compression for c in range(meta.num_columns)} == {"ZSTD"}
    # Written under a staging name and renamed into place: no half-written or temporary files remain.
    leftovers = [p for p in (data / "analytics").rglob("*") if p.name.startswith(".") or "tmp" in p.name.lower()]
    assert not leftovers


def test_every_row_not_taken_cleanly_is_in_its_villages_feedback_and_the_run_has_data_docs(data: Path) -> None:
    import python_calamine

    ledger = partition(data, "restricted", "submission_rows").with_columns(pl.col("outcome").cast(pl.String))
    to_fix = ledger.filter(
        (pl.col("outcome") != "superseded") & ((pl.col("outcome") != "accepted") | (pl.col("reasons").list.len() > 0))
    )
    listed = []
    for path in sorted((data / "restricted" / "feedback" / f"run_date={RUN}").glob("*.xlsx")):
        rows = python_calamine.CalamineWorkbook.from_path(str(path)).get_sheet_by_name("Baris bermasalah").to_python()
        listed += [(r[0], int(r[1])) for r in rows[6:] if isinstance(r[1], float)]
    assert sorted(listed) == sorted(to_fix.select("source_file", "source_row").rows())
    docs = data / "reports" / "data_docs"
    assert (docs / "index.html").is_file()
    assert len(list((docs / "validations" / "submission_rows" / str(RUN)).glob("*/submission_rows.html"))) == 1


def warehouse_coverage(data: Path) -> pl.DataFrame:
    engine = create_engine(f"sqlite:///{data / 'warehouse.db'}")
    with engine.connect() as conn:
        rows = conn.execute(text("select * from coverage_metrics order by level, kode")).mappings().all()
    return pl.DataFrame([dict(r) for r in rows]).drop("run_id", strict=False)


def test_a_run_split_into_partitions_gives_exactly_the_one_pass_outputs(
    sample: Path, data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAKUPAN_PARTITIONS", "4")
    # The export streamed from the file into its partitions, as a national one would be, and the inbox read by
    # several tasks.
    monkeypatch.setattr("cakupan.readers.STREAM_CSV_BYTES", 0)
    monkeypatch.setattr("tasks.ingest.FILES_PER_TASK", 5)
    # The ledger, the persons and the analyst copy sorted and written some forty rows at a time.
    monkeypatch.setattr("warehouse.parquet.SORT_CHUNK_ROWS", 40)
    # The partitions in a scratch named by an fsspec URL, as a cluster's shared store would be.
    scratch = tmp_path / "shared"
    monkeypatch.setenv("CAKUPAN_SCRATCH", f"file://{scratch}")
    out = tmp_path / "data"
    summary = run(sample, out)
    assert scratch.is_dir() and not [p for p in scratch.rglob("*") if p.is_file()]  # used, and emptied at the end
    assert digest(out) == digest(data)
    assert_frame_equal(warehouse_coverage(out), warehouse_coverage(data))
    persons = partition(data, "restricted", "persons").group_by("status").len()
    assert summary.statuses == {str(s): int(n) for s, n in persons.iter_rows()}
