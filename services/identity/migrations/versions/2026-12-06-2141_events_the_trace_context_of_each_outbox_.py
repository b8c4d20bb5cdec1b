"""events: the trace context of each outbox event

Revision ID: 7e05be69ebf9
Revises: 5b7e0d4c9a21
Create Date: 2026-12-06 21:41:09.751546+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7e05be69ebf9"
down_revision: str | None = "5b7e0d4c9a21"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("traceparent", sa.String(length=55), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox_events", schema=None) as batch_op:
        batch_op.drop_column("traceparent")
