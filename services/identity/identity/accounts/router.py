from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from identity.accounts.dependencies import AccountServiceDep
from identity.accounts.errors import (
    AccountNotFound,
    EmailTaken,
    InvalidVerificationToken,
    PasswordMismatch,
    RoleNotGrantable,
    WeakPassword,
)
from identity.accounts.schemas import (
    AccountList,
    AccountOut,
    CitizenRegistration,
    EmailVerification,
    ErasureConfirmation,
    RolesIn,
    StaffAccountIn,
)
from identity.audit.dependencies import ClientIpDep
from identity.audit.service import Actor
from identity.tenants.errors import SelfRegistrationClosed, TenantNotFound
from servicekit.auth import AUTH_PROBLEMS, CurrentPrincipal, Principal, require_roles
from servicekit.problems import ValidationFailed, problem_responses
from servicekit.tenancy import AgsPath

router = APIRouter(prefix="/identity/v1", tags=["accounts"])

Admin = Annotated[Principal, require_roles("admin", "platform_admin")]


@router.post(
    "/tenants/{ags}/citizens",
    status_code=201,
    response_model=AccountOut,
    # 409 stays declared for v1's compatibility; a taken address is answered 201 (see below).
    responses=problem_responses(
        TenantNotFound, SelfRegistrationClosed, EmailTaken, WeakPassword, ValidationFailed
    ),
)
async def register_citizen(
    ags: AgsPath, body: CitizenRegistration, service: AccountServiceDep, ip: ClientIpDep
) -> AccountOut:
    """Self-registration of a citizen; a verification code is mailed to the address (in the
    language of Accept-Language, else the municipality's). An address that has an account
    already is answered alike, and its owner is mailed instead."""
    account = await service.register_citizen(ags, body.email, body.password, Actor(None, ip))
    return AccountOut.of(account)


@router.post(
    "/accounts/email-verification",
    status_code=204,
    responses=problem_responses(InvalidVerificationToken, ValidationFailed),
)
async def verify_email(body: EmailVerification, service: AccountServiceDep) -> None:
    """Confirm an email address with the code that was sent to it."""
    await service.verify_email(body.token)


@router.get(
    "/me", response_model=AccountOut, responses=problem_responses(*AUTH_PROBLEMS, AccountNotFound)
)
async def me(principal: CurrentPrincipal, service: AccountServiceDep) -> AccountOut:
    """The caller's own account."""
    return AccountOut.of(await service.me(principal))


@router.get(
    "/tenants/{ags}/accounts",
    response_model=AccountList,
    responses=problem_responses(*AUTH_PROBLEMS, TenantNotFound, ValidationFailed),
)
async def list_accounts(ags: AgsPath, admin: Admin, service: AccountServiceDep) -> AccountList:
    """The municipality's accounts (its admins)."""
    return AccountList(items=[AccountOut.of(a) for a in await service.list(ags, admin)])


@router.post(
    "/tenants/{ags}/accounts",
    status_code=201,
    response_model=AccountOut,
    responses=problem_responses(
        *AUTH_PROBLEMS, TenantNotFound, EmailTaken, WeakPassword, RoleNotGrantable
    ),
)
async def create_staff_account(
    ags: AgsPath, body: StaffAccountIn, admin: Admin, service: AccountServiceDep, ip: ClientIpDep
) -> AccountOut:
    """Create a clerk or admin of the municipality (its admins); a verification code is
    mailed to the address."""
    account = await service.create_staff(
        ags, body.email, body.password, body.roles, admin, Actor(admin.subject, ip)
    )
    return AccountOut.of(account)


@router.put(
    "/tenants/{ags}/accounts/{account_id}/roles",
    response_model=AccountOut,
    responses=problem_responses(*AUTH_PROBLEMS, TenantNotFound, AccountNotFound, RoleNotGrantable),
)
async def set_roles(
    ags: AgsPath,
    account_id: Annotated[str, Path(max_length=36)],
    body: RolesIn,
    admin: Admin,
    service: AccountServiceDep,
    ip: ClientIpDep,
) -> AccountOut:
    """Replace an account's staff roles (its municipality's admins)."""
    account = await service.set_roles(ags, account_id, body.roles, admin, Actor(admin.subject, ip))
    return AccountOut.of(account)


@router.post(
    "/tenants/{ags}/accounts/{account_id}/erasure",
    response_model=AccountOut,
    responses=problem_responses(*AUTH_PROBLEMS, TenantNotFound, AccountNotFound),
)
async def erase_account(
    ags: AgsPath,
    account_id: Annotated[str, Path(max_length=36)],
    admin: Admin,
    service: AccountServiceDep,
    ip: ClientIpDep,
) -> AccountOut:
    """Erase an account on the person's request (its municipality's admins): no address, no
    password, no roles, no login goes on; booking and documents erase their part apart."""
    account = await service.erase_in_tenant(ags, account_id, admin, Actor(admin.subject, ip))
    return AccountOut.of(account)


@router.post(
    "/accounts/me/erasure",
    status_code=204,
    responses=problem_responses(*AUTH_PROBLEMS, AccountNotFound, PasswordMismatch),
)
async def erase_my_account(
    body: ErasureConfirmation,
    principal: CurrentPrincipal,
    service: AccountServiceDep,
    ip: ClientIpDep,
) -> None:
    """Erase one's own account, confirmed with its password; the token stops working for
    refreshing at once and runs out within minutes."""
    await service.erase_me(principal, body.password, Actor(principal.subject, ip))
