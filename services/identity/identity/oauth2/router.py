"""The OAuth2 token endpoint (RFC 6749): authorization_code (with PKCE), password,
refresh_token and client_credentials grants, and the second step of a password login of staff
with a second factor (``MFA_OTP_GRANT``); the OpenID Connect userinfo endpoint."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Annotated, Any
from urllib.parse import unquote_plus

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import JSONResponse
from pydantic import WithJsonSchema

from identity.accounts.dependencies import AccountServiceDep
from identity.accounts.errors import AccountNotFound
from identity.audit.dependencies import AuditDep, ClientIpDep
from identity.audit.service import Actor, AuditAction
from identity.clients.dependencies import ClientServiceDep
from identity.clients.models import OAuthClient
from identity.clients.service import ClientService
from identity.login.dependencies import LoginServiceDep
from identity.login.errors import EmailNotVerified
from identity.login.router import NO_STORE
from identity.mfa.dependencies import SecondFactorDep
from identity.mfa.errors import InvalidMfaChallenge, InvalidMfaCode, MfaEnrolmentRequired
from identity.mfa.policy import AMR_PASSWORD, MFA_OTP_GRANT
from identity.oauth2.dependencies import AuthorizationServiceDep
from identity.oauth2.errors import OAUTH2_ERROR_RESPONSES, OAuth2Failure
from identity.oauth2.schemas import OAuth2Token, RevokedOut, UserInfo
from identity.tenants.schemas import AGS_PATTERN
from identity.tokens.dependencies import TokenServiceDep
from identity.tokens.errors import InvalidCredentials, InvalidRefreshToken
from identity.tokens.service import IssuedTokens
from servicekit.auth import CurrentPrincipal, InsufficientScope, InvalidToken
from servicekit.problems import problem_responses

router = APIRouter(prefix="/identity/v1/oauth2", tags=["oauth2"])

FormText = Annotated[str | None, Form(max_length=2048)]

GRANT_TYPES = (
    "authorization_code",
    "refresh_token",
    "client_credentials",
    "password",
    MFA_OTP_GRANT,
)
"""The grants of the token endpoint (discovery's ``grant_types_supported``)."""


def _form_requires(*fields: str, example: dict[str, str] | None = None) -> dict[str, Any]:
    """The form's required fields, said in the contract. The endpoint checks them itself, so
    that a missing one is answered as RFC 6749 section 5.2 says (400 ``invalid_request``), not
    as a 422 problem."""
    form: dict[str, Any] = {"schema": {"required": list(fields)}}
    if example is not None:
        form["example"] = example
    return {
        "requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": form}}
    }


def _answer(issued: IssuedTokens, id_token: str | None = None) -> JSONResponse:
    token = OAuth2Token(
        access_token=issued.access_token,
        expires_in=issued.expires_in,
        refresh_token=issued.refresh_token,
        scope=issued.scope or None,
        id_token=id_token,
    )
    return JSONResponse(token.model_dump(exclude_none=True), headers=NO_STORE)


def _client_credentials(
    request: Request, client_id: str | None, client_secret: str | None
) -> tuple[str, str]:
    """client_secret_basic or client_secret_post (RFC 6749 section 2.3.1), not both."""
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic" or client_secret is not None:
            raise OAuth2Failure(
                "invalid_client", "Use one client authentication method.", status=401
            )
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise OAuth2Failure(
                "invalid_client", "Malformed Basic credentials.", status=401
            ) from None
        user, sep, password = decoded.partition(":")
        if not sep:
            raise OAuth2Failure("invalid_client", "Malformed Basic credentials.", status=401)
        return unquote_plus(user), unquote_plus(password)
    if client_id and client_secret:
        return client_id, client_secret
    raise OAuth2Failure("invalid_client", "Client authentication is required.", status=401)


