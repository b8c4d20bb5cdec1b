"""external sign-in: identities of trusted providers, the level a refresh family keeps

Revision ID: c0cf2807af88
Revises: a4798051810d
Create Date: 2026-11-25 02:27:13.781461+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c0cf2807af88"
down_revision: str | None = "a4798051810d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "external_identities",
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("tenant_ags", sa.String(length=8), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_external_identities_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint(
            "provider", "subject", "tenant_ags", name=op.f("pk_external_identities")
        ),
    )
    with op.batch_alter_table("external_identities", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_external_identities_account_id"), ["account_id"], unique=False
        )

    with op.batch_alter_table("refresh_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("acr", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("refresh_tokens", schema=None) as batch_op:
        batch_op.drop_column("acr")

    with op.batch_alter_table("external_identities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_external_identities_account_id"))

    op.drop_table("external_identities")
