from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from identity.db import Base
from servicekit.db import UTCDateTime, utcnow


class Account(Base):
    """A person who logs in: citizen, clerk or admin of one municipality."""

    __tablename__ = "accounts"
    __table_args__ = (UniqueConstraint("tenant_ags", "email"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_ags: Mapped[str] = mapped_column(ForeignKey("tenants.ags"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    password_hash: Mapped[str] = mapped_column(String(255))
    roles: Mapped[str] = mapped_column(String(200), default="")
    """Space-separated role names."""
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    email_verification_hash: Mapped[str | None] = mapped_column(
        String(64), nullable=True, unique=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    @property
    def role_set(self) -> frozenset[str]:
        return frozenset(self.roles.split())


class EmailChange(Base):
    """A new address the account asked for, waiting for the code mailed to it: kept as its
    hash, good once and until ``expires_at``; the account's address changes only then."""

    __tablename__ = "email_changes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    new_email: Mapped[str] = mapped_column(String(254))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    """When it changed the address, or when a later request or change ended it."""
