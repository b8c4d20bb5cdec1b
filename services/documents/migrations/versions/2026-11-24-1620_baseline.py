"""baseline

Revision ID: 78d375c31bf2
Revises:
Create Date: 2026-11-24 16:20:54.633814+00:00
"""

from collections.abc import Sequence

revision: str = "78d375c31bf2"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
