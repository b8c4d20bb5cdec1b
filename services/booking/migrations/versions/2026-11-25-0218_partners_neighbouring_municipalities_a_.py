"""partners: neighbouring municipalities a tenant searches along

Revision ID: c25606beda6c
Revises: 28669f9b04f2
Create Date: 2026-11-25 02:18:42.742795+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c25606beda6c"
down_revision: str | None = "28669f9b04f2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "partners",
        sa.Column("tenant", sa.String(length=8), nullable=False),
        sa.Column("ags", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("base_url", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "ags", name=op.f("pk_partners")),
    )


def downgrade() -> None:
    op.drop_table("partners")
