"""kpi rollup: each closed day's KPI figures per office and service, and each tenant's
watermark per time zone

Empty at first: until ``rathaus-booking kpi-days`` has closed the past (run it once after
this migration, then nightly), the KPIs count every day from the visits, as before.

Revision ID: 3c8e51f0a7d2
Revises: 9a4f6c2d8e17
Create Date: 2026-12-07 14:40:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3c8e51f0a7d2"
down_revision: str | None = "9a4f6c2d8e17"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kpi_days",
        sa.Column("tenant", sa.String(length=8), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("office_id", sa.Uuid(), nullable=False),
        sa.Column("service_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("appointments", sa.Integer(), nullable=False),
        sa.Column("ended", sa.Integer(), nullable=False),
        sa.Column("checked_in", sa.Integer(), nullable=False),
        sa.Column("walk_ins", sa.Integer(), nullable=False),
        sa.Column("no_shows", sa.Integer(), nullable=False),
        sa.Column("completed", sa.Integer(), nullable=False),
        sa.Column("resolved", sa.Integer(), nullable=False),
        sa.Column("waiting_minutes", sa.Float(), nullable=False),
        sa.Column("processing_minutes", sa.Float(), nullable=False),
        sa.Column("rating_total", sa.Float(), nullable=False),
        sa.Column("saved_minutes", sa.Float(), nullable=False),
        sa.Column("video_appointments", sa.Integer(), nullable=False),
        sa.Column("video_completed", sa.Integer(), nullable=False),
        sa.Column("video_minutes", sa.Float(), nullable=False),
        sa.Column("waiting", sa.JSON(), nullable=False),
        sa.Column("processing", sa.JSON(), nullable=False),
        sa.Column("ratings", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant", "time_zone", "office_id", "service_id", "day", name=op.f("pk_kpi_days")
        ),
    )
    op.create_table(
        "kpi_watermarks",
        sa.Column("tenant", sa.String(length=8), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("closed_through", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("tenant", "time_zone", name=op.f("pk_kpi_watermarks")),
    )


def downgrade() -> None:
    op.drop_table("kpi_watermarks")
    op.drop_table("kpi_days")
