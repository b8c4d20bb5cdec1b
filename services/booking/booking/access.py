"""Who may do what: administrators and clerks of the municipality named in the path.

Object-level checks (a booking's citizen, an office's clerks) live in the features' services;
everything here compares the token's tenant with the ``{ags}`` of the path. A caller of
another municipality gets 404 (:class:`NotYourMunicipality`, as identity answers), whatever
the route names; 403 is for a caller of this municipality whose roles do not suffice.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from booking.settings import SettingsDep
from servicekit.auth import CurrentPrincipal, InvalidToken, Principal, require_scopes
from servicekit.problems import Forbidden
from servicekit.tenancy import AgsPath, NotYourMunicipality


class NotAdministrator(Forbidden):
    type_slug = "not-administrator"
    title = "Only an administrator of this municipality may do this"


class NotStaff(Forbidden):
    type_slug = "not-staff"
    title = "Only clerks and administrators of this municipality may do this"


SEARCH_SCOPE = "booking:search"
"""What a partner municipality's client needs to ask for the earliest appointment."""


async def _admin_of(ags: AgsPath, principal: CurrentPrincipal) -> Principal:
    if principal.tenant != ags:
        raise NotYourMunicipality(f"No municipality {ags} among yours.")
    if not principal.has_role("admin"):
        raise NotAdministrator()
    return principal


async def _staff_of(ags: AgsPath, principal: CurrentPrincipal) -> Principal:
    if principal.tenant != ags:
        raise NotYourMunicipality(f"No municipality {ags} among yours.")
    if not principal.has_role("clerk", "admin"):
        raise NotStaff()
    return principal


async def _partner_of(
    ags: AgsPath,
    principal: Annotated[Principal | None, require_scopes(SEARCH_SCOPE, optional=True)],
    settings: SettingsDep,
) -> Principal | None:
    if principal is None:
        if settings.partner_search_requires_token:
            raise InvalidToken(
                f"Partner municipalities ask with a token holding {SEARCH_SCOPE}.",
                token_present=False,
            )
        return None
    if principal.tenant != ags:
        raise NotYourMunicipality(f"No municipality {ags} among yours.")
    return principal


PartnerSearching = Annotated[Principal | None, Depends(_partner_of)]
"""A partner's client registered at this municipality, holding ``booking:search``: 401 without
a token (unless ``BOOKING_PARTNER_SEARCH_REQUIRES_TOKEN`` is off, for partners whose Rathaus
still asks anonymously), 403 without the scope, 404 for another municipality's client."""

TenantAdmin = Annotated[Principal, Depends(_admin_of)]
"""An administrator of the municipality in the path (404 for another municipality's caller,
403 for anyone else of this one)."""

TenantStaff = Annotated[Principal, Depends(_staff_of)]
"""A clerk or administrator of the municipality in the path (404 for another municipality's
caller, 403 for anyone else of this one)."""


def is_citizen_of(principal: Principal | None, tenant: str) -> bool:
    return principal is not None and principal.tenant == tenant and principal.has_role("citizen")
