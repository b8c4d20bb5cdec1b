"""JSON login for first-party frontends: login, refresh (rotating), logout."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from identity.audit.dependencies import ClientIpDep
from identity.audit.service import Actor
from identity.login.dependencies import ExternalSignInDep, LoginServiceDep
from identity.login.errors import EmailNotVerified
from identity.login.external import InvalidExternalToken
from identity.login.schemas import ExternalLoginIn, LoginIn, RefreshIn, TokenOut
from identity.mfa.dependencies import SecondFactorDep
from identity.mfa.policy import AMR_PASSWORD
from identity.mfa.schemas import MfaChallengeOut
from identity.tokens.dependencies import TokenServiceDep
from identity.tokens.errors import InvalidCredentials, InvalidRefreshToken
from identity.tokens.service import IssuedTokens
from servicekit.problems import Problem, ValidationFailed, problem_response, problem_responses

router = APIRouter(prefix="/identity/v1/auth", tags=["login"])

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


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
    responses={
        202: {"model": MfaChallengeOut, "description": "The password was right: a second step"},
        **problem_responses(InvalidCredentials, EmailNotVerified, ValidationFailed),
    },
)
async def login(
    body: LoginIn,
    request: Request,
    response: Response,
    login: LoginServiceDep,
    second_factor: SecondFactorDep,
    tokens: TokenServiceDep,
    ip: ClientIpDep,
) -> TokenOut | JSONResponse:
    """Log in with email and password; a locked account gets the wrong-password answer, and
    where the municipality requires it, an unconfirmed address 403 email-not-verified (only
    with the right password). Staff with a second factor (or who must have one) get 202 and
    an ``mfa_token`` for the second step instead of tokens."""
    try:
        account = await login.authenticate(body.tenant, body.email, body.password, Actor(None, ip))
    except (InvalidCredentials, EmailNotVerified) as problem:
        return answered(problem, request)
    challenge = await second_factor.after_password(account)
    if challenge is not None:
        out = MfaChallengeOut.of(challenge)
        return JSONResponse(out.model_dump(), status_code=202, headers=NO_STORE)
    return token_out(await tokens.for_account(account, amr=AMR_PASSWORD), response)


@router.post(
    "/external",
    response_model=TokenOut,
    responses=problem_responses(InvalidExternalToken, ValidationFailed),
)
async def external_login(
    body: ExternalLoginIn,
    response: Response,
    sign_in: ExternalSignInDep,
    tokens: TokenServiceDep,
    ip: ClientIpDep,
) -> TokenOut:
    """Sign in with the ID token of a trusted identity provider (e.g. BundID): our tokens for
    the person's account in the municipality (made on the first sign-in), with the provider's
    level of assurance as ``acr``."""
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
