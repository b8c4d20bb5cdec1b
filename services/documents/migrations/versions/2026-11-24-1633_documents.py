"""documents_and_access_log

Revision ID: 83be5ff55bfd
Revises: 78d375c31bf2
Create Date: 2026-11-24 16:33:03.997211+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "83be5ff55bfd"
down_revision: str | None = "78d375c31bf2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "document_access_log",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tenant", sa.String(length=8), nullable=False),
        sa.Column("booking_id", sa.String(length=64), nullable=False),
        sa.Column("document_id", sa.String(length=32), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("actor_roles", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document_access_log")),
    )
    with op.batch_alter_table("document_access_log", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_document_access_log_booking_id"), ["booking_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_document_access_log_document_id"), ["document_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_document_access_log_tenant"), ["tenant"], unique=False)

    op.create_table(
        "documents",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant", sa.String(length=8), nullable=False),
        sa.Column("booking_id", sa.String(length=64), nullable=False),
        sa.Column("checklist_item_id", sa.String(length=64), nullable=False),
        sa.Column("office_id", sa.String(length=64), nullable=False),
        sa.Column("appointment_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("blob_id", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("kek_id", sa.String(length=64), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("scan_status", sa.String(length=16), nullable=False),
        sa.Column("scan_signature", sa.String(length=200), nullable=True),
        sa.Column("scanned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("review_status", sa.String(length=24), nullable=False),
        sa.Column("review_reason", sa.Text(), nullable=True),
        sa.Column("reviewed_by", sa.String(length=200), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("uploaded_by", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_documents")),
        sa.UniqueConstraint("blob_id", name=op.f("uq_documents_blob_id")),
    )
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_documents_booking_id"), ["booking_id"], unique=False)
        batch_op.create_index(
            "ix_documents_tenant_appointment_at", ["tenant", "appointment_at"], unique=False
        )

    _make_access_log_append_only()


def _make_access_log_append_only() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION document_access_log_append_only() RETURNS trigger "
            "LANGUAGE plpgsql AS $$ BEGIN "
            "RAISE EXCEPTION 'document_access_log is append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER document_access_log_no_change BEFORE UPDATE OR DELETE "
            "ON document_access_log FOR EACH ROW "
            "EXECUTE FUNCTION document_access_log_append_only()"
        )
        op.execute(
            "CREATE TRIGGER document_access_log_no_truncate BEFORE TRUNCATE "
            "ON document_access_log FOR EACH STATEMENT "
            "EXECUTE FUNCTION document_access_log_append_only()"
        )
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER document_access_log_no_{event.lower()} BEFORE {event} "
                "ON document_access_log BEGIN "
                "SELECT RAISE(ABORT, 'document_access_log is append-only'); END"
            )


def _drop_access_log_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS document_access_log_no_truncate ON document_access_log")
        op.execute("DROP TRIGGER IF EXISTS document_access_log_no_change ON document_access_log")
        op.execute("DROP FUNCTION IF EXISTS document_access_log_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS document_access_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS document_access_log_no_delete")


def downgrade() -> None:
    _drop_access_log_triggers()
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_index("ix_documents_tenant_appointment_at")
        batch_op.drop_index(batch_op.f("ix_documents_booking_id"))

    op.drop_table("documents")
    with op.batch_alter_table("document_access_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_document_access_log_tenant"))
        batch_op.drop_index(batch_op.f("ix_document_access_log_document_id"))
        batch_op.drop_index(batch_op.f("ix_document_access_log_booking_id"))

    op.drop_table("document_access_log")
