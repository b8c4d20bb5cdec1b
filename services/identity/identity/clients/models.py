from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, Text, false, text
from sqlalchemy.orm import Mapped, mapped_column

from identity.db import Base
from servicekit.db import UTCDateTime, utcnow


class OAuthClient(Base):
    """An OAuth2 client of one municipality: a partner authority's (client credentials, its
    scopes) or a frontend's (authorization code with PKCE to its registered redirect URIs)."""

    __tablename__ = "oauth_clients"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_ags: Mapped[str] = mapped_column(ForeignKey("tenants.ags"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    secret_hash: Mapped[str] = mapped_column(String(64))
    """SHA-256 of a 256-bit random secret: no dictionary to attack, so no slow hash needed."""
    scopes: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    redirect_uris: Mapped[str] = mapped_column(Text(), default="", server_default=text("''"))
    """Space-separated; an authorization request must name one of them exactly."""
    first_party: Mapped[bool] = mapped_column(Boolean(), default=False, server_default=false())
    """The municipality's own frontend: its sign-in asks for no consent."""
    public: Mapped[bool] = mapped_column(Boolean(), default=False, server_default=false())
    """A frontend that cannot keep a secret (``token_endpoint_auth_method`` ``none``): it
    redeems codes with PKCE alone and gets no client credentials grant."""

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(self.scopes.split())

    @property
    def redirect_uri_list(self) -> list[str]:
        return self.redirect_uris.split()
