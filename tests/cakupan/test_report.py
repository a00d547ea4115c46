"""What a run tells people: the Prefect markdown and tables, and the offline HTML report opened in Chromium."""

from __future__ import annotations

import json
import re
import time
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from cakupan.metrics import coverage_metrics, with_changes, with_premium
from cakupan.report import (
    CHARTS,
    coverage_report_html,
    desa_rows,
    int_id,
    kecamatan_rows,
    pct_id,
    signed_id,
    summary_markdown,
    villages_below_kuota,
)
from tests.cakupan.test_metrics import PERSONS, RUN, table

PREVIOUS = date(2026, 11, 20)
HISTORY = pl.DataFrame(
    {"run_date": [date(2026, 11, 6), PREVIOUS], "kuota": [9, 9], "active": [0, 1], "grace": [0, 1]},
    schema_overrides={"kuota": pl.Int64, "active": pl.Int64, "grace": pl.Int64},
)


def metrics(previous: bool = True) -> pl.DataFrame:
    now = with_premium(table(), PERSONS, rate_rp=16_800)
    then = now.with_columns(pl.lit(PREVIOUS).alias("run_date"), pl.col("active") - 1) if previous else None
    return with_changes(now, then)


def markdown(frame: pl.DataFrame, **override: object) -> str:
    arguments: dict = {
        "rows_read": 8,
        "outcomes": {"accepted": 5, "rejected": 2, "duplicate_in_file": 1},
        "file_statuses": {"loaded": 2, "rejected": 1},
        "rejected_files": [("62.03.03.2001_daftar|lama.xlsx", "column_missing")],
        "export_file": "bpjs_export_2026-11-25.csv",
        "links": {"Laporan cakupan (HTML report)": "file:///data/reports/coverage_2026-11-27.html"},
    }
    arguments.update(override)
    return summary_markdown(frame, **arguments)


@pytest.mark.parametrize(
    ("function", "given", "expected"),
    [
        (int_id, 10_000, "10.000"),
        (int_id, None, "-"),
        (pct_id, 0.4732, "47,3%"),
        (pct_id, 1.25, "125,0%"),  # attainment above the kuota is shown as it is
        (signed_id, 12, "+12"),
        (signed_id, -1_200, "-1.200"),
        (signed_id, 0, "0"),
        (signed_id, None, "-"),
    ],
)
def test_numbers_are_written_the_indonesian_way(function, given, expected) -> None:  # type: ignore[no-untyped-def]
    assert function(given) == expected


def test_the_summary_gives_the_headline_the_changes_the_rejected_files_and_who_to_review() -> None:
    text = markdown(metrics())
    # Kabupaten (tests/cakupan/test_metrics.py): 2 active of 9 places; 3 regency-paid members at Rp16,800.
    assert "**2** pekerja rentan aktif dari target **9** (**22,2%**)" in text
    assert "**Rp50.400** (3 peserta × Rp16.800)" in text
    assert f"Dibandingkan dengan {PREVIOUS}" in text
    assert "| aktif (active) | 2 | +1 |" in text
    assert "- Kemungkinan cocok (probable_match): **1**" in text
    assert "- Terdaftar tanpa usulan (enrolled_not_submitted): **1**" in text
    assert "Konflik identitas (identity_conflict): **" not in text  # nobody to review there
    assert "| 62.03.03.2001_daftar\\|lama.xlsx | column_missing |" in text  # a pipe in a name cannot break the table
    assert "- [Laporan cakupan (HTML report)](file:///data/reports/coverage_2026-11-27.html)" in text


def test_the_first_run_says_there_is_nothing_to_compare_with() -> None:
    text = markdown(metrics(previous=False), rejected_files=[], links={}, warnings=["attainment_above_kuota on 1 row"])
    assert "Run pertama" in text and "Dibandingkan" not in text
    assert "Tidak ada berkas ditolak" in text
    assert "## Peringatan (warnings)\n\n- attainment_above_kuota on 1 row" in text


def test_table_artifacts_have_one_row_per_kecamatan_and_per_desa_of_a_kecamatan() -> None:
    frame = metrics()
    rows = kecamatan_rows(frame)
    assert [r["kode"] for r in rows] == ["62.03.01", "62.03.02"]
    assert rows[0] | {"capaian_persen": None} == {
        "kode": "62.03.01",
        "nama": "Selat",
        "kuota": 6,
        "aktif": 1,
        "capaian_persen": None,
        "aktif_perubahan": 1,
        "masa_tenggang": 1,
        "tidak_aktif": 1,
        "belum_terdaftar": 0,
        "perlu_ditinjau": 0,
        "baris_ditolak": 1,
        "premi_bulanan_rp": 33_600,
    }
    assert rows[0]["capaian_persen"] == pytest.approx(16.7)
    assert [r["kode"] for r in desa_rows(frame, "62.03.01")] == ["62.03.01.2001", "62.03.01.2002"]
    assert json.dumps(rows)  # Prefect stores the table as JSON


