"""The first warehouse schema: coverage_metrics, pipeline_runs and submission_files.

Revision ID: 0001
Revises:
Create Date: 2026-11-28

Databases made before migrations existed (by ``create_all`` in the first skeleton) already hold coverage_metrics
and pipeline_runs in exactly this shape: those tables are adopted as they are, the rest is created.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "coverage_metrics" not in existing:
        op.create_table(
            "coverage_metrics",
            sa.Column("run_date", sa.Date(), nullable=False),
            sa.Column("level", sa.String(16), nullable=False),
            sa.Column("kode", sa.String(16), nullable=False),
            sa.Column("nama", sa.String(200), nullable=True),
            sa.Column("kuota", sa.Integer(), nullable=True),
            *(
                sa.Column(name, sa.Integer(), nullable=False)
                for name in (
                    "submitted_rows",
                    "accepted",
                    "rejected",
                    "duplicates",
                    "superseded",
                    "persons",
                    "active",
                    "grace",
                    "lapsed",
                    "not_enrolled",
                    "identity_conflict",
                    "probable_match",
                    "enrolled_not_submitted",
                )
            ),
            sa.Column("target_attainment", sa.Float(), nullable=True),
            sa.Column("members_active_total", sa.Integer(), nullable=True),
            sa.Column("penduduk_bekerja", sa.Integer(), nullable=True),
            sa.Column("workforce_coverage", sa.Float(), nullable=True),
            sa.Column("workforce_year", sa.Integer(), nullable=True),
            sa.Column("workforce_source", sa.Text(), nullable=True),
            sa.PrimaryKeyConstraint("run_date", "level", "kode"),
        )
    if "pipeline_runs" not in existing:
        op.create_table(
            "pipeline_runs",
            sa.Column("run_id", sa.String(36), nullable=False),
            sa.Column("run_date", sa.Date(), nullable=False),
            sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("status", sa.String(16), nullable=False),
            sa.Column("rows_read", sa.Integer(), nullable=False),
            sa.Column("persons", sa.Integer(), nullable=False),
            sa.Column("inputs_sha256", sa.Text(), nullable=False),
            sa.Column("code_version", sa.String(64), nullable=False),
            sa.Column("rules_version", sa.String(32), nullable=False),
            sa.PrimaryKeyConstraint("run_id"),
        )
        op.create_index("ix_pipeline_runs_run_date", "pipeline_runs", ["run_date"])
    op.create_table(
        "submission_files",
        sa.Column("run_date", sa.Date(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=True),
        sa.Column("kode_desa", sa.String(16), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(64), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("rejected_share", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("run_date", "path"),
    )


def downgrade() -> None:
    op.drop_table("submission_files")
    op.drop_index("ix_pipeline_runs_run_date", table_name="pipeline_runs")
    op.drop_table("pipeline_runs")
    op.drop_table("coverage_metrics")
