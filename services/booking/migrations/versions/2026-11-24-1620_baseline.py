"""baseline

Revision ID: ebe0af51185d
Revises:
Create Date: 2026-11-24 16:20:53.966887+00:00
"""

from collections.abc import Sequence

revision: str = "ebe0af51185d"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
