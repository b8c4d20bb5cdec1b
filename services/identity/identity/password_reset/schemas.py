from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from identity.tenants.schemas import Ags
from servicekit.mail import MailAddress


class PasswordResetRequest(BaseModel):
    """The address of an account of the municipality ``tenant`` that forgot its password."""

    model_config = ConfigDict(extra="forbid")

    tenant: Ags
    email: MailAddress


class PasswordResetConfirmation(BaseModel):
    """The mailed code and the new password."""

    model_config = ConfigDict(extra="forbid")

    token: Annotated[str, Field(min_length=1, max_length=200)]
    password: Annotated[str, Field(min_length=1, max_length=1024)]
