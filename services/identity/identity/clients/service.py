"""Partner clients: OAuth2 client credentials of a partner authority, per municipality."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence

from identity.audit.service import Actor, AuditAction, AuditLog
from identity.clients.models import OAuthClient
from identity.clients.repository import ClientRepository
from identity.clock import Clock
from identity.tenants.service import TenantService

_DUMMY_HASH = hashlib.sha256(b"no client has this secret").hexdigest()


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ClientService:
    def __init__(
        self, clients: ClientRepository, tenants: TenantService, audit: AuditLog, clock: Clock
    ) -> None:
        self.clients = clients
        self.tenants = tenants
        self.audit = audit
        self.clock = clock

    async def create(
        self,
        tenant_ags: str,
        name: str,
        scopes: Sequence[str],
        actor: Actor,
        *,
        client_id: str | None = None,
        secret: str | None = None,
        redirect_uris: Sequence[str] = (),
        first_party: bool = False,
        public: bool = False,
    ) -> tuple[OAuthClient, str | None]:
        """The new client and its secret (None for a public client); the secret is shown
        this once and stored hashed."""
        await self.tenants.get(tenant_ags)
        # A public client has no secret: the hash of one nobody is told, so none matches.
        secret = None if public else (secret or secrets.token_urlsafe(32))
        client = await self.clients.add(
            OAuthClient(
                client_id=client_id
                or f"{'app' if redirect_uris else 'partner'}-{secrets.token_hex(8)}",
                tenant_ags=tenant_ags,
                name=name,
                secret_hash=secret_hash(secret or secrets.token_urlsafe(32)),
                scopes=" ".join(sorted(set(scopes))),
                redirect_uris=" ".join(dict.fromkeys(redirect_uris)),
                first_party=first_party,
                public=public,
                created_at=self.clock.now(),
            )
        )
        await self.audit.record(
            AuditAction.CLIENT_CREATED,
            actor=actor,
            tenant=tenant_ags,
            subject=client.client_id,
            details={
                "scopes": sorted(set(scopes)),
                "redirect_uris": list(dict.fromkeys(redirect_uris)),
                "first_party": first_party,
                "public": public,
            },
        )
        return client, secret

    async def get(self, client_id: str) -> OAuthClient | None:
        return await self.clients.get(client_id)

    async def authenticate(self, client_id: str, secret: str) -> OAuthClient | None:
        client = await self.clients.get(client_id)
        expected = client.secret_hash if client is not None else _DUMMY_HASH
        matches = hmac.compare_digest(expected, secret_hash(secret))
        if client is None or not matches or client.disabled_at is not None or client.public:
            return None
        return client

    async def held_scopes(self) -> set[str]:
        return await self.clients.held_scopes()

    async def list(self, tenant_ags: str) -> Sequence[OAuthClient]:
        return await self.clients.in_tenant(tenant_ags)
