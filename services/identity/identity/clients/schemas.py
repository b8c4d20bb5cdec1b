from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from identity.clients.models import OAuthClient
from identity.tenants.schemas import Ags
from servicekit.auth import Scope


class PartnerClientIn(BaseModel):
    """A partner authority's OAuth2 client (client credentials grant)."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=200, examples=["Nachbarstadt Rathaus"])]
    scopes: list[Scope] = Field(default_factory=list, max_length=32)


class PartnerClientOut(BaseModel):
    client_id: str
    tenant: Ags
    name: str
    scopes: list[str]
    created_at: datetime

    @classmethod
    def of(cls, client: OAuthClient) -> PartnerClientOut:
        return cls(
            client_id=client.client_id,
            tenant=client.tenant_ags,
            name=client.name,
            scopes=sorted(client.scope_set),
            created_at=client.created_at,
        )


class PartnerClientCreated(PartnerClientOut):
    client_secret: str = Field(description="Shown this once; only a hash is stored")


class PartnerClientList(BaseModel):
    items: list[PartnerClientOut]
