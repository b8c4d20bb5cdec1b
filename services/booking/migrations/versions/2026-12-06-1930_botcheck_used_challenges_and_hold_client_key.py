"""botcheck: the proofs of work accepted once; bookings: an anonymous hold's client key

Revision ID: 7b2c9e41d5a3
Revises: 3d8e4f1a6c07
Create Date: 2026-12-06 19:30:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7b2c9e41d5a3"
down_revision: str | None = "3d8e4f1a6c07"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "botcheck_used_challenges",
        sa.Column("challenge", sa.String(length=128), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("challenge", name=op.f("pk_botcheck_used_challenges")),
    )
    op.create_index(
        op.f("ix_botcheck_used_challenges_expires_at"),
        "botcheck_used_challenges",
        ["expires_at"],
        unique=False,
    )
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("client_key", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_bookings_client_key"), ["client_key"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bookings_client_key"))
        batch_op.drop_column("client_key")
    op.drop_index(
        op.f("ix_botcheck_used_challenges_expires_at"), table_name="botcheck_used_challenges"
    )
    op.drop_table("botcheck_used_challenges")
