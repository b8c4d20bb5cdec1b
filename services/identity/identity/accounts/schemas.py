from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from identity.accounts.models import Account
from identity.tenants.schemas import Ags
from servicekit.mail import checked_address, refuse_control_characters

Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=254),
    # A control character (NUL, ...) is refused before the spaces are stripped, not trimmed.
    BeforeValidator(refuse_control_characters),
    # The kit's check of an address a mail goes to (no line breaks, a real domain): 422 here.
    AfterValidator(checked_address),
    Field(examples=["erika.mustermann@example.org"]),
]
Password = Annotated[str, Field(min_length=1, max_length=1024, examples=["correct horse battery"])]
StaffRole = Literal["clerk", "admin", "platform_admin"]
Role = Literal["citizen", "clerk", "admin", "platform_admin", "partner"]


class CitizenRegistration(BaseModel):
    """A citizen's self-registration; a verification code goes to the email address."""

    model_config = ConfigDict(extra="forbid")

    email: Email
    password: Password


class StaffAccountIn(BaseModel):
    """A clerk or admin account created by the municipality's admin."""

    model_config = ConfigDict(extra="forbid")

    email: Email
    password: Password
    roles: list[StaffRole] = Field(min_length=1, examples=[["clerk"]])


class StaffInvitationIn(BaseModel):
    """A clerk or admin to invite: a single-use code to set a password is mailed to them."""

    model_config = ConfigDict(extra="forbid")

    email: Email
    roles: list[StaffRole] = Field(min_length=1, examples=[["clerk"]])


class InvitationAcceptance(BaseModel):
    """The mailed invitation code and the staff member's first password."""

    model_config = ConfigDict(extra="forbid")

    token: Annotated[str, Field(min_length=1, max_length=200)]
    password: Password


class PasswordChange(BaseModel):
    """A new password, confirmed with the current one."""

    model_config = ConfigDict(extra="forbid")

    current_password: Password
    new_password: Password


class EmailChangeIn(BaseModel):
    """A new address for the account, confirmed with the current password; a code goes to
    the new address."""

    model_config = ConfigDict(extra="forbid")

    email: Email
    password: Password


class RolesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    roles: list[Role] = Field(examples=[["clerk", "admin"]])


class EmailVerification(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: Annotated[str, Field(min_length=1, max_length=200)]


class AccountOut(BaseModel):
    id: str
    tenant: Ags
    email: str
    roles: list[Role]
    email_verified: bool
    created_at: datetime
    disabled: bool = Field(
        default=False, description="Closed by an administrator (or erased): no login works"
    )

    @field_validator("roles")
    @classmethod
    def _sorted(cls, roles: list[Role]) -> list[Role]:
        return sorted(roles)

    @classmethod
    def of(cls, account: Account) -> AccountOut:
        return cls(
            id=account.id,
            tenant=account.tenant_ags,
            email=account.email,
            roles=sorted(account.role_set),  # type: ignore[arg-type]
            email_verified=account.email_verified_at is not None,
            created_at=account.created_at,
            disabled=account.disabled_at is not None,
        )


class StaffInvitationOut(BaseModel):
    account: AccountOut
    expires_at: datetime = Field(description="Until when the mailed code sets the password")


class AccountList(BaseModel):
    items: list[AccountOut]


class ErasureConfirmation(BaseModel):
    """The account's password, so that a stolen access token alone erases nothing."""

    model_config = ConfigDict(extra="forbid")

    password: str = Field(min_length=1, max_length=1024)
