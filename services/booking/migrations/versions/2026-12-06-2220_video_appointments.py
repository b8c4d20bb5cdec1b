"""video appointments: how an office serves each offered service, and each booking's mode

Revision ID: 9a4f6c2d8e17
Revises: 6a0397fee485
Create Date: 2026-12-06 22:20:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9a4f6c2d8e17"
down_revision: str | None = "6a0397fee485"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("office_services", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("mode", sa.String(length=16), server_default="in_person", nullable=False)
        )
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("mode", sa.String(length=16), server_default="in_person", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.drop_column("mode")
    with op.batch_alter_table("office_services", schema=None) as batch_op:
        batch_op.drop_column("mode")
