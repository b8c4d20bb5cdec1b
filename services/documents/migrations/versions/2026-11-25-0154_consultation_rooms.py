"""consultation rooms: the events of each booking's room (messages, document activity)

Revision ID: 8c74be880f65
Revises: 83be5ff55bfd
Create Date: 2026-11-25 01:54:40.238764+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8c74be880f65"
down_revision: str | None = "83be5ff55bfd"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "room_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("tenant", sa.String(length=8), nullable=False),
        sa.Column("booking_id", sa.String(length=64), nullable=False),
        sa.Column("appointment_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("actor_role", sa.String(length=16), nullable=False),
        sa.Column("document_id", sa.String(length=32), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_room_events")),
    )
    with op.batch_alter_table("room_events", schema=None) as batch_op:
        batch_op.create_index("ix_room_events_booking_id_id", ["booking_id", "id"], unique=False)
        batch_op.create_index(
            "ix_room_events_tenant_appointment_at", ["tenant", "appointment_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("room_events", schema=None) as batch_op:
        batch_op.drop_index("ix_room_events_tenant_appointment_at")
        batch_op.drop_index("ix_room_events_booking_id_id")

    op.drop_table("room_events")
