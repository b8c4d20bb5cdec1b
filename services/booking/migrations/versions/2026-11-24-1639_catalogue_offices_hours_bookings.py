"""catalogue, offices, opening hours, bookings with slot claims, idempotency records

Revision ID: 15f29dcd91be
Revises: ebe0af51185d
Create Date: 2026-11-24 16:39:38.104230+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "15f29dcd91be"
down_revision: str | None = "ebe0af51185d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "holidays",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant", sa.String(length=8), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_holidays")),
        sa.UniqueConstraint("tenant", "day", name=op.f("uq_holidays_tenant_day")),
    )
    op.create_table(
        "idempotency_records",
        sa.Column("caller", sa.String(length=250), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("response", sa.JSON(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("caller", "key", name=op.f("pk_idempotency_records")),
    )
    with op.batch_alter_table("idempotency_records", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_idempotency_records_finished_at"), ["finished_at"], unique=False
        )

    op.create_table(
        "offices",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("street", sa.String(length=200), nullable=False),
        sa.Column("postal_code", sa.String(length=5), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("counters", sa.Integer(), nullable=False),
        sa.Column("slot_minutes", sa.Integer(), nullable=False),
        sa.Column("bookable_from_days", sa.Integer(), nullable=False),
        sa.Column("bookable_until_days", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offices")),
    )
    with op.batch_alter_table("offices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_offices_tenant"), ["tenant"], unique=False)

    op.create_table(
        "services",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant", sa.String(length=8), nullable=False),
        sa.Column("leika", sa.String(length=14), nullable=False),
        sa.Column("name_de", sa.String(length=200), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.Column("description_de", sa.Text(), nullable=False),
        sa.Column("description_en", sa.Text(), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("fee_cents", sa.Integer(), nullable=True),
        sa.Column("online_hint_de", sa.Text(), nullable=True),
        sa.Column("online_hint_en", sa.Text(), nullable=True),
        sa.Column("online_url", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_services")),
        sa.UniqueConstraint("tenant", "leika", name=op.f("uq_services_tenant_leika")),
    )
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_services_tenant"), ["tenant"], unique=False)

    op.create_table(
        "bookings",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant", sa.String(length=8), nullable=False),
        sa.Column("office_id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=9), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("hold_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("citizen_subject", sa.String(length=200), nullable=True),
        sa.Column("manage_token_hash", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["office_id"], ["offices.id"], name=op.f("fk_bookings_office_id_offices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bookings")),
        sa.UniqueConstraint("tenant", "code", name=op.f("uq_bookings_tenant_code")),
    )
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bookings_citizen_subject"), ["citizen_subject"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_bookings_email"), ["email"], unique=False)
        batch_op.create_index(batch_op.f("ix_bookings_office_id"), ["office_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_bookings_starts_at"), ["starts_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_bookings_tenant"), ["tenant"], unique=False)

    op.create_table(
        "closures",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("office_id", sa.Uuid(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["office_id"],
            ["offices.id"],
            name=op.f("fk_closures_office_id_offices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_closures")),
    )
    with op.batch_alter_table("closures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_closures_office_id"), ["office_id"], unique=False)

    op.create_table(
        "office_services",
        sa.Column("office_id", sa.Uuid(), nullable=False),
        sa.Column("service_id", sa.Uuid(), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["office_id"],
            ["offices.id"],
            name=op.f("fk_office_services_office_id_offices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_office_services_service_id_services"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("office_id", "service_id", name=op.f("pk_office_services")),
    )
    with op.batch_alter_table("office_services", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_office_services_service_id"), ["service_id"], unique=False
        )

    op.create_table(
        "office_staff",
        sa.Column("office_id", sa.Uuid(), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["office_id"],
            ["offices.id"],
            name=op.f("fk_office_staff_office_id_offices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("office_id", "subject", name=op.f("pk_office_staff")),
    )
    with op.batch_alter_table("office_staff", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_office_staff_subject"), ["subject"], unique=False)

    op.create_table(
        "opening_rules",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("office_id", sa.Uuid(), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("opens", sa.Time(), nullable=False),
        sa.Column("closes", sa.Time(), nullable=False),
        sa.Column("breaks", sa.JSON(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["office_id"],
            ["offices.id"],
            name=op.f("fk_opening_rules_office_id_offices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opening_rules")),
    )
    with op.batch_alter_table("opening_rules", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_opening_rules_office_id"), ["office_id"], unique=False)

    op.create_table(
        "required_documents",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("service_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name_de", sa.String(length=200), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.Column("description_de", sa.Text(), nullable=False),
        sa.Column("description_en", sa.Text(), nullable=False),
        sa.Column("mandatory", sa.Boolean(), nullable=False),
        sa.Column("accepted_formats", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_required_documents_service_id_services"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_required_documents")),
    )
    with op.batch_alter_table("required_documents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_required_documents_service_id"), ["service_id"], unique=False
        )

    op.create_table(
        "booking_items",
        sa.Column("booking_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Uuid(), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["booking_id"],
            ["bookings.id"],
            name=op.f("fk_booking_items_booking_id_bookings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_booking_items_service_id_services")
        ),
        sa.PrimaryKeyConstraint("booking_id", "position", name=op.f("pk_booking_items")),
    )
    with op.batch_alter_table("booking_items", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_booking_items_service_id"), ["service_id"], unique=False
        )

    op.create_table(
        "slot_claims",
        sa.Column("office_id", sa.Uuid(), nullable=False),
        sa.Column("unit_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seat", sa.Integer(), nullable=False),
        sa.Column("booking_id", sa.Uuid(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["booking_id"],
            ["bookings.id"],
            name=op.f("fk_slot_claims_booking_id_bookings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["office_id"], ["offices.id"], name=op.f("fk_slot_claims_office_id_offices")
        ),
        sa.PrimaryKeyConstraint("office_id", "unit_start", "seat", name=op.f("pk_slot_claims")),
    )
    with op.batch_alter_table("slot_claims", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_slot_claims_booking_id"), ["booking_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("slot_claims", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_slot_claims_booking_id"))

    op.drop_table("slot_claims")
    with op.batch_alter_table("booking_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_booking_items_service_id"))

    op.drop_table("booking_items")
    with op.batch_alter_table("required_documents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_required_documents_service_id"))

    op.drop_table("required_documents")
    with op.batch_alter_table("opening_rules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_opening_rules_office_id"))

    op.drop_table("opening_rules")
    with op.batch_alter_table("office_staff", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_office_staff_subject"))

    op.drop_table("office_staff")
    with op.batch_alter_table("office_services", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_office_services_service_id"))

    op.drop_table("office_services")
    with op.batch_alter_table("closures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_closures_office_id"))

    op.drop_table("closures")
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bookings_tenant"))
        batch_op.drop_index(batch_op.f("ix_bookings_starts_at"))
        batch_op.drop_index(batch_op.f("ix_bookings_office_id"))
        batch_op.drop_index(batch_op.f("ix_bookings_email"))
        batch_op.drop_index(batch_op.f("ix_bookings_citizen_subject"))

    op.drop_table("bookings")
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_services_tenant"))

    op.drop_table("services")
    with op.batch_alter_table("offices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_offices_tenant"))

    op.drop_table("offices")
    with op.batch_alter_table("idempotency_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idempotency_records_finished_at"))

    op.drop_table("idempotency_records")
    op.drop_table("holidays")
