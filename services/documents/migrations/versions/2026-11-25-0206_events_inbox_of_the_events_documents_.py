"""events: inbox of the events documents received

Revision ID: e67b5772fe8f
Revises: 8c74be880f65
Create Date: 2026-11-25 02:06:01.541962+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e67b5772fe8f"
down_revision: str | None = "8c74be880f65"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inbox_events",
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=200), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source", "id", name=op.f("pk_inbox_events")),
    )


def downgrade() -> None:
    op.drop_table("inbox_events")
