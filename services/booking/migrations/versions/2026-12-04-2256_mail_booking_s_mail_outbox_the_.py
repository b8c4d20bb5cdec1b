"""mail: booking's mail outbox, the invitation's sequence and the reminder's due time

Revision ID: 4c49e4205032
Revises: c25606beda6c
Create Date: 2026-12-04 22:56:20.933589+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "4c49e4205032"
down_revision: str | None = "c25606beda6c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outbox_mails",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("subject_key", sa.String(length=200), nullable=False),
        sa.Column("template", sa.String(length=100), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("tenant", sa.String(length=8), nullable=True),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("message", sa.LargeBinary(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claim", sa.String(length=32), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_mails")),
        sa.UniqueConstraint(
            "subject_key",
            "template",
            "sequence",
            name=op.f("uq_outbox_mails_subject_key_template_sequence"),
        ),
    )
    with op.batch_alter_table("outbox_mails", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_mails_due", ["status", "next_attempt_at"], unique=False)

    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sequence", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("remind_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            "ix_bookings_remind_at",
            ["remind_at"],
            unique=False,
            postgresql_where=sa.text("remind_at IS NOT NULL"),
            sqlite_where=sa.text("remind_at IS NOT NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_bookings_remind_at",
            postgresql_where=sa.text("remind_at IS NOT NULL"),
            sqlite_where=sa.text("remind_at IS NOT NULL"),
        )
        batch_op.drop_column("remind_at")
        batch_op.drop_column("sequence")

    with op.batch_alter_table("outbox_mails", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_mails_due")

    op.drop_table("outbox_mails")
