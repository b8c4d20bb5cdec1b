"""bookings: a partial index of the bookings that still carry personal data, by their end

The retention job erases in batches the bookings of a tenant that ended before a cutoff and
still say something about their citizen. Without this index every batch walked past all the
bookings erased before it (quadratic in the bookings erased per run; see bench/scale).

Revision ID: 5e1f0c9a2b77
Revises: 7b2c9e41d5a3
Create Date: 2026-12-06 21:50:00.000000+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5e1f0c9a2b77"
down_revision: str | None = "7b2c9e41d5a3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PERSONAL = (
    "name IS NOT NULL OR email IS NOT NULL OR phone IS NOT NULL "
    "OR citizen_subject IS NOT NULL OR manage_token_hash <> ''"
)


def upgrade() -> None:
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_bookings_erasable",
            ["tenant", "ends_at"],
            unique=False,
            postgresql_where=sa.text(PERSONAL),
            sqlite_where=sa.text(PERSONAL),
        )


def downgrade() -> None:
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.drop_index("ix_bookings_erasable")