def test_villages_furthest_below_kuota_come_first() -> None:
    below = villages_below_kuota(metrics())
    # Sei Asam: 4 places, 1 active; Mambulau: 3 places, 1 active; Sei Tatas: 2 places, 0 active.
    assert below.select("kode", "kurang", "nama_kecamatan").rows() == [
        ("62.03.01.2001", 3, "Selat"),
        ("62.03.01.2002", 2, "Selat"),
        ("62.03.02.2001", 2, "Kapuas Hilir"),
    ]
    assert villages_below_kuota(metrics(), limit=1).height == 1


def report(frame: pl.DataFrame | None = None, history: pl.DataFrame = HISTORY) -> str:
    return coverage_report_html(
        metrics() if frame is None else frame,
        history,
        premium_period="default",
        premium_rates_version="2026.11-1",
        links={"Data Docs (Great Expectations)": "data_docs/index.html"},
    )


def test_the_report_is_one_file_that_needs_nothing_from_the_network() -> None:
    html = report()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html), "no remote script, style or image"
    assert "<link" not in html and "@import" not in html and "url(" not in html
    assert html.count("<figure class='chart'") == len(CHARTS)
    assert '<span class="l-id">Cakupan per kecamatan</span><span class="l-en" lang="en">Coverage by kecamatan' in html
    assert "Rp50.400" in html and "IDR 50,400" in html
    assert "data_docs/index.html" in html


def test_the_report_of_a_kapuas_sized_run_takes_well_under_the_budget() -> None:
    # 231 villages in 17 kecamatan, a year of weekly runs: the nightly run may spend ~1-2 s on the report.
    villages = pl.DataFrame(
        {
            "kode_desa": [f"62.03.{k:02d}.{2000 + v}" for k in range(1, 18) for v in range(1, 15)][:231],
        }
    ).with_columns(
        pl.col("kode_desa").alias("nama_desa"),
        pl.col("kode_desa").str.slice(0, 8).alias("kode_kecamatan"),
        pl.col("kode_desa").str.slice(0, 8).alias("nama_kecamatan"),
        pl.lit(43, pl.Int64).alias("kuota"),
    )
    persons = pl.DataFrame({"kode_desa": villages["kode_desa"]}).with_columns(
        pl.col("kode_desa").str.slice(0, 8).alias("kode_kecamatan"),
        pl.lit("active").alias("status"),
        pl.lit("nik_exact").alias("match_method"),
        pl.col("kode_desa").alias("member_nik"),
        pl.lit("covered").alias("state"),
        pl.lit(True).alias("paid_by_regency"),
    )
    frame = coverage_metrics(
        run_date=RUN,
        rows=pl.DataFrame({"kode_desa": villages["kode_desa"], "outcome": "accepted"}),
        persons=persons,
        villages=villages,
        members_active_total=61_203,
        workforce=None,
        region_code="62.03",
        region_name="Kabupaten Kapuas",
        target_total=10_000,
    )
    frame = with_changes(with_premium(frame, persons, rate_rp=16_800), None)
    history = pl.DataFrame(
        {"run_date": pl.date_range(date(2025, 11, 28), date(2026, 11, 20), "1w", eager=True)}
    ).with_columns(kuota=10_000, active=5_000, grace=100)
    report(frame, history)  # imports done
    started = time.perf_counter()
    report(frame, history)
    assert time.perf_counter() - started < 1.0


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's chromium, installed with apt-get (after apt-get update) on a machine that lacks it, as CI's does."""
    from tests.browser import ensure_chromium

    return ensure_chromium()


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report") / "coverage_2026-11-27.html"
    path.write_text(report(), encoding="utf-8")
    return path


CHART_STATE = """JSON.stringify([...document.querySelectorAll('figure.chart')].map(f => {
  const svg = f.querySelector('svg'); const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
  return {chart: f.dataset.chart, width: box.width, height: box.height,
          marks: svg ? svg.querySelectorAll('.series rect.rect, .series path.line, .series circle.dot').length : 0};
}))"""

VISIBLE_HEADING = "document.querySelector('#kecamatan h2').innerText"


def test_every_chart_renders_in_chromium_without_a_console_error_or_a_request(
    report_file: Path, chromium: Path
) -> None:
    from tests.browser import visit

    seen = visit(report_file, CHART_STATE)
    charts = json.loads(seen.value)
    assert [c["chart"] for c in charts] == list(CHARTS)
    for chart in charts:
        assert chart["width"] > 300 and chart["height"] > 150, chart
        assert chart["marks"] > 0, chart  # bars, lines or dots were drawn
    assert seen.console_errors == []
    assert seen.requests == [report_file.resolve().as_uri()], "the report loads nothing but itself"


def test_the_english_toggle_switches_the_language(report_file: Path, chromium: Path) -> None:
    from tests.browser import visit

    assert visit(report_file, VISIBLE_HEADING).value == "Cakupan per kecamatan"
    toggled = visit(report_file, VISIBLE_HEADING, after_load="document.getElementById('lang-toggle').click()")
    assert toggled.value == "Coverage by kecamatan"
    assert toggled.console_errors == []
