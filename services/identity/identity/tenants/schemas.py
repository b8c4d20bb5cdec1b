from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Re-exported: the features of this service import the tenant types from here.
from servicekit.tenancy import AGS_PATTERN as AGS_PATTERN
from servicekit.tenancy import Ags as Ags


class TenantSettings(BaseModel):
    """How a municipality runs its Rathaus."""

    model_config = ConfigDict(extra="forbid")

    citizen_self_registration: bool = Field(
        default=True, description="Citizens may create their own accounts"
    )
    default_locale: Literal["de", "en"] = "de"
    timezone: Literal["Europe/Berlin"] = "Europe/Berlin"


class TenantSettingsPatch(BaseModel):
    """The settings to change; the others stay as they are."""

    model_config = ConfigDict(extra="forbid")

    citizen_self_registration: bool | None = None
    default_locale: Literal["de", "en"] | None = None


class TenantOut(BaseModel):
    """A municipality served by this Rathaus."""

    model_config = ConfigDict(from_attributes=True)

    ags: Ags
    name: str
    created_at: datetime
    settings: TenantSettings = Field(default_factory=TenantSettings)

    @field_validator("settings", mode="before")
    @classmethod
    def _from_json(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value


class TenantList(BaseModel):
    items: list[TenantOut]


class TenantIn(BaseModel):
    """A municipality to serve (platform admins)."""

    model_config = ConfigDict(extra="forbid")

    ags: Ags
    name: Annotated[str, Field(min_length=1, max_length=200, examples=["Musterstadt"])]