async def _oauth_client(
    request: Request,
    clients: ClientService,
    client_id: str | None,
    client_secret: str | None,
) -> OAuthClient:
    """The client redeeming a code or refreshing its tokens: a confidential one authenticates
    (basic or post), a public one only names itself (``none``; PKCE, then rotation, prove
    it)."""
    if request.headers.get("authorization") is not None or client_secret is not None:
        presented_id, presented_secret = _client_credentials(request, client_id, client_secret)
        client = await clients.authenticate(presented_id, presented_secret)
        if client is None or (client_id is not None and client_id != client.client_id):
            raise OAuth2Failure("invalid_client", "Client authentication failed.", status=401)
        return client
    if not client_id:
        raise OAuth2Failure("invalid_client", "Client authentication is required.", status=401)
    public = await clients.get(client_id)
    if public is None or not public.public or public.disabled_at is not None:
        raise OAuth2Failure("invalid_client", "Client authentication failed.", status=401)
    return public


@router.post(
    "/token",
    response_model=OAuth2Token,
    responses=OAUTH2_ERROR_RESPONSES,
    openapi_extra=_form_requires(
        "grant_type",
        # A partner authority's client (client_secret_post; client_secret_basic works too).
        example={
            "grant_type": "client_credentials",
            "client_id": "partner-nachbarstadt",
            "client_secret": "s3cr3t-from-the-administrator",
            "scope": "booking:search",
        },
    ),
)
async def token(
    request: Request,
    login: LoginServiceDep,
    second_factor: SecondFactorDep,
    tokens: TokenServiceDep,
    clients: ClientServiceDep,
    authorization: AuthorizationServiceDep,
    audit: AuditDep,
    ip: ClientIpDep,
    grant_type: Annotated[
        str | None,
        Form(max_length=2048),
        # Any other is answered unsupported_grant_type (400), as RFC 6749 says.
        WithJsonSchema({"type": "string", "enum": list(GRANT_TYPES)}),
    ] = None,
    username: FormText = None,
    password: FormText = None,
    tenant: Annotated[
        str | None, Form(description="AGS of the municipality (password grant)")
    ] = None,
    refresh_token: FormText = None,
    scope: FormText = None,
    client_id: FormText = None,
    client_secret: FormText = None,
    mfa_token: Annotated[
        str | None, Form(max_length=1024, description="The second step of a password login")
    ] = None,
    otp: Annotated[
        str | None, Form(max_length=32, description="Authenticator code or recovery code")
    ] = None,
    code: Annotated[
        str | None, Form(max_length=256, description="authorization_code grant")
    ] = None,
    redirect_uri: Annotated[
        str | None, Form(max_length=2048, description="authorization_code grant")
    ] = None,
    code_verifier: Annotated[
        str | None, Form(max_length=128, description="authorization_code grant (PKCE)")
    ] = None,
) -> JSONResponse:
    """OAuth2 token endpoint (form-encoded; errors as RFC 6749 section 5.2)."""
    actor = Actor(None, ip)
    try:
        if grant_type is None:
            raise OAuth2Failure("invalid_request", "grant_type is required.")
        if grant_type == "authorization_code":
            if not code or not redirect_uri or not code_verifier:
                raise OAuth2Failure(
                    "invalid_request", "code, redirect_uri and code_verifier are needed."
                )
            redeeming = await _oauth_client(request, clients, client_id, client_secret)
            redeemed = await authorization.redeem(
                redeeming,
                code=code,
                redirect_uri=redirect_uri,
                code_verifier=code_verifier,
                actor=actor,
            )
            return _answer(redeemed.tokens, redeemed.id_token)
        if grant_type == "password":
            if not username or not password or not tenant:
                raise OAuth2Failure("invalid_request", "username, password and tenant needed.")
            if not _is_ags(tenant):
                raise OAuth2Failure("invalid_request", "tenant must be an AGS (8 digits).")
            try:
                account = await login.authenticate(tenant, username, password, actor)
            except InvalidCredentials:
                raise OAuth2Failure("invalid_grant", "Wrong username or password.") from None
            except EmailNotVerified:
                raise OAuth2Failure(
                    "invalid_grant", "The e-mail address is not confirmed yet."
                ) from None
            challenge = await second_factor.after_password(account)
            if challenge is not None:
                raise OAuth2Failure(
                    "invalid_grant",
                    "A second factor completes the login (grant_type " + MFA_OTP_GRANT + ").",
                    mfa_token=challenge.token,
                    mfa_enrolment_required=challenge.enrolment_required,
                )
            return _answer(await tokens.for_account(account, amr=AMR_PASSWORD))
        if grant_type == MFA_OTP_GRANT:
            if not mfa_token or not otp:
                raise OAuth2Failure("invalid_request", "mfa_token and otp are needed.")
            try:
                completed = await second_factor.verify(mfa_token, otp, actor)
            except (InvalidMfaCode, InvalidMfaChallenge, MfaEnrolmentRequired) as refused:
                raise OAuth2Failure("invalid_grant", refused.detail or refused.title) from None
            return _answer(await tokens.for_account(completed.account, amr=completed.amr))
        if grant_type == "refresh_token":
            if not refresh_token:
                raise OAuth2Failure("invalid_request", "refresh_token is required.")
            presenting = None
            if await tokens.client_of_family(refresh_token) is not None:
                # Begun with a client's code: that client refreshes it, authenticated as at
                # the code; other families take no client (the password grant names none).
                presenting = await _oauth_client(request, clients, client_id, client_secret)
            try:
                return _answer(
                    await tokens.refresh(
                        refresh_token,
                        actor,
                        client_id=presenting.client_id if presenting else None,
                    )
                )
            except InvalidRefreshToken:
                raise OAuth2Failure("invalid_grant", "The refresh token is not valid.") from None
        if grant_type == "client_credentials":
            presented_id, presented_secret = _client_credentials(request, client_id, client_secret)
            client = await clients.authenticate(presented_id, presented_secret)
            if client is None:
                await audit.record(
                    AuditAction.CLIENT_TOKEN,
                    outcome="failure",
                    actor=actor,
                    subject=presented_id[:100],
                )
                raise OAuth2Failure("invalid_client", "Client authentication failed.", status=401)
            requested = frozenset(scope.split()) if scope else client.scope_set
            if not requested <= client.scope_set:
                raise OAuth2Failure("invalid_scope", "A requested scope is not granted to you.")
            await audit.record(
                AuditAction.CLIENT_TOKEN,
                actor=Actor(client.client_id, ip),
                tenant=client.tenant_ags,
                subject=client.client_id,
            )
            return _answer(await tokens.for_client(client, requested))
        raise OAuth2Failure(
            "unsupported_grant_type", f"Grant type {grant_type!r} is not supported."
        )
    except OAuth2Failure as failure:
        # Returned, not raised: failed attempts and revoked families must be committed.
        return failure.response()


