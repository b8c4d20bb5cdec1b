"""FastAPI dependencies: who is calling, and may they."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from servicekit.auth.errors import InsufficientRole, InsufficientScope, InvalidToken
from servicekit.auth.principal import Principal
from servicekit.auth.verifier import TokenVerifier
from servicekit.openapi import client_credentials

# Documents the scheme in OpenAPI; the header itself is parsed below, because HTTPBearer
# would quietly treat "Basic ..." as no credentials at all.
_bearer = HTTPBearer(
    auto_error=False,
    bearerFormat="JWT",
    description="Access token issued by the Rathaus identity service",
)


def verifier_of(request: Request) -> TokenVerifier:
    verifier: TokenVerifier = request.app.state.token_verifier
    return verifier


async def optional_principal(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal | None:
    """The caller, or None without an Authorization header; 401 for a bad one."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise InvalidToken("Send the access token as 'Authorization: Bearer <token>'.")
    principal = await verifier_of(request).principal(token)
    request.state.principal = principal
    return principal


async def current_principal(
    principal: Annotated[Principal | None, Depends(optional_principal)],
) -> Principal:
    """The caller; 401 without a valid access token."""
    if principal is None:
        raise InvalidToken("An access token is required.", token_present=False)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]


def require_roles(*roles: str) -> Any:
    """A dependency for ``Annotated[Principal, require_roles(...)]``: 403 without any of them."""
    if not roles:
        raise ValueError("name at least one role")

    async def check(principal: CurrentPrincipal) -> Principal:
        if not principal.has_role(*roles):
            raise InsufficientRole("This needs the role " + " or ".join(sorted(roles)) + ".")
        return principal

    return Depends(check)


def require_scopes(*scopes: str, optional: bool = False) -> Any:
    """A dependency for ``Annotated[Principal, require_scopes(...)]``: 401 without a token,
    403 unless every scope is held. The contract shows the scopes as the operation's OAuth2
    (client credentials) security requirement.

    ``optional``: ``Annotated[Principal | None, require_scopes(..., optional=True)]`` answers
    None without an Authorization header (a route that still serves anonymous callers), and
    checks the scopes of any token that is sent.
    """
    if not scopes:
        raise ValueError("name at least one scope")

    async def check(
        principal: OptionalPrincipal,
        _documented: Annotated[str | None, Depends(client_credentials)],
    ) -> Principal | None:
        if principal is None:
            if optional:
                return None
            raise InvalidToken("An access token is required.", token_present=False)
        if not principal.has_scopes(*scopes):
            raise InsufficientScope("This needs the scope " + " ".join(sorted(scopes)) + ".")
        return principal

    return Security(check, scopes=list(scopes))
