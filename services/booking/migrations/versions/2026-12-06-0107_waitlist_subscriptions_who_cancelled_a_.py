"""waitlist: subscriptions; who cancelled a booking, and why

Revision ID: fcb33407b6cd
Revises: 2ffda62754e8
Create Date: 2026-12-06 01:07:26.213383+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "fcb33407b6cd"
down_revision: str | None = "2ffda62754e8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "waitlist_subscriptions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant", sa.String(length=8), nullable=False),
        sa.Column("service_id", sa.Uuid(), nullable=False),
        sa.Column("office_id", sa.Uuid(), nullable=True),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("citizen_subject", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("offers", sa.Integer(), nullable=False),
        sa.Column("offer_booking_id", sa.Uuid(), nullable=True),
        sa.Column("offer_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["offer_booking_id"],
            ["bookings.id"],
            name=op.f("fk_waitlist_subscriptions_offer_booking_id_bookings"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["office_id"], ["offices.id"], name=op.f("fk_waitlist_subscriptions_office_id_offices")
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_waitlist_subscriptions_service_id_services"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waitlist_subscriptions")),
    )
    with op.batch_alter_table("waitlist_subscriptions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_waitlist_subscriptions_email"), ["email"], unique=False
        )
        batch_op.create_index(
            "ix_waitlist_subscriptions_offer_expires_at",
            ["status", "offer_expires_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_waitlist_subscriptions_office_id"), ["office_id"], unique=False
        )
        batch_op.create_index(
            "ix_waitlist_subscriptions_queue", ["tenant", "status", "queued_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_waitlist_subscriptions_service_id"), ["service_id"], unique=False
        )

    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cancelled_by", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("cancellation_reason", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.drop_column("cancellation_reason")
        batch_op.drop_column("cancelled_by")

    with op.batch_alter_table("waitlist_subscriptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_waitlist_subscriptions_service_id"))
        batch_op.drop_index("ix_waitlist_subscriptions_queue")
        batch_op.drop_index(batch_op.f("ix_waitlist_subscriptions_office_id"))
        batch_op.drop_index("ix_waitlist_subscriptions_offer_expires_at")
        batch_op.drop_index(batch_op.f("ix_waitlist_subscriptions_email"))

    op.drop_table("waitlist_subscriptions")
