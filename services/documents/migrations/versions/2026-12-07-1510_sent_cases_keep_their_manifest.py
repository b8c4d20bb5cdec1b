"""sent cases keep the manifest they sent (sealed), so that a resumed hand-over sends it again

Revision ID: 9c4f2a6e8d13
Revises: 7b3e9d41c6a2
Create Date: 2026-12-07 15:10:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9c4f2a6e8d13"
down_revision: str | None = "7b3e9d41c6a2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sent_cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kek_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("manifest_sealed", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sent_cases", schema=None) as batch_op:
        batch_op.drop_column("manifest_sealed")
        batch_op.drop_column("kek_id")
