from __future__ import annotations

from datetime import datetime
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from identity.clients.models import OAuthClient
from identity.tenants.schemas import Ags
from servicekit.auth import Scope

_LOOPBACK = frozenset({"localhost", "127.0.0.1", "[::1]"})


def _redirect_uri(value: str) -> str:
    """An absolute https URI without fragment (http only to loopback, RFC 8252), compared
    later character for character: no wildcards, no patterns."""
    parts = urlsplit(value)
    if parts.fragment or "#" in value or not parts.hostname or "*" in value:
        raise ValueError("an absolute URI without fragment or wildcard")
    if parts.username is not None or parts.password is not None:
        raise ValueError("no user information in a redirect URI")
    host = parts.netloc.rsplit("@", 1)[-1].rsplit(":", 1)[0].lower()
    if parts.scheme == "https" or (parts.scheme == "http" and host in _LOOPBACK):
        return value
    raise ValueError("https, or http to a loopback address")


RedirectUri = Annotated[
    str,
    StringConstraints(min_length=8, max_length=2048),
    AfterValidator(_redirect_uri),
    Field(examples=["https://termine.musterstadt.example/callback"]),
]


class PartnerClientIn(BaseModel):
    """An OAuth2 client: a partner authority's (client credentials grant, with scopes) or a
    frontend's (authorization code with PKCE to its ``redirect_uris``)."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=200, examples=["Nachbarstadt Rathaus"])]
    scopes: list[Scope] = Field(default_factory=list, max_length=32)
    redirect_uris: list[RedirectUri] = Field(
        default_factory=list,
        max_length=10,
        description="Where the authorization endpoint may send the browser, matched exactly",
    )
    first_party: bool = Field(
        default=False, description="The municipality's own frontend: sign-in without consent"
    )
    public: bool = Field(
        default=False,
        description="A frontend that cannot keep a secret: no secret, codes redeemed with "
        "PKCE alone, no client credentials grant",
    )

    @model_validator(mode="after")
    def _public_needs_redirect(self) -> PartnerClientIn:
        if self.public and not self.redirect_uris:
            raise ValueError("a public client signs people in: give its redirect_uris")
        return self


class PartnerClientOut(BaseModel):
    client_id: str
    tenant: Ags
    name: str
    scopes: list[str]
    created_at: datetime
    redirect_uris: list[str] = Field(default_factory=list)
    first_party: bool = False
    public: bool = False

    @classmethod
    def of(cls, client: OAuthClient) -> PartnerClientOut:
        return cls(
            client_id=client.client_id,
            tenant=client.tenant_ags,
            name=client.name,
            scopes=sorted(client.scope_set),
            created_at=client.created_at,
            redirect_uris=client.redirect_uri_list,
            first_party=client.first_party,
            public=client.public,
        )


class PartnerClientCreated(PartnerClientOut):
    client_secret: str = Field(
        description="Shown this once; only a hash is stored (empty for a public client, "
        "which has none)"
    )


class PartnerClientList(BaseModel):
    items: list[PartnerClientOut]
