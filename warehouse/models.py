"""Warehouse tables (SQLAlchemy 2). Dashboards read these; every run replaces its own run_date."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, Float, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class CoverageMetric(Base):
    """One row per (run_date, level, kode); level is desa, kecamatan or kabupaten. See README, data dictionary."""

    __tablename__ = "coverage_metrics"

    run_date: Mapped[date] = mapped_column(Date, primary_key=True)
    level: Mapped[str] = mapped_column(String(16), primary_key=True)
    kode: Mapped[str] = mapped_column(String(16), primary_key=True)
    nama: Mapped[str | None] = mapped_column(String(200))
    kuota: Mapped[int | None] = mapped_column(Integer)
    submitted_rows: Mapped[int] = mapped_column(Integer)
    accepted: Mapped[int] = mapped_column(Integer)
    rejected: Mapped[int] = mapped_column(Integer)
    duplicates: Mapped[int] = mapped_column(Integer)
    superseded: Mapped[int] = mapped_column(Integer)
    persons: Mapped[int] = mapped_column(Integer)
    active: Mapped[int] = mapped_column(Integer)
    grace: Mapped[int] = mapped_column(Integer)
    lapsed: Mapped[int] = mapped_column(Integer)
    not_enrolled: Mapped[int] = mapped_column(Integer)
    identity_conflict: Mapped[int] = mapped_column(Integer)
    probable_match: Mapped[int] = mapped_column(Integer)
    enrolled_not_submitted: Mapped[int] = mapped_column(Integer)
    target_attainment: Mapped[float | None] = mapped_column(Float)
    members_active_total: Mapped[int | None] = mapped_column(Integer)
    penduduk_bekerja: Mapped[int | None] = mapped_column(Integer)
    workforce_coverage: Mapped[float | None] = mapped_column(Float)
    workforce_year: Mapped[int | None] = mapped_column(Integer)
    workforce_source: Mapped[str | None] = mapped_column(Text)


class PipelineRun(Base):
    """One row per completed run: what it read and what it counted."""

    __tablename__ = "pipeline_runs"

    run_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    run_date: Mapped[date] = mapped_column(Date, index=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16))
    rows_read: Mapped[int] = mapped_column(Integer)
    persons: Mapped[int] = mapped_column(Integer)
    inputs_sha256: Mapped[str] = mapped_column(Text)
    code_version: Mapped[str] = mapped_column(String(64))
    rules_version: Mapped[str] = mapped_column(String(32))
