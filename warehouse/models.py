"""Warehouse tables (SQLAlchemy 2). Dashboards read these; every run replaces its own run_date.

The schema is owned by the Alembic migrations in ``warehouse/migrations/``: these classes describe the head revision
and a test checks that the migrated database and these models agree. Change a table here *and* add a revision.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, DateTime, Float, Integer, String, Text
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
    # Revision 0002: what the regency pays each month, and the change of every count since the previous run.
    premium_members: Mapped[int | None] = mapped_column(Integer)
    premium_rate_rp: Mapped[int | None] = mapped_column(Integer)
    premium_monthly_rp: Mapped[int | None] = mapped_column(BigInteger)
    previous_run_date: Mapped[date | None] = mapped_column(Date)
    submitted_rows_delta: Mapped[int | None] = mapped_column(Integer)
    accepted_delta: Mapped[int | None] = mapped_column(Integer)
    rejected_delta: Mapped[int | None] = mapped_column(Integer)
    duplicates_delta: Mapped[int | None] = mapped_column(Integer)
    superseded_delta: Mapped[int | None] = mapped_column(Integer)
    persons_delta: Mapped[int | None] = mapped_column(Integer)
    active_delta: Mapped[int | None] = mapped_column(Integer)
    grace_delta: Mapped[int | None] = mapped_column(Integer)
    lapsed_delta: Mapped[int | None] = mapped_column(Integer)
    not_enrolled_delta: Mapped[int | None] = mapped_column(Integer)
    identity_conflict_delta: Mapped[int | None] = mapped_column(Integer)
    probable_match_delta: Mapped[int | None] = mapped_column(Integer)
    enrolled_not_submitted_delta: Mapped[int | None] = mapped_column(Integer)
    premium_members_delta: Mapped[int | None] = mapped_column(Integer)
    members_active_total_delta: Mapped[int | None] = mapped_column(Integer)


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
    # Revision 0002: the version of cakupan/config/premium_rates.toml the premium was computed with.
    premium_rates_version: Mapped[str | None] = mapped_column(String(32))


class SubmissionFile(Base):
    """One row per (run_date, path): every village file a run saw and what became of it (restricted/files)."""

    __tablename__ = "submission_files"

    run_date: Mapped[date] = mapped_column(Date, primary_key=True)
    path: Mapped[str] = mapped_column(Text, primary_key=True)
    sha256: Mapped[str | None] = mapped_column(String(64))
    kode_desa: Mapped[str | None] = mapped_column(String(16))
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)
    rejected_share: Mapped[float | None] = mapped_column(Float)
