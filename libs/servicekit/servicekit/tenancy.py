"""Tenants are municipalities, identified by their Amtlicher Gemeindeschlüssel (AGS).

Every service names tenants the same way (tokens carry the AGS in ``tenant``), so the one
definition of what an AGS looks like lives here.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path
from pydantic import Field, StringConstraints

from servicekit.problems import NotFound

AGS_PATTERN = r"^(0[1-9]|1[0-6])[0-9]{6}$"
"""8 digits, starting with the Land (01-16)."""

Ags = Annotated[
    str,
    StringConstraints(pattern=AGS_PATTERN),
    Field(
        description="Amtlicher Gemeindeschlüssel: 8 digits, starting with the Land (01-16)",
        examples=["06999001"],
    ),
]
"""An AGS in a request or response body."""

AgsPath = Annotated[str, Path(pattern=AGS_PATTERN, description="Amtlicher Gemeindeschlüssel")]
"""An AGS as a path parameter."""


class NotYourMunicipality(NotFound):
    """A caller of another municipality at a route of this one (``/tenants/{ags}/...``).

    Answered as an unknown municipality is, by every service alike: another municipality's
    objects are not found, never forbidden, so a 403 cannot tell that an id exists there.
    """

    type_slug = "tenant-not-found"
    title = "No such municipality among yours"
