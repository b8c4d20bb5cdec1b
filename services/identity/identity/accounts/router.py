from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from identity.accounts.dependencies import AccountServiceDep
from identity.accounts.errors import (
    AccountClosedForGood,
    AccountNotFound,
    EmailChangeCodeSpent,
    EmailTaken,
    InvalidVerificationToken,
    OwnAccount,
    PasswordMismatch,
    RoleNotGrantable,
    UnknownEmailChangeCode,
    WeakPassword,
)
from identity.accounts.schemas import (
    AccountList,
    AccountOut,
    CitizenRegistration,
    EmailChangeIn,
    EmailVerification,
    ErasureConfirmation,
    InvitationAcceptance,
    PasswordChange,
    RolesIn,
    StaffAccountIn,
    StaffInvitationIn,
    StaffInvitationOut,
)
from identity.audit.dependencies import ClientIpDep
from identity.audit.service import Actor, AuditAction
from identity.login.dependencies import LoginServiceDep
from identity.login.router import answered
from identity.password_reset.dependencies import PasswordResetsDep
from identity.password_reset.errors import ResetCodeSpent, UnknownResetCode
from identity.password_reset.models import INVITATION
from identity.tenants.errors import SelfRegistrationClosed, TenantNotFound
from servicekit.auth import AUTH_PROBLEMS, CurrentPrincipal, Principal, require_roles
from servicekit.botcheck import BOTCHECK_PROBLEMS, HumanVerified
from servicekit.problems import ValidationFailed, problem_response, problem_responses
from servicekit.tenancy import AgsPath

router = APIRouter(prefix="/identity/v1", tags=["accounts"])

Admin = Annotated[Principal, require_roles("admin", "platform_admin")]


@router.post(
    "/tenants/{ags}/citizens",
    status_code=201,
    response_model=AccountOut,
    # 409 stays declared for v1's compatibility; a taken address is answered 201 (see below).
    responses=problem_responses(
        TenantNotFound,
        SelfRegistrationClosed,
        EmailTaken,
        WeakPassword,
        *BOTCHECK_PROBLEMS,
        ValidationFailed,
    ),
)
async def register_citizen(
    ags: AgsPath,
    body: CitizenRegistration,
    _human: HumanVerified,
    service: AccountServiceDep,
    ip: ClientIpDep,
) -> AccountOut:
    """Self-registration of a citizen; a verification code is mailed to the address (in the
    language of Accept-Language, else the municipality's). An address that has an account
    already is answered alike, and its owner is mailed instead. Where the municipality asks
    for it, a solved challenge of ``GET .../botcheck`` in ``X-Altcha``."""
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


@router.post(
    "/tenants/{ags}/invitations",
    status_code=201,
    response_model=StaffInvitationOut,
    responses=problem_responses(
        *AUTH_PROBLEMS, TenantNotFound, EmailTaken, RoleNotGrantable, ValidationFailed
    ),
)
async def invite_staff(
    ags: AgsPath,
    body: StaffInvitationIn,
    admin: Admin,
    service: AccountServiceDep,
    ip: ClientIpDep,
) -> StaffInvitationOut:
    """Invite a clerk or admin of the municipality (its admins): a single-use, short-lived
    code that sets the first password is mailed to the address; the second factor is set up
    at the first login. Inviting again a staff address that was never confirmed mails a new
    code."""
    invitation = await service.invite_staff(
        ags, body.email, body.roles, admin, Actor(admin.subject, ip)
    )
    return StaffInvitationOut(
        account=AccountOut.of(invitation.account), expires_at=invitation.expires_at
    )


@router.post(
    "/accounts/invitations/acceptance",
    status_code=204,
    response_class=Response,
    responses=problem_responses(UnknownResetCode, ResetCodeSpent, WeakPassword, ValidationFailed),
)
async def accept_invitation(
    body: InvitationAcceptance, request: Request, resets: PasswordResetsDep, ip: ClientIpDep
) -> Response:
    """Set the first password with the mailed invitation code, which also confirms the
    address. A code works once: used or expired it is 410 reset-code-spent (unknown 404)."""
    try:
        await resets.confirm(body.token, body.password, Actor(None, ip), purpose=INVITATION)
    except ResetCodeSpent as problem:
        # Returned, not raised: the audit of the attempt must be committed.
        return problem_response(problem.body(request), problem.status, problem.headers)
    return Response(status_code=204)