def _is_ags(value: str) -> bool:
    return re.fullmatch(AGS_PATTERN, value) is not None


@router.post(
    "/revoke",
    status_code=200,
    response_model=RevokedOut,
    responses=OAUTH2_ERROR_RESPONSES,
    openapi_extra=_form_requires("token"),
)
async def revoke(
    tokens: TokenServiceDep,
    ip: ClientIpDep,
    token: FormText = None,
    token_type_hint: FormText = None,
) -> JSONResponse:
    """RFC 7009 revocation of a refresh token (and its family); unknown tokens are ignored."""
    if not token:
        return OAuth2Failure("invalid_request", "token is required.").response()
    await tokens.revoke(token, Actor(None, ip))
    return JSONResponse({}, headers=NO_STORE)


USERINFO_PROBLEMS = (InvalidToken, InsufficientScope, AccountNotFound)


@router.get("/userinfo", response_model=UserInfo, responses=problem_responses(*USERINFO_PROBLEMS))
async def userinfo(
    principal: CurrentPrincipal, accounts: AccountServiceDep, response: Response
) -> UserInfo:
    """OpenID Connect userinfo of the signed-in person (an access token with ``openid``)."""
    response.headers.update(NO_STORE)
    if not principal.has_scopes("openid"):
        raise InsufficientScope("This needs an access token with the scope openid.")
    account = await accounts.me(principal)
    return UserInfo.of(account, principal.scopes)


@router.post(
    "/userinfo",
    response_model=UserInfo,
    responses=problem_responses(*USERINFO_PROBLEMS),
    # Published with this id before ids became camelCase; a generated client names it the same.
    operation_id="userinfo_post",
)
async def userinfo_post(
    principal: CurrentPrincipal, accounts: AccountServiceDep, response: Response
) -> UserInfo:
    """The userinfo by POST, as OpenID Connect allows."""
    return await userinfo(principal, accounts, response)
