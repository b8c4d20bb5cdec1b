"""Staff's second factor: the code step of a login, enrolment, and an administrator's reset."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import JSONResponse

from identity.accounts.errors import AccountNotFound
from identity.audit.dependencies import ClientIpDep
from identity.audit.service import Actor
from identity.login.router import NO_STORE, answered, token_out
from identity.login.schemas import TokenOut
from identity.mfa.dependencies import SecondFactorDep
from identity.mfa.errors import (
    InvalidMfaChallenge,
    InvalidMfaCode,
    MfaAlreadyEnrolled,
    MfaEnrolmentRequired,
    MfaNotEnrolling,
    MfaNotForRole,
    NoPendingEnrolment,
)
from identity.mfa.schemas import (
    EnrolledTokenOut,
    EnrolmentCodeIn,
    EnrolmentOut,
    MfaCodeIn,
    MfaStatusOut,
    MfaTokenIn,
    RecoveryCodesOut,
)
from identity.tenants.errors import TenantNotFound
from identity.tokens.dependencies import TokenServiceDep
from servicekit.auth import AUTH_PROBLEMS, CurrentPrincipal, Principal, require_roles
from servicekit.problems import ValidationFailed, problem_responses
from servicekit.tenancy import AgsPath

router = APIRouter(prefix="/identity/v1", tags=["mfa"])

Admin = Annotated[Principal, require_roles("admin", "platform_admin")]


@router.post(
    "/auth/mfa/verify",
    response_model=TokenOut,
    responses=problem_responses(
        InvalidMfaCode, InvalidMfaChallenge, MfaEnrolmentRequired, ValidationFailed
    ),
)
async def verify_code(
    body: MfaCodeIn,
    request: Request,
    response: Response,
    second_factor: SecondFactorDep,
    tokens: TokenServiceDep,
    ip: ClientIpDep,
) -> TokenOut | JSONResponse:
    """Complete a login with a code of the authenticator app or a recovery code; a code
    works once, and wrong codes lock the step like wrong passwords."""
    try:
        completed = await second_factor.verify(body.mfa_token, body.code, Actor(None, ip))
    except InvalidMfaCode as problem:
        return answered(problem, request)
    issued = await tokens.for_account(completed.account, amr=completed.amr)
    return token_out(issued, response)


@router.post(
    "/auth/mfa/enrolment",
    status_code=201,
    response_model=EnrolmentOut,
    responses=problem_responses(
        InvalidMfaChallenge, MfaNotEnrolling, MfaNotForRole, MfaAlreadyEnrolled, ValidationFailed
    ),
)
async def begin_enrolment_at_login(
    body: MfaTokenIn, response: Response, second_factor: SecondFactorDep
) -> EnrolmentOut:
    """Staff who must have a second factor and have none: a secret and its QR code, for the
    login step that asked for it."""
    response.headers.update(NO_STORE)
    return EnrolmentOut.of(await second_factor.begin_enrolment_at_login(body.mfa_token))


@router.post(
    "/auth/mfa/enrolment/confirm",
    response_model=EnrolledTokenOut,
    responses=problem_responses(
        InvalidMfaCode, InvalidMfaChallenge, MfaNotEnrolling, NoPendingEnrolment, ValidationFailed
    ),
)
async def confirm_enrolment_at_login(
    body: MfaCodeIn,
    request: Request,
    response: Response,
    second_factor: SecondFactorDep,
    tokens: TokenServiceDep,
    ip: ClientIpDep,
) -> EnrolledTokenOut | JSONResponse:
    """Confirm the enrolment with a first code: the login completes, with the recovery codes
    (shown this once)."""
    try:
        completed = await second_factor.confirm_enrolment_at_login(
            body.mfa_token, body.code, Actor(None, ip)
        )
    except InvalidMfaCode as problem:
        return answered(problem, request)
    issued = token_out(await tokens.for_account(completed.account, amr=completed.amr), response)
    return EnrolledTokenOut(**issued.model_dump(), recovery_codes=list(completed.recovery_codes))


@router.get(
    "/accounts/me/mfa",
    response_model=MfaStatusOut,
    responses=problem_responses(*AUTH_PROBLEMS, AccountNotFound),
)
async def my_second_factor(
    principal: CurrentPrincipal, second_factor: SecondFactorDep
) -> MfaStatusOut:
    """Whether the caller has a second factor, needs one, and how many recovery codes are left."""
    account = await second_factor.account_of(principal)
    return MfaStatusOut.of(await second_factor.status(account))


@router.post(
    "/accounts/me/mfa/enrolment",
    status_code=201,
    response_model=EnrolmentOut,
    responses=problem_responses(*AUTH_PROBLEMS, AccountNotFound, MfaNotForRole, MfaAlreadyEnrolled),
)
async def begin_enrolment(
    principal: CurrentPrincipal, response: Response, second_factor: SecondFactorDep
) -> EnrolmentOut:
    """A logged-in clerk or admin sets up an authenticator app: a secret and its QR code."""
    response.headers.update(NO_STORE)
    account = await second_factor.account_of(principal)
    return EnrolmentOut.of(await second_factor.begin_enrolment(account))


@router.post(
    "/accounts/me/mfa/enrolment/confirm",
    response_model=RecoveryCodesOut,
    responses=problem_responses(
        *AUTH_PROBLEMS, AccountNotFound, InvalidMfaCode, NoPendingEnrolment, ValidationFailed
    ),
)
async def confirm_enrolment(
    body: EnrolmentCodeIn,
    request: Request,
    response: Response,
    principal: CurrentPrincipal,
    second_factor: SecondFactorDep,
    ip: ClientIpDep,
) -> RecoveryCodesOut | JSONResponse:
    """Confirm the enrolment with a first code: from the next login on the code is asked
    for; the recovery codes are shown this once."""
    account = await second_factor.account_of(principal)
    try:
        codes = await second_factor.confirm_enrolment(
            account, body.code, Actor(principal.subject, ip)
        )
    except InvalidMfaCode as problem:
        return answered(problem, request)
    response.headers.update(NO_STORE)
    return RecoveryCodesOut(recovery_codes=codes)


@router.delete(
    "/tenants/{ags}/accounts/{account_id}/mfa",
    status_code=204,
    responses=problem_responses(*AUTH_PROBLEMS, TenantNotFound, AccountNotFound),
)
async def reset_second_factor(
    ags: AgsPath,
    account_id: Annotated[str, Path(max_length=36)],
    admin: Admin,
    second_factor: SecondFactorDep,
    ip: ClientIpDep,
) -> None:
    """Remove an account's second factor (its municipality's admins; a lost device): its
    sessions end and it enrols again. Audited."""
    await second_factor.reset(ags, account_id, admin, Actor(admin.subject, ip))
