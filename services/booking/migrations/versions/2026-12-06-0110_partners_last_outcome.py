"""partners: how each answered the last search (for the administrator)

Revision ID: 7a1c0e5d9b21
Revises: 2ffda62754e8
Create Date: 2026-12-06 01:10:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7a1c0e5d9b21"
down_revision: str | None = "2ffda62754e8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_asked_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_outcome", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.drop_column("last_outcome")
        batch_op.drop_column("last_asked_at")
