"""access log: room for a received attachment's id (up to 64 characters, the manifest's)

Revision ID: 7b3e9d41c6a2
Revises: 084a5159122e
Create Date: 2026-12-07 15:00:00.000000+00:00

On SQLite the column change rebuilds the table, which drops its append-only triggers: they
are made again, as the first migration made them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7b3e9d41c6a2"
down_revision: str | None = "084a5159122e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _sqlite_triggers() -> None:
    if op.get_bind().dialect.name != "postgresql":
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER IF NOT EXISTS document_access_log_no_{event.lower()} "
                f"BEFORE {event} ON document_access_log BEGIN "
                "SELECT RAISE(ABORT, 'document_access_log is append-only'); END"
            )


def _resize(old: int, new: int) -> None:
    with op.batch_alter_table("document_access_log", schema=None) as batch_op:
        batch_op.alter_column(
            "document_id",
            existing_type=sa.String(length=old),
            type_=sa.String(length=new),
            existing_nullable=True,
        )
    _sqlite_triggers()


def upgrade() -> None:
    _resize(32, 64)


def downgrade() -> None:
    _resize(64, 32)
