"""JSON login for first-party frontends: login, refresh (rotating), logout."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from identity.accounts.repository import AccountRepository
from identity.accounts.router import passwords_of
from identity.audit.service import Actor
from identity.clock import ClockDep
from identity.db import SessionDep
from identity.dependencies import AuditDep, ClientIpDep, KeyServiceDep, SettingsDep
from identity.login.external import ExternalSignIn, InvalidExternalToken
from identity.login.repository import ExternalIdentityRepository, ThrottleRepository
from identity.login.schemas import ExternalLoginIn, LoginIn, RefreshIn, TokenOut
from identity.login.service import LoginService
from identity.tenants.repository import TenantRepository
from identity.tenants.service import TenantService
from identity.tokens.errors import InvalidCredentials, InvalidRefreshToken
from identity.tokens.repository import RefreshTokenRepository
from identity.tokens.service import IssuedTokens, TokenService
from servicekit.problems import Problem, ValidationFailed, problem_response, problem_responses

router = APIRouter(prefix="/identity/v1/auth", tags=["login"])

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


async def _login(
    request: Request,
    session: SessionDep,
    audit: AuditDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> LoginService:
    return LoginService(
        AccountRepository(session),
        ThrottleRepository(session),
        passwords_of(request),
        audit,
        clock,
        settings,
    )


async def _tokens(
    session: SessionDep,
    keys: KeyServiceDep,
    audit: AuditDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> TokenService:
    return TokenService(
        RefreshTokenRepository(session), AccountRepository(session), keys, audit, clock, settings
    )


LoginServiceDep = Annotated[LoginService, Depends(_login)]
TokenServiceDep = Annotated[TokenService, Depends(_tokens)]


def answered(problem: Problem, request: Request) -> JSONResponse:
    # Returned, not raised: the failed attempt, the lock or the revoked family must be committed.
    return problem_response(problem.body(request), problem.status, {**problem.headers, **NO_STORE})


def token_out(issued: IssuedTokens, response: Response) -> TokenOut:
    response.headers.update(NO_STORE)
    return TokenOut(
        access_token=issued.access_token,
        expires_in=issued.expires_in,
        refresh_token=issued.refresh_token,
        scope=issued.scope,
    )


@router.post(
    "/login",
    response_model=TokenOut,
    responses=problem_responses(InvalidCredentials, ValidationFailed),
)
async def login(
    body: LoginIn,
    request: Request,
    response: Response,
    login: LoginServiceDep,
    tokens: TokenServiceDep,
    ip: ClientIpDep,
) -> TokenOut | JSONResponse:
    """Log in with email and password; a locked account gets the wrong-password answer."""
    try:
        account = await login.authenticate(body.tenant, body.email, body.password, Actor(None, ip))
    except InvalidCredentials as problem:
        return answered(problem, request)
    return token_out(await tokens.for_account(account), response)


@router.post(
    "/external",
    response_model=TokenOut,
    responses=problem_responses(InvalidExternalToken, ValidationFailed),
)
async def external_login(
    body: ExternalLoginIn,
    request: Request,
    response: Response,
    session: SessionDep,
    audit: AuditDep,
    tokens: TokenServiceDep,
    ip: ClientIpDep,
) -> TokenOut:
    """Sign in with the ID token of a trusted identity provider (e.g. BundID): our tokens for
    the person's account in the municipality (made on the first sign-in), with the provider's
    level of assurance as ``acr``."""
    sign_in = ExternalSignIn(
        AccountRepository(session),
        ExternalIdentityRepository(session),
        request.app.state.external_providers,
        TenantService(TenantRepository(session)),
        passwords_of(request),
        audit,
    )
    account, level = await sign_in.sign_in(
        body.tenant, body.provider, body.id_token, Actor(None, ip)
    )
    return token_out(await tokens.for_account(account, acr=level), response)


@router.post(
    "/refresh",
    response_model=TokenOut,
    responses=problem_responses(InvalidRefreshToken, ValidationFailed),
)
async def refresh(
    body: RefreshIn,
    request: Request,
    response: Response,
    tokens: TokenServiceDep,
    ip: ClientIpDep,
) -> TokenOut | JSONResponse:
    """Swap a refresh token for new tokens; presenting a used one revokes its whole family."""
    try:
        issued = await tokens.refresh(body.refresh_token, Actor(None, ip))
    except InvalidRefreshToken as problem:
        return answered(problem, request)
    return token_out(issued, response)


@router.post("/logout", status_code=204, responses=problem_responses(ValidationFailed))
async def logout(body: RefreshIn, tokens: TokenServiceDep, ip: ClientIpDep) -> None:
    """End the session: the refresh token and every token of its family stop working."""
    await tokens.revoke(body.refresh_token, Actor(None, ip))
