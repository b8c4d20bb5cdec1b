"""Who is calling: the verified content of an access token."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from servicekit.auth.jose_safe import TokenRejected

ROLES: frozenset[str] = frozenset({"citizen", "clerk", "admin", "platform_admin", "partner"})
_AGS = re.compile(r"^[0-9]{8}$")


@dataclass(frozen=True)
class Principal:
    """The caller as the token says, after the token was verified."""

    subject: str
    tenant: str
    roles: frozenset[str]
    scopes: frozenset[str]
    token_id: str
    client_id: str | None
    expires_at: datetime
    acr: str | None = None
    """How surely the person was identified (eIDAS level: low, substantial, high), when they
    signed in through a trusted external identity provider such as BundID."""

    def has_role(self, *roles: str) -> bool:
        """True when the principal holds at least one of ``roles``."""
        return not self.roles.isdisjoint(roles)

    def has_scopes(self, *scopes: str) -> bool:
        """True when the principal holds every one of ``scopes``."""
        return self.scopes.issuperset(scopes)

    def tenant_in_reach(self, all_tenants: bool) -> str | None:
        """The tenant a maintenance run of this principal covers: its own, or every tenant
        (None) when a platform administrator asks for all of them."""
        return None if all_tenants and self.has_role("platform_admin") else self.tenant

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any]) -> Principal:
        subject = claims.get("sub")
        tenant = claims.get("tenant")
        token_id = claims.get("jti")
        if not isinstance(subject, str) or not subject:
            raise TokenRejected("sub missing")
        if not isinstance(tenant, str) or not _AGS.match(tenant):
            raise TokenRejected("tenant is not an AGS")
        if not isinstance(token_id, str) or not token_id:
            raise TokenRejected("jti missing")
        roles = claims.get("roles", [])
        if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
            raise TokenRejected("roles is not a list of strings")
        scope = claims.get("scope", "")
        if not isinstance(scope, str):
            raise TokenRejected("scope is not a string")
        client_id = claims.get("client_id")
        if client_id is not None and not isinstance(client_id, str):
            raise TokenRejected("client_id is not a string")
        acr = claims.get("acr")
        if acr is not None and not isinstance(acr, str):
            raise TokenRejected("acr is not a string")
        return cls(
            subject=subject,
            tenant=tenant,
            roles=frozenset(roles) & ROLES,
            scopes=frozenset(scope.split()),
            token_id=token_id,
            client_id=client_id,
            expires_at=datetime.fromtimestamp(float(claims["exp"]), tz=UTC),
            acr=acr,
        )
