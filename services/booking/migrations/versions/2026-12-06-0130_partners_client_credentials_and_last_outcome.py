"""partners: the client credentials we use at each partner's identity, and how it answered last

Revision ID: 3d8e4f1a6c07
Revises: fcb33407b6cd
Create Date: 2026-12-06 01:30:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3d8e4f1a6c07"
down_revision: str | None = "fcb33407b6cd"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.add_column(sa.Column("issuer", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("client_id", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("client_secret_sealed", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("scopes", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("last_asked_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_outcome", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("partners", schema=None) as batch_op:
        batch_op.drop_column("last_outcome")
        batch_op.drop_column("last_asked_at")
        batch_op.drop_column("scopes")
        batch_op.drop_column("client_secret_sealed")
        batch_op.drop_column("client_id")
        batch_op.drop_column("issuer")
