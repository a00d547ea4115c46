"""What a run tells people: the Prefect summary, the per-kecamatan tables and the offline HTML coverage report.

Pure builders over the coverage table (``cakupan.metrics``: one row per level and kode, with premium and deltas)
and the kabupaten rows of earlier runs; they return strings and rows and do no I/O.

The HTML report is one self-contained file (no CDN, no script needed to see it). Its charts are static SVG drawn by
pygal and inlined: ~100 KB a report rather than the ~4 MB of an inline plotly.js, and ~0.4 s to import and draw on the
2-core office server, where matplotlib took ~2.5 s (its import alone ~1.7 s) and plotly or Vega need a JavaScript
runtime. It opens offline on any office PC, prints, and archives well. Labels are in Bahasa Indonesia with an English
toggle (chart labels carry both languages). No interactivity is lost that matters: every chart has its table.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl

from cakupan.reconcile import STATUSES

STATUS_LABELS: dict[str, tuple[str, str]] = {
    "active": ("Aktif", "Active"),
    "grace": ("Masa tenggang", "In grace"),
    "lapsed": ("Tidak aktif", "Lapsed"),
    "not_enrolled": ("Belum terdaftar", "Not enrolled"),
    "identity_conflict": ("Konflik identitas", "Identity conflict"),
    "probable_match": ("Kemungkinan cocok", "Probable match"),
    "enrolled_not_submitted": ("Terdaftar tanpa usulan", "Enrolled, not proposed"),
}
# Statuses a person at the Dinas has to look at: the NIK belongs to someone else, is probably mistyped, or the
# regency pays for a member nobody proposed.
REVIEW_STATUSES = ("identity_conflict", "probable_match", "enrolled_not_submitted")
VILLAGES_SHOWN = 15
CHARTS = ("kecamatan", "trend", "status", "villages")


@dataclass(frozen=True)
class Headline:
    """The kabupaten row of a run, as the numbers people quote."""

    region_name: str
    run_date: date
    active: int
    kuota: int
    target_attainment: float | None
    grace: int
    persons: int
    members_active_total: int | None
    penduduk_bekerja: int | None
    workforce_coverage: float | None
    workforce_year: int | None
    workforce_source: str | None
    premium_members: int | None
    premium_rate_rp: int | None
    premium_monthly_rp: int | None
    previous_run_date: date | None
    deltas: dict[str, int | None]


def headline(metrics: pl.DataFrame) -> Headline:
    """The kabupaten row of a coverage table (with premium and delta columns)."""
    row = metrics.filter(pl.col("level") == "kabupaten").row(0, named=True)
    return Headline(
        region_name=row["nama"],
        run_date=row["run_date"],
        active=row["active"],
        kuota=row["kuota"],
        target_attainment=row["target_attainment"],
        grace=row["grace"],
        persons=row["persons"],
        members_active_total=row["members_active_total"],
        penduduk_bekerja=row["penduduk_bekerja"],
        workforce_coverage=row["workforce_coverage"],
        workforce_year=row["workforce_year"],
        workforce_source=row["workforce_source"],
        premium_members=row.get("premium_members"),
        premium_rate_rp=row.get("premium_rate_rp"),
        premium_monthly_rp=row.get("premium_monthly_rp"),
        previous_run_date=row.get("previous_run_date"),
        deltas={k[: -len("_delta")]: v for k, v in row.items() if k.endswith("_delta")},
    )


# --- numbers in both languages ------------------------------------------------------------------------------------


def int_id(n: int | None) -> str:
    """10000 -> '10.000' (Indonesian thousands separator)."""
    return "-" if n is None else f"{n:,}".replace(",", ".")


def pct_id(x: float | None) -> str:
    """0.4732 -> '47,3%'."""
    return "-" if x is None else f"{x * 100:.1f}%".replace(".", ",")


def signed_id(n: int | None) -> str:
    """The change since the previous run: '+12', '-3', '0', or '-' when unknown."""
    if n is None:
        return "-"
    return f"+{int_id(n)}" if n > 0 else int_id(n)


def _int_en(n: int | None) -> str:
    return "-" if n is None else f"{n:,}"


def _pct_en(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:.1f}%"


def _signed_en(n: int | None) -> str:
    if n is None:
        return "-"
    return f"+{n:,}" if n > 0 else f"{n:,}"


# --- Prefect artifacts ----------------------------------------------------------------------------------------------


def summary_markdown(
    metrics: pl.DataFrame,
    *,
    rows_read: int,
    outcomes: Mapping[str, int],
    file_statuses: Mapping[str, int],
    rejected_files: Sequence[tuple[str, str]],
    export_file: str,
    links: Mapping[str, str],
    warnings: Sequence[str] = (),
) -> str:
    """The markdown a person reads in the Prefect UI after a run: headline, changes, rejected files, review, links.

    links: label -> URL (the HTML report, Data Docs, each output folder), in the order shown.
    """
    h = headline(metrics)
    workforce = (
        f"cakupan angkatan kerja **{pct_id(h.workforce_coverage)}** ({int_id(h.members_active_total)} peserta aktif "
        f"dari {int_id(h.penduduk_bekerja)} penduduk bekerja, {h.workforce_source}, {h.workforce_year})"
        if h.workforce_coverage is not None
        else f"{int_id(h.members_active_total)} peserta aktif BPJS (angkatan kerja tidak diketahui)"
    )
    lines = [
        f"# cakupan {h.region_name} {h.run_date}",
        "",
        f"**{int_id(h.active)}** pekerja rentan aktif dari target **{int_id(h.kuota)}** "
        f"(**{pct_id(h.target_attainment)}**); {workforce}.",
        "",
        f"Masa tenggang (grace): **{int_id(h.grace)}** orang. Premi bulanan yang dibayar Pemkab: "
        f"**Rp{int_id(h.premium_monthly_rp)}** ({int_id(h.premium_members)} peserta × Rp{int_id(h.premium_rate_rp)}).",
        "",
        "## Perubahan sejak run sebelumnya (changes since the previous run)",
        "",
    ]
    if h.previous_run_date is None:
        lines.append("Run pertama: belum ada run sebelumnya di warehouse (first run: nothing to compare with).")
    else:
        lines += [
            f"Dibandingkan dengan {h.previous_run_date}:",
            "",
            "| | sekarang (now) | perubahan (change) |",
            "|---|---:|---:|",
            *(
                f"| {label} | {int_id(value)} | {signed_id(h.deltas.get(key))} |"
                for key, label, value in _change_rows(metrics)
            ),
        ]
    lines += [
        "",
        "## Status orang (persons by status)",
        "",
        "| status | orang (persons) | perubahan (change) |",
        "|---|---:|---:|",
        *(
            f"| {STATUS_LABELS[s][0]} ({s}) | {int_id(_kab(metrics, s))} | {signed_id(h.deltas.get(s))} |"
            for s in STATUSES
        ),
        "",
        "## Perlu ditinjau (people to review)",
        "",
        *(
            f"- {STATUS_LABELS[s][0]} ({s}): **{int_id(_kab(metrics, s))}**"
            for s in REVIEW_STATUSES
            if _kab(metrics, s)
        ),
    ]
    if not any(_kab(metrics, s) for s in REVIEW_STATUSES):
        lines.append("Tidak ada (none).")
    lines += [
        "",
        "## Berkas desa (village files)",
        "",
        f"Baris dibaca (rows read): {int_id(rows_read)} — "
        + ", ".join(f"{k} {int_id(v)}" for k, v in sorted(outcomes.items())),
        "",
        "Berkas (files): " + ", ".join(f"{k} {v}" for k, v in sorted(file_statuses.items())),
        "",
    ]
    if rejected_files:
        lines += [
            f"Berkas ditolak (files rejected): {len(rejected_files)}",
            "",
            "| berkas (file) | alasan (reason) |",
            "|---|---|",
            *(f"| {_md_cell(name)} | {_md_cell(reason)} |" for name, reason in rejected_files),
        ]
    else:
        lines.append("Tidak ada berkas ditolak (no file rejected).")
    lines += ["", f"Ekspor BPJS (BPJS export): {_md_cell(export_file)}"]
    if warnings:
        lines += ["", "## Peringatan (warnings)", "", *(f"- {w}" for w in warnings)]
    if links:
        lines += ["", "## Tautan (links)", "", *(f"- [{label}]({url})" for label, url in links.items())]
    return "\n".join(lines) + "\n"


def _change_rows(metrics: pl.DataFrame) -> list[tuple[str, str, int | None]]:
    labels = [
        ("active", "aktif (active)"),
        ("grace", "masa tenggang (grace)"),
        ("persons", "orang (persons)"),
        ("premium_members", "peserta dibayar Pemkab (paid by the regency)"),
        ("members_active_total", "peserta aktif BPJS (all active members)"),
        ("submitted_rows", "baris diusulkan (rows submitted)"),
        ("rejected", "baris ditolak (rows rejected)"),
    ]
    return [(key, label, _kab(metrics, key)) for key, label in labels]


def _kab(metrics: pl.DataFrame, column: str) -> Any:
    return metrics.filter(pl.col("level") == "kabupaten")[column][0] if column in metrics.columns else None


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def kecamatan_rows(metrics: pl.DataFrame) -> list[dict[str, Any]]:
    """One row per kecamatan for the Prefect table artifact: places, active, attainment, who to review, premium."""
    return _table_rows(metrics.filter(pl.col("level") == "kecamatan"))


def desa_rows(metrics: pl.DataFrame, kode_kecamatan: str) -> list[dict[str, Any]]:
    """One row per desa of one kecamatan, in the same shape as ``kecamatan_rows``."""
    return _table_rows(
        metrics.filter((pl.col("level") == "desa") & pl.col("kode").str.starts_with(kode_kecamatan + "."))
    )


def _table_rows(frame: pl.DataFrame) -> list[dict[str, Any]]:
    return (
        frame.sort("kode")
        .select(
            "kode",
            "nama",
            "kuota",
            pl.col("active").alias("aktif"),
            (pl.col("target_attainment") * 100).round(1).alias("capaian_persen"),
            pl.col("active_delta").alias("aktif_perubahan"),
            pl.col("grace").alias("masa_tenggang"),
            pl.col("lapsed").alias("tidak_aktif"),
            pl.col("not_enrolled").alias("belum_terdaftar"),
            pl.sum_horizontal("identity_conflict", "probable_match").alias("perlu_ditinjau"),
            pl.col("rejected").alias("baris_ditolak"),
            pl.col("premium_monthly_rp").alias("premi_bulanan_rp"),
        )
        .to_dicts()
    )


# --- the HTML report ----------------------------------------------------------------------------------------------


def villages_below_kuota(metrics: pl.DataFrame, limit: int = VILLAGES_SHOWN) -> pl.DataFrame:
    """The desa furthest below their kuota (kuota - active, largest first; ties by kode): where to register next."""
    kecamatan = metrics.filter(pl.col("level") == "kecamatan").select(
        pl.col("kode").alias("kode_kecamatan"), pl.col("nama").alias("nama_kecamatan")
    )
    return (
        metrics.filter((pl.col("level") == "desa") & (pl.col("kuota") > pl.col("active")))
        .with_columns(
            (pl.col("kuota") - pl.col("active")).alias("kurang"), pl.col("kode").str.slice(0, 8).alias("kode_kecamatan")
        )
        .join(kecamatan, on="kode_kecamatan", how="left")
        .sort(["kurang", "kode"], descending=[True, False])
        .head(limit)
        .select("kode", "nama", "nama_kecamatan", "kuota", "active", "grace", "not_enrolled", "kurang")
    )


def trend(metrics: pl.DataFrame, history: pl.DataFrame) -> pl.DataFrame:
    """Kabupaten figures per run_date, earlier runs then this one: run_date, kuota, active, grace."""
    now = metrics.filter(pl.col("level") == "kabupaten").select("run_date", "kuota", "active", "grace")
    earlier = history.select("run_date", "kuota", "active", "grace").filter(pl.col("run_date") < now["run_date"][0])
    return pl.concat([earlier, now], how="vertical_relaxed").sort("run_date")


def coverage_report_html(
    metrics: pl.DataFrame,
    history: pl.DataFrame,
    *,
    premium_period: str,
    premium_rates_version: str,
    links: Mapping[str, str] | None = None,
) -> str:
    """The coverage report of one run as one HTML file that opens offline.

    metrics: this run's coverage table; history: kabupaten rows of earlier runs (run_date, kuota, active, grace).
    premium_period: the rate period used ("default" or a period name of premium_rates.toml).
    """
    h = headline(metrics)
    kecamatan = metrics.filter(pl.col("level") == "kecamatan").sort("kode")
    below = villages_below_kuota(metrics)
    runs = trend(metrics, history)
    charts = render_charts(metrics, kecamatan, runs, below)
    title_id = f"Cakupan Perlindungan Pekerja Rentan — {h.region_name} — {h.run_date.isoformat()}"
    title_en = f"Coverage of vulnerable workers — {h.region_name} — {h.run_date.isoformat()}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="id">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title_id)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        '<body data-lang="id">',
        '<header><button id="lang-toggle" type="button" aria-label="Ganti bahasa / switch language">English</button>',
        f"<h1>{_both(title_id, title_en)}</h1>",
        _compared_with(h),
        "</header>",
        "<main>",
        _cards(h, premium_period),
        _section(
            "kecamatan",
            ("Cakupan per kecamatan", "Coverage by kecamatan"),
            charts["kecamatan"],
            ("Aktif dibanding kuota per kecamatan.", "Active workers against the places (kuota) of each kecamatan."),
            _kecamatan_table(kecamatan),
        ),
        _section(
            "trend",
            ("Tren antar run", "Trend over runs"),
            charts["trend"],
            ("Pekerja aktif dan dalam masa tenggang pada setiap tanggal run.", "Active and in-grace workers per run."),
            _trend_table(runs),
        ),
        _section(
            "status",
            ("Status orang", "Persons by status"),
            charts["status"],
            (
                "Setiap orang yang diusulkan mendapat satu status; ditambah peserta yang dibayar Pemkab tanpa usulan.",
                "Every proposed person has one status; plus regency-paid members nobody proposed.",
            ),
            _status_table(metrics),
        ),
        _section(
            "villages",
            ("Desa paling jauh di bawah kuota", "Villages furthest below kuota"),
            charts["villages"],
            (
                f"{len(below)} desa dengan kekurangan terbesar (kuota − aktif).",
                f"The {len(below)} villages with the largest gap (kuota − active).",
            ),
            _villages_table(below),
        ),
        _notes(h, premium_period, premium_rates_version, links or {}),
        "</main>",
        f"<script>{_SCRIPT}</script>",
        "</body>",
        "</html>",
    ]
    return "\n".join(parts) + "\n"


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _both(id_text: str, en_text: str) -> str:
    """Text in both languages; CSS shows the one the reader chose."""
    return f'<span class="l-id">{_e(id_text)}</span><span class="l-en" lang="en">{_e(en_text)}</span>'


def _int(n: int | None) -> str:
    return _both(int_id(n), _int_en(n))


def _pct(x: float | None) -> str:
    return _both(pct_id(x), _pct_en(x))


def _signed(n: int | None) -> str:
    return _both(signed_id(n), _signed_en(n))


def _rp(n: int | None) -> str:
    return _both(f"Rp{int_id(n)}", f"IDR {_int_en(n)}")


def _compared_with(h: Headline) -> str:
    if h.previous_run_date is None:
        return (
            f"<p class='sub'>{_both('Run pertama: belum ada pembanding.', 'First run: nothing to compare with.')}</p>"
        )
    d = h.previous_run_date.isoformat()
    return f"<p class='sub'>{_both(f'Perubahan dibandingkan run {d}.', f'Changes compared with the run of {d}.')}</p>"


def _card(label: tuple[str, str], value: str, detail: str, change: str = "") -> str:
    change_html = f"<div class='change'>{change}</div>" if change else ""
    return (
        f"<div class='card'><div class='label'>{_both(*label)}</div><div class='value'>{value}</div>"
        f"<div class='detail'>{detail}</div>{change_html}</div>"
    )


def _cards(h: Headline, premium_period: str) -> str:
    delta = h.deltas
    workforce_detail = (
        _both(
            f"{int_id(h.members_active_total)} peserta aktif BPJS / {int_id(h.penduduk_bekerja)} penduduk bekerja "
            f"({h.workforce_source}, {h.workforce_year})",
            f"{_int_en(h.members_active_total)} active BPJS members / {_int_en(h.penduduk_bekerja)} working "
            f"population ({h.workforce_source}, {h.workforce_year})",
        )
        if h.penduduk_bekerja
        else _both(
            f"{int_id(h.members_active_total)} peserta aktif BPJS; angkatan kerja tidak diketahui",
            f"{_int_en(h.members_active_total)} active BPJS members; working population unknown",
        )
    )
    period = (
        _both("tarif dasar", "default rate")
        if premium_period == "default"
        else _both(f"tarif periode {premium_period}", f"rate of period {premium_period}")
    )
    cards = [
        _card(
            ("Aktif dibanding target", "Active against the target"),
            f"{_int(h.active)} / {_int(h.kuota)}",
            _both(f"capaian {pct_id(h.target_attainment)}", f"attainment {_pct_en(h.target_attainment)}"),
            _change_line(delta.get("active")),
        ),
        _card(
            ("Cakupan angkatan kerja", "Workforce coverage"),
            _pct(h.workforce_coverage),
            workforce_detail,
            _change_line(delta.get("members_active_total")),
        ),
        _card(
            ("Daftar masa tenggang", "Grace list"),
            _int(h.grace),
            _both(
                "perlindungan berakhir, iuran masih bisa dibayar (maks. 3 bulan)",
                "protection ended, arrears can still be paid (up to 3 months)",
            ),
            _change_line(delta.get("grace")),
        ),
        _card(
            ("Premi bulanan Pemkab", "Monthly premium (regency)"),
            _rp(h.premium_monthly_rp),
            f"{_int(h.premium_members)} × {_rp(h.premium_rate_rp)} ({period})",
            _change_line(delta.get("premium_members")),
        ),
    ]
    return "<section class='cards'>" + "".join(cards) + "</section>"


def _change_line(n: int | None) -> str:
    if n is None:
        return ""
    return _both(f"{signed_id(n)} sejak run sebelumnya", f"{_signed_en(n)} since the previous run")


def _section(key: str, title: tuple[str, str], chart_svg: str, caption: tuple[str, str], table: str) -> str:
    return (
        f"<section id='{key}'><h2>{_both(*title)}</h2>"
        f"<figure class='chart' data-chart='{key}'>{chart_svg}<figcaption>{_both(*caption)}</figcaption></figure>"
        f"{table}</section>"
    )


def _table(headers: Sequence[tuple[str, str]], rows: Sequence[Sequence[str]], numeric_from: int = 1) -> str:
    head = "".join(f"<th{' class=num' if i >= numeric_from else ''}>{_both(*h)}</th>" for i, h in enumerate(headers))
    body = "".join(
        "<tr>" + "".join(f"<td{' class=num' if i >= numeric_from else ''}>{c}</td>" for i, c in enumerate(r)) + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _kecamatan_table(kecamatan: pl.DataFrame) -> str:
    rows = [
        [
            _e(r["nama"]),
            _int(r["kuota"]),
            _int(r["active"]),
            _pct(r["target_attainment"]),
            _signed(r.get("active_delta")),
            _int(r["grace"]),
            _int(r["identity_conflict"] + r["probable_match"]),
            _rp(r.get("premium_monthly_rp")),
        ]
        for r in kecamatan.iter_rows(named=True)
    ]
    headers = [
        ("Kecamatan", "Kecamatan"),
        ("Kuota", "Places"),
        ("Aktif", "Active"),
        ("Capaian", "Attainment"),
        ("Perubahan aktif", "Change in active"),
        ("Masa tenggang", "In grace"),
        ("Perlu ditinjau", "To review"),
        ("Premi bulanan", "Monthly premium"),
    ]
    return _table(headers, rows)


def _trend_table(runs: pl.DataFrame) -> str:
    rows = [
        [_e(r["run_date"].isoformat()), _int(r["kuota"]), _int(r["active"]), _int(r["grace"])]
        for r in runs.sort("run_date", descending=True).head(12).iter_rows(named=True)
    ]
    return _table([("Tanggal run", "Run date"), ("Target", "Target"), ("Aktif", "Active"), ("Tenggang", "Grace")], rows)


def _status_table(metrics: pl.DataFrame) -> str:
    h = headline(metrics)
    rows = [[_both(*STATUS_LABELS[s]), _int(_kab(metrics, s)), _signed(h.deltas.get(s))] for s in STATUSES] + [
        [_both("Jumlah orang", "Persons"), _int(h.persons), _signed(h.deltas.get("persons"))]
    ]
    return _table([("Status", "Status"), ("Orang", "Persons"), ("Perubahan", "Change")], rows)


def _villages_table(below: pl.DataFrame) -> str:
    rows = [
        [
            _e(r["nama"]),
            _e(r["nama_kecamatan"]),
            _int(r["kuota"]),
            _int(r["active"]),
            _int(r["kurang"]),
            _int(r["grace"]),
            _int(r["not_enrolled"]),
        ]
        for r in below.iter_rows(named=True)
    ]
    headers = [
        ("Desa", "Village"),
        ("Kecamatan", "Kecamatan"),
        ("Kuota", "Places"),
        ("Aktif", "Active"),
        ("Kurang", "Gap"),
        ("Tenggang", "Grace"),
        ("Belum terdaftar", "Not enrolled"),
    ]
    return _table(headers, rows, numeric_from=2)


def _notes(h: Headline, premium_period: str, version: str, links: Mapping[str, str]) -> str:
    link_items = "".join(f"<li><a href='{_e(url)}'>{_e(label)}</a></li>" for label, url in links.items())
    return (
        "<section id='notes'><h2>" + _both("Catatan", "Notes") + "</h2><ul>"
        "<li>"
        + _both(
            "Aktif: tgl_kepesertaan ≤ tanggal run ≤ tgl_berakhir. Masa tenggang: setelah tgl_berakhir sampai "
            "masa_grace (Perdir BPJS Ketenagakerjaan 22/PERDIR.02/072022). Capaian = aktif / kuota (tidak dipotong "
            "pada 100%).",
            "Active: tgl_kepesertaan ≤ run date ≤ tgl_berakhir. In grace: after tgl_berakhir until masa_grace "
            "(BPJS Ketenagakerjaan Perdir 22/PERDIR.02/072022). Attainment = active / kuota (not clipped at 100%).",
        )
        + "</li><li>"
        + _both(
            f"Premi: peserta yang dibayar Pemkab, aktif atau dalam masa tenggang, × tarif bulanan "
            f"(tabel tarif versi {version}, periode: {premium_period}). Tarif dasar Rp16.800 = JKK Rp10.000 + "
            "JKM Rp6.800. Diskon 50% PP 50/2025 (Apr–Des 2026) untuk pekerja rentan APBD belum dikonfirmasi.",
            f"Premium: regency-paid members, active or in grace, × the monthly rate (rate table version {version}, "
            f"period: {premium_period}). Default rate IDR 16,800 = JKK 10,000 + JKM 6,800. Whether the PP 50/2025 "
            "50% discount (Apr–Dec 2026) applies to APBD-funded workers is unconfirmed.",
        )
        + "</li><li>"
        + _both(
            "Santunan JKM Rp42 juta dibayar bila peserta meninggal (bukan kecelakaan kerja) saat kepesertaan aktif "
            "(PP 82/2019).",
            "The JKM benefit of IDR 42 million is paid when a member dies (not from a work accident) while covered "
            "(PP 82/2019).",
        )
        + "</li></ul>"
        + (f"<ul class='links'>{link_items}</ul>" if link_items else "")
        + "</section>"
    )


_CSS = """
:root{--ink:#1d2733;--muted:#5b6775;--accent:#0b6e4f;--light:#cfe3da;--warn:#b5462b;--line:#d9dee4}
*{box-sizing:border-box}
body{margin:0;font-family:"DejaVu Sans",Verdana,Arial,sans-serif;color:var(--ink);background:#f6f7f9;line-height:1.4}
header{background:var(--accent);color:#fff;padding:16px 24px}
header h1{margin:0;font-size:1.35rem}
header .sub{margin:4px 0 0;opacity:.9}
#lang-toggle{float:right;background:#fff;color:var(--accent);border:0;border-radius:4px;padding:6px 12px;
  font:inherit;cursor:pointer}
main{max-width:1100px;margin:0 auto;padding:16px 24px 40px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(230px,1fr));gap:12px;margin:8px 0 16px}
.card{background:#fff;border:1px solid var(--line);border-radius:6px;padding:12px 14px}
.card .label{color:var(--muted);font-size:.85rem}
.card .value{font-size:1.5rem;font-weight:bold;margin:4px 0}
.card .detail,.card .change{color:var(--muted);font-size:.8rem}
section{background:#fff;border:1px solid var(--line);border-radius:6px;padding:12px 16px;margin:0 0 16px}
section.cards{background:none;border:0;padding:0}
h2{font-size:1.1rem;margin:4px 0 8px}
figure.chart{margin:0 0 8px}
figure.chart svg{max-width:100%;height:auto;display:block}
figure.chart svg text{font-family:"DejaVu Sans",Verdana,Arial,sans-serif}
figcaption{color:var(--muted);font-size:.85rem}
table{border-collapse:collapse;width:100%;font-size:.85rem}
th,td{border-bottom:1px solid var(--line);padding:4px 6px;text-align:left}
th.num,td.num{text-align:right;font-variant-numeric:tabular-nums}
body[data-lang=id] .l-en,body[data-lang=en] .l-id{display:none}
@media print{#lang-toggle{display:none}body{background:#fff}}
"""

# The only script: the language toggle (also `#en` in the address). The report reads fully without it.
_SCRIPT = """
(function () {
  var body = document.body, button = document.getElementById("lang-toggle");
  function show(lang) {
    body.setAttribute("data-lang", lang);
    document.documentElement.lang = lang;
    button.textContent = lang === "id" ? "English" : "Bahasa Indonesia";
  }
  button.addEventListener("click", function () { show(body.getAttribute("data-lang") === "id" ? "en" : "id"); });
  if (window.location.hash === "#en") { show("en"); }
})();
"""


# --- charts -------------------------------------------------------------------------------------------------------

_GREEN, _LIGHT, _GREY, _ORANGE, _RED, _PURPLE = "#0b6e4f", "#9fcbb8", "#9aa5b1", "#d08c2f", "#b5462b", "#6a4c93"
_STATUS_COLOURS = dict(zip(STATUSES, (_GREEN, _ORANGE, _GREY, "#c3c9d0", _RED, _RED, _PURPLE), strict=True))
_FONT = '"DejaVu Sans", Verdana, Arial, sans-serif'


def render_charts(
    metrics: pl.DataFrame, kecamatan: pl.DataFrame, runs: pl.DataFrame, below: pl.DataFrame
) -> dict[str, str]:
    """Every chart of the report as inline SVG markup, keyed by CHARTS (pygal, static: no script needed)."""
    return {
        "kecamatan": _svg("kecamatan", _kecamatan_chart(kecamatan)),
        "trend": _svg("trend", _trend_chart(runs)),
        "status": _svg("status", _status_chart(metrics)),
        "villages": _svg("villages", _villages_chart(below)),
    }


def _svg(name: str, chart: Any) -> str:
    # A fixed id instead of pygal's random one keeps element ids unique in the page and the file the same from run to
    # run; pygal's comments (with today's date) and its tooltip config script serve nothing offline.
    chart.uuid = f"cakupan-{name}"
    markup: str = chart.render(is_unicode=True)
    markup = re.sub(r"<!--.*?-->", "", markup, flags=re.DOTALL)
    return re.sub(r"<script\b.*?</script>", "", markup, flags=re.DOTALL)


def _config(height: int, **options: Any) -> dict[str, Any]:
    from pygal.style import Style

    style = Style(
        background="#ffffff",
        plot_background="#ffffff",
        foreground="#1d2733",
        foreground_strong="#1d2733",
        foreground_subtle="#d9dee4",
        font_family=_FONT,
        label_font_family=_FONT,
        major_label_font_family=_FONT,
        value_font_family=_FONT,
        title_font_family=_FONT,
        legend_font_family=_FONT,
        tooltip_font_family=_FONT,
        title_font_size=15,
        label_font_size=12,
        major_label_font_size=12,
        legend_font_size=12,
        value_font_size=11,
        guide_stroke_color="#d9dee4",
        major_guide_stroke_color="#d9dee4",
        guide_stroke_dasharray="2,3",
        major_guide_stroke_dasharray="2,3",
        opacity="1",
        opacity_hover="1",
        stroke_width="2.5",
        colors=options.pop("colors", (_LIGHT, _GREEN, _ORANGE)),
    )
    return {
        "style": style,
        "js": [],
        "disable_xml_declaration": True,
        "width": 900,
        "height": height,
        "truncate_label": -1,
        "truncate_legend": -1,
        "legend_at_bottom": True,
        "print_values": True,
        "value_formatter": _count_label,
        "margin": 12,
        "margin_right": 40,
        "legend_at_bottom_columns": 3,
        **options,
    }


def _count_label(x: float | None) -> str:
    return "" if x is None else int_id(round(x))


def _bars_height(n: int) -> int:
    return 130 + 30 * max(n, 1)


def _kecamatan_chart(kecamatan: pl.DataFrame) -> Any:
    import pygal

    rows = kecamatan.sort("target_attainment", "nama", descending=[True, False], nulls_last=True)
    chart = pygal.HorizontalBar(
        **_config(_bars_height(rows.height) + 15 * rows.height),
        title="Aktif dibanding kuota / Active against places",
        x_title="Pekerja / Workers",
    )
    chart.x_labels = [
        f"{name} ({pct_id(rate)})" for name, rate in zip(rows["nama"], rows["target_attainment"], strict=True)
    ]
    chart.add("Kuota / Places", rows["kuota"].to_list())
    chart.add("Aktif / Active", rows["active"].to_list())
    return chart


def _trend_chart(runs: pl.DataFrame) -> Any:
    import pygal

    chart = pygal.Line(
        **_config(380, colors=(_GREY, _GREEN, _ORANGE), print_values=runs.height == 1, dots_size=4),
        title="Tren / Trend",
        y_title="Pekerja / Workers",
        include_x_axis=True,
        range=(0, _peak(runs) * 1.1 or 1),
        x_label_rotation=20 if runs.height > 8 else 0,
    )
    chart.x_labels = [d.isoformat() for d in runs["run_date"]]
    chart.add("Target", runs["kuota"].to_list(), stroke_style={"dasharray": "8, 5", "width": 2}, show_dots=False)
    chart.add("Aktif / Active", runs["active"].to_list())
    chart.add("Masa tenggang / Grace", runs["grace"].to_list())
    return chart


def _peak(runs: pl.DataFrame) -> int:
    peak = runs.select(pl.max_horizontal(pl.col("kuota").max(), pl.col("active").max())).item()
    return int(peak or 0)


def _status_chart(metrics: pl.DataFrame) -> Any:
    import pygal

    statuses = list(reversed(STATUSES))  # pygal draws the first label at the bottom
    chart = pygal.HorizontalBar(
        **_config(_bars_height(len(statuses)), show_legend=False),
        title="Status orang / Persons by status",
        x_title="Orang / Persons",
    )
    chart.x_labels = [f"{STATUS_LABELS[s][0]} / {STATUS_LABELS[s][1]}" for s in statuses]
    chart.add("Orang / Persons", [{"value": int(_kab(metrics, s)), "color": _STATUS_COLOURS[s]} for s in statuses])
    return chart


def _villages_chart(below: pl.DataFrame) -> Any:
    import pygal

    rows = below.reverse()  # the largest gap on top
    chart = pygal.HorizontalBar(
        **_config(_bars_height(rows.height), colors=(_ORANGE,), show_legend=False),
        title="Desa paling jauh di bawah kuota / Villages furthest below kuota",
        x_title="Kekurangan (kuota − aktif) / Gap (places − active)",
        no_data_text="Semua desa memenuhi kuota / every village meets its kuota",
    )
    chart.x_labels = [f"{n} ({k})" for n, k in zip(rows["nama"], rows["nama_kecamatan"], strict=True)]
    chart.add("Kekurangan / Gap", rows["kurang"].to_list())
    return chart
