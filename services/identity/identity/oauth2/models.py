from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from identity.db import Base
from servicekit.db import UTCDateTime


class AuthorizationCode(Base):
    """A code of the authorization code grant, stored as its SHA-256: one use, one minute,
    bound to its client, its redirect URI and the PKCE challenge."""

    __tablename__ = "authorization_codes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("oauth_clients.client_id"), index=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    redirect_uri: Mapped[str] = mapped_column(Text())
    code_challenge: Mapped[str] = mapped_column(String(128))
    """BASE64URL(SHA-256(code_verifier)) as the client sent it (S256 is the only method)."""
    scope: Mapped[str] = mapped_column(String(500), default="")
    nonce: Mapped[str | None] = mapped_column(String(255), nullable=True)
    amr: Mapped[str] = mapped_column(String(50))
    auth_time: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    family_id: Mapped[str] = mapped_column(String(36))
    """The refresh family the code is redeemed into: a replayed code revokes it."""
