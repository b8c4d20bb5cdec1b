"""offices that open on public holidays

Revision ID: 2ffda62754e8
Revises: 4c49e4205032
Create Date: 2026-12-04 22:57:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2ffda62754e8"
down_revision: str | None = "4c49e4205032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("offices", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "opens_on_public_holidays", sa.Boolean(), server_default=sa.false(), nullable=False
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("offices", schema=None) as batch_op:
        batch_op.drop_column("opens_on_public_holidays")
