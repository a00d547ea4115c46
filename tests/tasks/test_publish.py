"""Publishing: the invariant gate, the all-or-nothing swap of files and rows, the artifacts' links."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from prefect.logging import disable_run_logger
from sqlalchemy import func, select

from cakupan.errors import InputError
from cakupan.metrics import with_changes, with_premium
from tasks.publish import artifact_key, artifact_links, check_invariants, publish_outputs, report_name
from tasks.summaries import RunPaths, RunSummary
from tests.cakupan.test_metrics import PERSONS, RUN, table
from warehouse.models import CoverageMetric, SubmissionFile
from warehouse.parquet import partition_dir, write_partition
from warehouse.store import connect, upgrade


def complete(frame: pl.DataFrame) -> pl.DataFrame:
    return with_changes(with_premium(frame, PERSONS, rate_rp=16_800), None)


def test_a_consistent_table_passes_the_suite_without_warnings() -> None:
    assert check_invariants(complete(table())) == []


def test_a_deliberately_broken_table_is_refused_with_the_invariant_and_the_rows_it_breaks() -> None:
    # One desa gains an active worker after its kecamatan was summed.
    broken = complete(table()).with_columns(
        pl.when(pl.col("kode") == "62.03.01.2001").then(pl.col("active") + 1).otherwise(pl.col("active"))
    )
    with pytest.raises(InputError) as refused:
        check_invariants(broken)
    message = str(refused.value)
    assert "kecamatan_sum (check_kecamatan_minus_desa_active) on 1 row(s), e.g. kecamatan 62.03.01" in message
    assert "statuses_sum" in message  # the desa's statuses no longer add up to its persons either
    assert message.endswith("nothing was published") and "\n" not in message


def test_attainment_above_the_kuota_is_flagged_not_refused_nor_clipped() -> None:
    over = complete(table()).with_columns(
        pl.when(pl.col("level") == "desa")
        .then(pl.lit(1.5))
        .otherwise(pl.col("target_attainment"))
        .alias("target_attainment")
    )
    warnings = check_invariants(over)
    assert warnings == [
        "attainment_above_kuota on 3 row(s), e.g. desa 62.03.01.2001, desa 62.03.01.2002, desa 62.03.02.2001"
    ]


def test_a_rate_outside_zero_and_one_is_refused() -> None:
    wrong = complete(table()).with_columns(
        pl.when(pl.col("level") == "kabupaten").then(pl.lit(1.2)).alias("workforce_coverage")
    )
    with pytest.raises(InputError, match="rate_out_of_range"):
        check_invariants(wrong)


# --- the swap and the commit, on both databases -------------------------------------------------------------------


def stage(root: Path, active: int, files: list[str], report_text: str) -> RunPaths:
    run = root / f"run-{active}"
    paths = RunPaths(data_dir=root / "data", staging=run / "staging", work=run)
    metrics = complete(table()).with_columns(pl.lit(active).alias("active"))
    write_partition(metrics, paths.staging / "analytics", "coverage", RUN)
    paths.work.mkdir(parents=True, exist_ok=True)
    metrics.write_parquet(paths.work / "coverage.parquet")
    registry = pl.DataFrame(
        {"path": files, "sha256": ["0" * 64] * len(files), "kode_desa": [None] * len(files)},
        schema_overrides={"kode_desa": pl.String},
    ).with_columns(
        submitted_at=pl.lit(datetime(2026, 11, 20)),
        status=pl.lit("loaded"),
        reason=pl.lit(None, pl.String),
        detail=pl.lit(None, pl.String),
        rejected_share=pl.lit(0.0),
    )
    write_partition(registry, paths.staging / "restricted", "files", RUN)
    (paths.staging / "reports").mkdir(parents=True)
    (paths.staging / "reports" / report_name(RUN)).write_text(report_text)
    return paths


def record(run_id: str) -> dict[str, object]:
    now = datetime.now(UTC)
    return {
        "run_id": run_id,
        "run_date": RUN,
        "started_at": now,
        "finished_at": now,
        "status": "completed",
        "rows_read": 8,
        "persons": 6,
        "inputs_sha256": "x",
        "code_version": "test",
        "rules_version": "test",
        "premium_rates_version": "test",
    }


def published(data_dir: Path, db_url: str) -> tuple[set[int], list[str], str, int, int]:
    coverage = pl.read_parquet(partition_dir(data_dir / "analytics", "coverage", RUN))
    files = pl.read_parquet(partition_dir(data_dir / "restricted", "files", RUN))
    engine = connect(db_url)
    with engine.connect() as conn:
        rows = conn.scalar(select(func.count()).select_from(CoverageMetric))
        file_rows = conn.scalar(select(func.count()).select_from(SubmissionFile))
    engine.dispose()
    report = (data_dir / "reports" / report_name(RUN)).read_text()
    return set(coverage["active"]), sorted(files["path"]), report, rows, file_rows


def test_publishing_a_date_again_replaces_it_and_a_failed_commit_puts_everything_back(
    db_url: str, tmp_path: Path
) -> None:
    upgrade(db_url)
    with disable_run_logger():
        first = stage(tmp_path, 10, ["a.xlsx", "b.csv"], "report one")
        publish_outputs.fn(RUN, first.work / "coverage.parquet", record("run-1"), db_url, first)
        assert published(first.data_dir, db_url) == ({10}, ["a.xlsx", "b.csv"], "report one", 6, 2)

        # A publish that fails half way: the files are already swapped in when the commit fails (run id taken).
        failing = stage(tmp_path, 20, ["c.xlsx"], "report two")
        with pytest.raises(Exception):  # noqa: B017 - the driver's IntegrityError differs per database
            publish_outputs.fn(RUN, failing.work / "coverage.parquet", record("run-1"), db_url, failing)
        assert published(first.data_dir, db_url) == ({10}, ["a.xlsx", "b.csv"], "report one", 6, 2)

        # A rerun of the same date replaces everything of that date and duplicates nothing.
        rerun = stage(tmp_path, 30, ["c.xlsx"], "report three")
        outputs = publish_outputs.fn(RUN, rerun.work / "coverage.parquet", record("run-3"), db_url, rerun)
        assert published(first.data_dir, db_url) == ({30}, ["c.xlsx"], "report three", 6, 1)
    assert f"reports/{report_name(RUN)}" in outputs and "restricted/files" in outputs
    assert not list((first.data_dir / ".trash").glob("*"))


def test_artifact_links_point_at_the_published_report_data_docs_and_output_folders(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "reports" / "data_docs").mkdir(parents=True)
    (data / "reports" / "data_docs" / "index.html").write_text("docs")
    (data / "reports" / report_name(RUN)).write_text("report")
    summary = RunSummary(
        run_id="r",
        run_date=RUN,
        rows_read=0,
        outcomes={},
        file_statuses={},
        rejected_files=[],
        statuses={},
        kuota_total=9,
        active=2,
        target_attainment=None,
        members_active_total=0,
        penduduk_bekerja=None,
        workforce_coverage=None,
        export_file="x.csv",
        outputs={
            "analytics/coverage": str(data / "analytics" / "coverage" / f"run_date={RUN}"),
            f"reports/{report_name(RUN)}": str(data / "reports" / report_name(RUN)),
        },
    )
    links = artifact_links(summary, data)
    assert list(links) == [
        "Laporan cakupan (HTML report)",
        "Data Docs (Great Expectations)",
        "analytics/coverage",
    ]
    assert links["Data Docs (Great Expectations)"] == (data / "reports" / "data_docs" / "index.html").as_uri()
    assert all(url.startswith("file:///") for url in links.values())


@pytest.mark.parametrize(
    ("text", "key"), [("cakupan-kecamatan-62.03.01", "cakupan-kecamatan-62-03-01"), ("A b_c", "a-b-c")]
)
def test_artifact_keys_are_what_prefect_accepts(text: str, key: str) -> None:
    assert artifact_key(text) == key
