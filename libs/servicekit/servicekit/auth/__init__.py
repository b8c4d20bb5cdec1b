"""Token checks for every service: identity's access tokens in, a :class:`Principal` out.

Public face::

    CurrentPrincipal   Annotated dependency: the caller, 401 invalid-token without a valid token
    OptionalPrincipal  None without an Authorization header, 401 with a bad one
    PrincipalOrManageToken  a booking's citizen by token or by the manage link's secret
                       (``X-Manage-Token``, the ``manageToken`` scheme); 401 with neither
    require_roles()    Annotated[Principal, require_roles("clerk", "admin")]: 403 without any
    require_scopes()   Annotated[Principal, require_scopes("booking:read")]: 403 unless all held
    AUTH_PROBLEMS      the problems a protected route can answer, for ``problem_responses``
    Scope              the pydantic type of one OAuth2 scope name (``booking:search``)

The tenant check is the service's: compare ``principal.tenant`` with the resource's tenant
and answer 404 for another tenant's object. Verification (``TokenVerifier``) is wired by
``create_service_app`` from the ``auth_*`` settings; all JOSE code is in ``jose_safe``.
"""

from servicekit.auth.dependencies import (
    MANAGE_TOKEN_HEADER,
    CurrentPrincipal,
    Holder,
    OptionalPrincipal,
    PrincipalOrManageToken,
    current_principal,
    optional_principal,
    require_roles,
    require_scopes,
)
from servicekit.auth.errors import (
    InsufficientRole,
    InsufficientScope,
    InvalidToken,
    TokenKeysUnavailable,
)
from servicekit.auth.keys import KeySource, RemoteJwks, StaticKeys
from servicekit.auth.principal import ROLES, Principal
from servicekit.auth.scopes import Scope
from servicekit.auth.verifier import TokenVerifier

AUTH_PROBLEMS = (InvalidToken, InsufficientRole)
"""For ``responses=problem_responses(*AUTH_PROBLEMS, ...)`` on a role-protected route."""

__all__ = [
    "AUTH_PROBLEMS",
    "MANAGE_TOKEN_HEADER",
    "ROLES",
    "CurrentPrincipal",
    "Holder",
    "InsufficientRole",
    "InsufficientScope",
    "InvalidToken",
    "KeySource",
    "OptionalPrincipal",
    "Principal",
    "PrincipalOrManageToken",
    "RemoteJwks",
    "Scope",
    "StaticKeys",
    "TokenKeysUnavailable",
    "TokenVerifier",
    "current_principal",
    "optional_principal",
    "require_roles",
    "require_scopes",
]