@router.post(
    "/tenants/{ags}/accounts/{account_id}/disable",
    response_model=AccountOut,
    responses=problem_responses(*AUTH_PROBLEMS, TenantNotFound, AccountNotFound, OwnAccount),
)
async def disable_account(
    ags: AgsPath,
    account_id: Annotated[str, Path(max_length=36)],
    admin: Admin,
    service: AccountServiceDep,
    ip: ClientIpDep,
) -> AccountOut:
    """Close an account of the municipality (its admins; not one's own): its logins,
    refreshes, password resets and provider sign-ins end at once, access tokens already
    issued run out within minutes. Audited."""
    account = await service.disable(ags, account_id, admin, Actor(admin.subject, ip))
    return AccountOut.of(account)


@router.post(
    "/tenants/{ags}/accounts/{account_id}/enable",
    response_model=AccountOut,
    responses=problem_responses(
        *AUTH_PROBLEMS, TenantNotFound, AccountNotFound, AccountClosedForGood
    ),
)
async def enable_account(
    ags: AgsPath,
    account_id: Annotated[str, Path(max_length=36)],
    admin: Admin,
    service: AccountServiceDep,
    ip: ClientIpDep,
) -> AccountOut:
    """Open a disabled account again (its municipality's admins); an erased one stays closed
    (409). Audited."""
    account = await service.enable(ags, account_id, admin, Actor(admin.subject, ip))
    return AccountOut.of(account)


@router.post(
    "/accounts/me/password",
    status_code=204,
    response_class=Response,
    responses=problem_responses(
        *AUTH_PROBLEMS, AccountNotFound, PasswordMismatch, WeakPassword, ValidationFailed
    ),
)
async def change_password(
    body: PasswordChange,
    request: Request,
    principal: CurrentPrincipal,
    service: AccountServiceDep,
    login: LoginServiceDep,
    ip: ClientIpDep,
) -> Response:
    """Change one's password, confirmed with the current one (wrong ones count like failed
    logins): every refresh token of the account ends, and a notice is mailed."""
    account = await service.me_open(principal)
    actor = Actor(principal.subject, ip)
    try:
        await login.reauthenticate(
            account, body.current_password, actor, AuditAction.PASSWORD_CHANGE
        )
    except PasswordMismatch as problem:
        return answered(problem, request)
    await service.change_password(account, body.new_password, actor)
    return Response(status_code=204)


@router.post(
    "/accounts/me/email",
    status_code=202,
    response_class=Response,
    responses=problem_responses(
        *AUTH_PROBLEMS, AccountNotFound, PasswordMismatch, ValidationFailed
    ),
)
async def change_email(
    body: EmailChangeIn,
    request: Request,
    principal: CurrentPrincipal,
    service: AccountServiceDep,
    login: LoginServiceDep,
    ip: ClientIpDep,
) -> Response:
    """Ask for a new address, confirmed with the current password: a single-use code is
    mailed to the new address (in the language of Accept-Language, else the
    municipality's); the account keeps its address until the code comes back."""
    account = await service.me_open(principal)
    actor = Actor(principal.subject, ip)
    try:
        await login.reauthenticate(
            account, body.password, actor, AuditAction.EMAIL_CHANGE_REQUESTED
        )
    except PasswordMismatch as problem:
        return answered(problem, request)
    await service.request_email_change(account, body.email, actor)
    return Response(status_code=202)


@router.post(
    "/accounts/email-change/confirm",
    status_code=204,
    response_class=Response,
    responses=problem_responses(
        UnknownEmailChangeCode, EmailChangeCodeSpent, EmailTaken, ValidationFailed
    ),
)
async def confirm_email_change(
    body: EmailVerification, request: Request, service: AccountServiceDep, ip: ClientIpDep
) -> Response:
    """Confirm the new address with the code mailed to it: the account uses it from now on
    (confirmed), and a notice goes to the old one. A code works once: used or expired it is
    410 (unknown 404); 409 when another account took the address meanwhile."""
    try:
        await service.confirm_email_change(body.token, Actor(None, ip))
    except EmailChangeCodeSpent as problem:
        return problem_response(problem.body(request), problem.status, problem.headers)
    return Response(status_code=204)


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
