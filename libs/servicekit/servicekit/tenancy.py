"""Tenants are municipalities, identified by their Amtlicher Gemeindeschlüssel (AGS).

Every service names tenants the same way (tokens carry the AGS in ``tenant``), so the one
definition of what an AGS looks like lives here.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path
from pydantic import Field, StringConstraints

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
