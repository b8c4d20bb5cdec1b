"""documents to the citizen: a clerk's document in the room, and the citizen's receipt

Revision ID: 5d0c2a7e9b14
Revises: 2f321a89173b
Create Date: 2026-12-06 22:10:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5d0c2a7e9b14"
down_revision: str | None = "2f321a89173b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "direction",
                sa.String(length=16),
                server_default="to_office",
                nullable=False,
            )
        )
        batch_op.add_column(sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_column("acknowledged_at")
        batch_op.drop_column("direction")
