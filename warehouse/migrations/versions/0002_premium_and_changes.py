"""Monthly premium per level, and every count's change since the previous run.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28

Nullable columns only, so rows published before this revision stay valid (their premium and changes are unknown).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Frozen here on purpose: a revision must not change when the models change later.
_DELTA_COUNTS = (
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
    "premium_members",
    "members_active_total",
)


def upgrade() -> None:
    op.add_column("coverage_metrics", sa.Column("premium_members", sa.Integer(), nullable=True))
    op.add_column("coverage_metrics", sa.Column("premium_rate_rp", sa.Integer(), nullable=True))
    op.add_column("coverage_metrics", sa.Column("premium_monthly_rp", sa.BigInteger(), nullable=True))
    op.add_column("coverage_metrics", sa.Column("previous_run_date", sa.Date(), nullable=True))
    for count in _DELTA_COUNTS:
        op.add_column("coverage_metrics", sa.Column(f"{count}_delta", sa.Integer(), nullable=True))
    op.add_column("pipeline_runs", sa.Column("premium_rates_version", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pipeline_runs") as batch:
        batch.drop_column("premium_rates_version")
    with op.batch_alter_table("coverage_metrics") as batch:
        for count in reversed(_DELTA_COUNTS):
            batch.drop_column(f"{count}_delta")
        for name in ("previous_run_date", "premium_monthly_rp", "premium_rate_rp", "premium_members"):
            batch.drop_column(name)
