"""Publishing through the real flow, on SQLite and PostgreSQL: two run dates, a rerun, a run whose metrics are broken.

`cakupan run` for 2026-11-20, then 2026-11-27, then 2026-11-27 again; then a 2026-11-27 run whose coverage table is
deliberately broken after aggregation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from sqlalchemy import create_engine, inspect, text

from cakupan.cli import run_pipeline
from cakupan.errors import InputError
from cakupan.premium import load_premium_rates
from cakupan.sample import write_sample
from warehouse.store import upgrade

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_api")]

EARLIER, RUN = date(2026, 11, 20), date(2026, 11, 27)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("publish-sample")
    write_sample(out, seed=5, villages=12, workers=300)
    return out


def run(sample: Path, data_dir: Path, db: str | None, run_date: date = RUN) -> Any:
    return run_pipeline(
        run_date=run_date,
        submissions=sample / "submissions",
        bpjs=sample / "bpjs",
        reference=sample / "reference",
        data_dir=data_dir,
        db=db,
    )


class Published:
    def __init__(self, data_dir: Path, db: str | None) -> None:
        self.data_dir, self.db = data_dir, db
        self.url = db or f"sqlite:///{data_dir / 'warehouse.db'}"

    def partition(self, zone: str, dataset: str, run_date: date = RUN) -> pl.DataFrame:
        return pl.read_parquet(self.data_dir / zone / dataset / f"run_date={run_date}" / "*.parquet")

    def sql(self, query: str, **params: object) -> list[tuple[Any, ...]]:
        engine = create_engine(self.url)
        with engine.connect() as conn:
            rows = [tuple(r) for r in conn.execute(text(query), params).all()]
        engine.dispose()
        return rows

    def snapshot(self) -> dict[str, object]:
        files = {
            str(p.relative_to(self.data_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(self.data_dir.rglob("*"))
            if p.is_file()
            and not {".runs", ".trash"} & set(p.relative_to(self.data_dir).parts)
            and p.name != "warehouse.db"
        }
        engine = create_engine(self.url)
        with engine.connect() as conn:
            tables = sorted(set(inspect(conn).get_table_names()) - {"run_date_locks"})
            rows = {t: sorted(map(repr, conn.execute(text(f'select * from "{t}"')).all())) for t in tables}
        engine.dispose()
        return {"files": files, "rows": rows}


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def published(
    request: pytest.FixtureRequest, sample: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Published]:
    data_dir = tmp_path_factory.mktemp(f"publish-{request.param}")
    if request.param == "sqlite":
        # The local profile: no --db, a data folder without warehouse.db, so the run creates it at head.
        yield from _runs(sample, Published(data_dir, None))
    else:
        from tests.conftest import _postgres_database

        for url in _postgres_database():
            upgrade(url)  # PostgreSQL is migrated deliberately, never by a run
            yield from _runs(sample, Published(data_dir, url))


def _runs(sample: Path, published: Published) -> Iterator[Published]:
    run(sample, published.data_dir, published.db, EARLIER)
    run(sample, published.data_dir, published.db, RUN)
    run(sample, published.data_dir, published.db, RUN)  # the rerun of a date
    yield published


def test_each_count_changes_against_the_latest_earlier_run(published: Published) -> None:
    now, then = published.partition("analytics", "coverage"), published.partition("analytics", "coverage", EARLIER)
    assert set(now["previous_run_date"]) == {EARLIER}
    assert then["previous_run_date"].null_count() == then.height  # the first run compares with nothing
    joined = now.join(then, on=["level", "kode"], suffix="_then")
    for count in ("active", "grace", "persons", "rejected", "premium_members", "members_active_total"):
        expected = joined[count] - joined[f"{count}_then"]
        assert joined[f"{count}_delta"].to_list() == expected.to_list(), count


def test_the_premium_is_regency_paid_members_covered_or_in_grace_times_the_dated_rate(published: Published) -> None:
    persons = published.partition("restricted", "persons")
    paying = persons.filter(pl.col("paid_by_regency").fill_null(False) & pl.col("state").is_in(["covered", "grace"]))
    kab = published.partition("analytics", "coverage").filter(pl.col("level") == "kabupaten").row(0, named=True)
    rate = load_premium_rates().rate_on(RUN)[0]
    assert kab["premium_members"] == paying["member_nik"].n_unique() > 0
    assert (kab["premium_rate_rp"], kab["premium_monthly_rp"]) == (rate, kab["premium_members"] * rate)


def test_a_rerun_leaves_one_set_of_rows_per_date_in_every_table(published: Published) -> None:
    coverage = published.partition("analytics", "coverage")
    files = published.partition("restricted", "files")
    assert published.sql(
        "select count(*), count(distinct level || kode) from coverage_metrics where run_date = :d", d=RUN
    ) == [(coverage.height, coverage.height)]
    assert published.sql("select count(*), count(distinct path) from submission_files where run_date = :d", d=RUN) == [
        (files.height, files.height)
    ]
    statuses = published.sql("select status, count(*) from submission_files where run_date = :d group by status", d=RUN)
    assert dict(statuses) == {s: n for s, n in files.group_by(pl.col("status").cast(pl.String)).len().iter_rows()}
    versions = published.sql("select premium_rates_version from pipeline_runs where run_date = :d", d=RUN)
    assert versions == [(load_premium_rates().version,)] * 2  # both completed runs are recorded


def test_each_run_date_has_its_report_with_the_trend_so_far(published: Published) -> None:
    reports = published.data_dir / "reports"
    assert (reports / f"coverage_{EARLIER}.html").is_file()
    html = (reports / f"coverage_{RUN}.html").read_text(encoding="utf-8")
    assert f"<td>{EARLIER}</td>" in html and f"<td>{RUN}</td>" in html
    assert f"Perubahan dibandingkan run {EARLIER}" in html


def test_the_run_leaves_its_artifacts_in_prefect(published: Published) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    kecamatan = published.partition("analytics", "coverage").filter(pl.col("level") == "kecamatan")["kode"][0]
    per_kecamatan = "cakupan-kecamatan-" + kecamatan.replace(".", "-")
    keys = ["cakupan-run-summary", "cakupan-kecamatan", "cakupan-report", per_kecamatan]
    with get_client(sync_client=True) as client:
        latest = {
            key: client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
                sort=ArtifactSort.CREATED_DESC,
                limit=1,
            )
            for key in keys
        }
    assert all(latest.values()), {k: bool(v) for k, v in latest.items()}
    summary = str(latest["cakupan-run-summary"][0].data)
    assert f"# cakupan Kabupaten Kapuas {RUN}" in summary and f"Dibandingkan dengan {EARLIER}" in summary
    assert "Perlu ditinjau" in summary and f"coverage_{RUN}.html" in summary
    report = (published.data_dir / "reports" / f"coverage_{RUN}.html").resolve().as_uri()
    assert f"]({report})" in str(latest["cakupan-report"][0].data)


def test_a_run_whose_metrics_break_an_invariant_publishes_nothing(
    published: Published, sample: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tasks.publish

    original = tasks.publish.with_premium

    def broken(metrics: pl.DataFrame, persons: pl.DataFrame, *, rate_rp: int) -> pl.DataFrame:
        # One desa gains a worker after its kecamatan and the kabupaten were summed.
        frame = original(metrics, persons, rate_rp=rate_rp)
        first = frame.filter(pl.col("level") == "desa")["kode"][0]
        return frame.with_columns(
            pl.when(pl.col("kode") == first).then(pl.col("active") + 1).otherwise(pl.col("active"))
        )

    monkeypatch.setattr(tasks.publish, "with_premium", broken)
    before = published.snapshot()
    with pytest.raises(
        InputError, match=r"coverage metrics break their invariants: .*kecamatan_sum.*nothing was published"
    ):
        run(sample, published.data_dir, published.db)
    assert published.snapshot() == before
