from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from identity.db import Base
from servicekit.db import UTCDateTime, utcnow


class MfaEnrolment(Base):
    """A staff member's TOTP secret (encrypted), pending until a first code confirmed it."""

    __tablename__ = "mfa_enrolments"

    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    secret_ciphertext: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_used_step: Mapped[int | None] = mapped_column(Integer, nullable=True)
    """The 30-second step of the newest accepted code: that code, and older ones, never again."""


class MfaRecoveryCode(Base):
    """One of the codes shown once at enrolment, kept as its argon2id hash; works once."""

    __tablename__ = "mfa_recovery_codes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ChallengePurpose(StrEnum):
    VERIFY = "verify"
    """The password was right: a code completes the login."""
    ENROL = "enrol"
    """The password was right, the account must have a second factor and has none: it may
    only enrol one, and the first code completes the login."""


class MfaChallenge(Base):
    """The answer to a right password of an account with a second factor: an opaque token,
    stored as its SHA-256, good for one completed login within minutes."""

    __tablename__ = "mfa_challenges"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
