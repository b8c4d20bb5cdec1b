"""Who may do what: administrators and clerks of the municipality named in the path.

Object-level checks (a booking's citizen, an office's clerks) live in the features' services;
everything here compares the token's tenant with the ``{ags}`` of the path.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from servicekit.auth import CurrentPrincipal, Principal
from servicekit.problems import Forbidden
from servicekit.tenancy import AgsPath


class NotAdministrator(Forbidden):
    type_slug = "not-administrator"
    title = "Only an administrator of this municipality may do this"


class NotStaff(Forbidden):
    type_slug = "not-staff"
    title = "Only clerks and administrators of this municipality may do this"


async def _admin_of(ags: AgsPath, principal: CurrentPrincipal) -> Principal:
    if principal.tenant != ags or not principal.has_role("admin"):
        raise NotAdministrator()
    return principal


async def _staff_of(ags: AgsPath, principal: CurrentPrincipal) -> Principal:
    if principal.tenant != ags or not principal.has_role("clerk", "admin"):
        raise NotStaff()
    return principal


TenantAdmin = Annotated[Principal, Depends(_admin_of)]
"""An administrator of the municipality in the path (403 for anyone else)."""

TenantStaff = Annotated[Principal, Depends(_staff_of)]
"""A clerk or administrator of the municipality in the path (403 for anyone else)."""


def is_citizen_of(principal: Principal | None, tenant: str) -> bool:
    return principal is not None and principal.tenant == tenant and principal.has_role("citizen")
