from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

AGS_PATTERN = r"^(0[1-9]|1[0-6])[0-9]{6}$"

Ags = Annotated[
    str,
    StringConstraints(pattern=AGS_PATTERN),
    Field(
        description="Amtlicher Gemeindeschlüssel: 8 digits, starting with the Land (01-16)",
        examples=["06999001"],
    ),
]


class TenantOut(BaseModel):
    """A municipality served by this Rathaus."""

    model_config = ConfigDict(from_attributes=True)

    ags: Ags
    name: str
    created_at: datetime


class TenantList(BaseModel):
    items: list[TenantOut]


class TenantIn(BaseModel):
    """A municipality to serve (platform admins)."""

    model_config = ConfigDict(extra="forbid")

    ags: Ags
    name: Annotated[str, Field(min_length=1, max_length=200, examples=["Musterstadt"])]
