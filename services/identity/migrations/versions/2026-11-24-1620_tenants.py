"""tenants

Revision ID: 4375125ecbc3
Revises:
Create Date: 2026-11-24 16:20:58.440611+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "4375125ecbc3"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "tenants",
        sa.Column("ags", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("ags", name=op.f("pk_tenants")),
    )


def downgrade() -> None:

    op.drop_table("tenants")
