"""FastAPI dependencies: who is calling, and may they."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

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

MANAGE_TOKEN_HEADER = "X-Manage-Token"
MANAGE_TOKEN_SCHEME = "manageToken"
MANAGE_TOKEN_MAX_LENGTH = 512
_manage_link = APIKeyHeader(
    name=MANAGE_TOKEN_HEADER,
    scheme_name=MANAGE_TOKEN_SCHEME,
    auto_error=False,
    description=(
        "The secret of a booking's manage link (answered once by the hold, and mailed): acts "
        "for the booking's citizen without an account, instead of an access token"
    ),
)


@dataclass(frozen=True)
class Holder:
    """Who acts on a booking: a token's principal, the manage link's secret, or both."""

    principal: Principal | None
    manage_token: str | None


async def principal_or_manage_token(
    principal: OptionalPrincipal,
    manage_token: Annotated[str | None, Depends(_manage_link)],
) -> Holder:
    """The caller of a route for a booking's citizen; 401 with neither credential (the
    contract offers both as alternative security schemes: Bearer or ``manageToken``)."""
    if manage_token is not None and len(manage_token) > MANAGE_TOKEN_MAX_LENGTH:
        raise InvalidToken("The manage token is not one of ours.")
    if principal is None and not manage_token:
        raise InvalidToken(
            f"Send an access token or the booking's manage-link token ({MANAGE_TOKEN_HEADER}).",
            token_present=False,
        )
    return Holder(principal=principal, manage_token=manage_token or None)


PrincipalOrManageToken = Annotated[Holder, Depends(principal_or_manage_token)]
"""For a route a booking's citizen may call with the manage link instead of an account."""


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
