from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from identity.db import Base
from servicekit.db import UTCDateTime

RESET = "reset"
INVITATION = "invitation"


class PasswordReset(Base):
    """A code mailed to an account's address that sets its password: kept as its hash, good
    once and until ``expires_at``. ``purpose``: a forgotten password (``reset``) or a staff
    member's first password (``invitation``); each is redeemed only at its own route."""

    __tablename__ = "password_resets"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    purpose: Mapped[str] = mapped_column(String(20), default=RESET, server_default=RESET)
    """When it set the password, or when another one did (each ends the others)."""
