"""botcheck: the proofs of work accepted once (self-registration)

Revision ID: 5e1f7a2c9b84
Revises: cabadf50b610
Create Date: 2026-12-06 19:40:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5e1f7a2c9b84"
down_revision: str | None = "cabadf50b610"
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


def downgrade() -> None:
    op.drop_index(
        op.f("ix_botcheck_used_challenges_expires_at"), table_name="botcheck_used_challenges"
    )
    op.drop_table("botcheck_used_challenges")
