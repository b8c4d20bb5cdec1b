"""walk-ins: bookings registered at the desk without an appointment

Revision ID: 91aded7f425e
Revises: 538bb182962e
Create Date: 2026-11-25 00:53:51.684284+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "91aded7f425e"
down_revision: str | None = "538bb182962e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("walk_in", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.drop_column("walk_in")
