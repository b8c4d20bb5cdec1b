"""The sign-in pages of the authorization code grant: plain HTML forms, no JavaScript.

``GET /authorize`` checks the request (:mod:`identity.oauth2.service`) and serves the sign-in
form; the form's steps post back to it: the password (``/authorize/login``), for staff with
a second factor the code (``/authorize/mfa``, the same :class:`SecondFactor` as the JSON
login), and for a client that is not the municipality's own the consent
(``/authorize/consent``). Only then is a code issued and the browser sent to the client.

Identity keeps no session for this: the checked request travels in the form, sealed with the
key cipher (AES-256-GCM, bound to its step, valid for ``PAGE_TTL_S``), so a refused or
abandoned sign-in leaves nothing behind, and the address a browser is sent to comes only from
that sealed request, never from a form field or a ``next`` parameter. Each form is bound to
the browser it was served to by a cookie (its hash is in the seal): a form posted from another
site without it is refused (login CSRF). The language is German or English, by ``ui_locales``
or else ``Accept-Language``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from identity.audit.dependencies import ClientIpDep
from identity.audit.service import Actor
from identity.clients.models import OAuthClient
from identity.keys.cipher import KeyCipher, KeyDecryptionError
from identity.keys.dependencies import KeyCipherDep
from identity.login.dependencies import LoginServiceDep
from identity.login.errors import EmailNotVerified
from identity.login.router import NO_STORE, answered
from identity.mfa.dependencies import SecondFactorDep
from identity.mfa.errors import InvalidMfaChallenge, InvalidMfaCode, MfaEnrolmentRequired
from identity.mfa.policy import AMR_PASSWORD
from identity.oauth2.dependencies import AuthorizationServiceDep
from identity.oauth2.errors import (
    AuthorizationRequestRefused,
    Redirected,
    SignInForgery,
    SignInPageExpired,
)
from identity.oauth2.service import AuthorizationRequest, AuthorizationService
from identity.settings import IdentitySettings, SettingsDep
from identity.tokens.errors import InvalidCredentials
from servicekit.problems import Problem, ValidationFailed, problem_responses

router = APIRouter(prefix="/identity/v1/oauth2", tags=["oauth2"])

AUTHORIZE = "/identity/v1/oauth2/authorize"
COOKIE = "rathaus_sign_in"
PAGE_TTL_S = 900
_SIGN_IN = "oauth2-sign-in"
_CONSENT = "oauth2-consent"
_HEADERS = {
    **NO_STORE,
    "X-Frame-Options": "DENY",
    # No form-action: a browser applies it to the redirect to the client after the form.
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
}

_TEXT: dict[str, dict[str, str]] = {
    "de": {
        "service": "Rathaus: Anmeldung",
        "sign_in_title": "Anmelden",
        "login_intro": "Melden Sie sich an, um mit „%s“ fortzufahren.",
        "email": "E-Mail-Adresse",
        "password": "Passwort",
        "sign_in": "Anmelden",
        "mfa_title": "Zweiter Faktor",
        "mfa_intro": "Geben Sie den Code Ihrer Authenticator-App oder einen "
        "Wiederherstellungscode ein.",
        "otp": "Code",
        "confirm": "Bestätigen",
        "consent_title": "Zugriff erlauben",
        "consent_intro": "„%s“ möchte in Ihrem Namen auf Folgendes zugreifen:",
        "allow": "Erlauben",
        "deny": "Ablehnen",
        "refused_title": "Anmeldung nicht möglich",
        "refused_hint": "Kehren Sie zur Anwendung zurück und beginnen Sie die Anmeldung neu.",
        "invalid-credentials": "E-Mail-Adresse oder Passwort ist falsch.",
        "email-not-verified": "Bestätigen Sie zuerst Ihre E-Mail-Adresse.",
        "invalid-mfa-code": "Der Code ist nicht gültig.",
        "authorization-request-refused": "Diese Anmeldeanfrage kann nicht angenommen werden.",
        "sign-in-page-expired": "Die Anmeldeseite ist abgelaufen.",
        "sign-in-forgery": "Das Formular wurde nicht von seiner eigenen Seite gesendet.",
        "mfa-enrolment-required": "Richten Sie zuerst einen zweiten Faktor ein "
        "(in der Anwendung für Mitarbeitende).",
        "invalid-mfa-challenge": "Melden Sie sich erneut mit dem Passwort an.",
    },
    "en": {
        "service": "Rathaus: sign-in",
        "sign_in_title": "Sign in",
        "login_intro": "Sign in to continue to “%s”.",
        "email": "E-mail address",
        "password": "Password",
        "sign_in": "Sign in",
        "mfa_title": "Second factor",
        "mfa_intro": "Enter the code of your authenticator app or a recovery code.",
        "otp": "Code",
        "confirm": "Confirm",
        "consent_title": "Allow access",
        "consent_intro": "“%s” would like to access the following on your behalf:",
        "allow": "Allow",
        "deny": "Deny",
        "refused_title": "Sign-in not possible",
        "refused_hint": "Return to the application and start signing in again.",
        "invalid-credentials": "Wrong e-mail address or password.",
        "email-not-verified": "Confirm your e-mail address first.",
        "invalid-mfa-code": "The code is not valid.",
        "authorization-request-refused": "This sign-in request cannot be accepted.",
        "sign-in-page-expired": "The sign-in page has expired.",
        "sign-in-forgery": "The form was not sent from its own page.",
        "mfa-enrolment-required": "Set up a second factor first (in the staff application).",
        "invalid-mfa-challenge": "Sign in with the password again.",
    },
}
LOCALES = tuple(_TEXT)

_templates = Environment(
    loader=PackageLoader("identity", "page_templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    auto_reload=False,
)

FormText = Annotated[str, Form(max_length=4096)]
QueryText = Annotated[str | None, Query(max_length=2048)]


def choose_locale(ui_locales: str | None, accept_language: str | None) -> str:
    """German or English: the first of ``ui_locales`` we speak, else Accept-Language's
    preference, else German."""
    for tag in (ui_locales or "").split():
        language = tag.split("-")[0].lower()
        if language in LOCALES:
            return language
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        language = tag.split("-")[0].strip().lower()
        if language in LOCALES and quality > 0:
            ranked.append((-quality, index, language))
    return min(ranked)[2] if ranked else "de"


def _page(
    template: str,
    locale: str,
    *,
    status: int = 200,
    cookie: str | None = None,
    secure: bool = False,
    **context: Any,
) -> HTMLResponse:
    text = _TEXT[locale]
    if "error_slug" in context:
        context["error"] = text[context.pop("error_slug")]
    body = _templates.get_template(template).render(t=text, locale=locale, **context)
    response = HTMLResponse(body, status_code=status, headers=_HEADERS)
    if cookie is not None:
        response.set_cookie(
            COOKIE,
            cookie,
            max_age=PAGE_TTL_S,
            path=AUTHORIZE,
            httponly=True,
            samesite="lax",
            secure=secure,
        )
    return response


def _refused(problem: Problem, request: Request, locale: str) -> Response:
    """A refusal that is not sent to the client: a page for a browser, else problem+json."""
    if "text/html" not in request.headers.get("accept", ""):
        return answered(problem, request)
    return _page(
        "refused.html",
        locale,
        status=problem.status,
        title=_TEXT[locale]["refused_title"],
        detail=_TEXT[locale][problem.type_slug],
    )


def _to_client(
    redirect_uri: str, params: Mapping[str, str | None], issuer: str
) -> RedirectResponse:
    """303 to the client's registered redirect URI, with RFC 9207's ``iss``."""
    query = urlencode({**{k: v for k, v in params.items() if v is not None}, "iss": issuer})
    separator = "&" if "?" in redirect_uri else "?"
    return RedirectResponse(redirect_uri + separator + query, status_code=303, headers=_HEADERS)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class _Sealed:
    """The checked request in the form: sealed, bound to its step and to the browser."""

    def __init__(self, cipher: KeyCipher) -> None:
        self.cipher = cipher

    def seal(
        self, step: str, request: AuthorizationRequest, locale: str, browser: str, **extra: Any
    ) -> str:
        return self.cipher.encrypt(
            {
                "client_id": request.client_id,
                "redirect_uri": request.redirect_uri,
                "scopes": sorted(request.scopes),
                "state": request.state,
                "code_challenge": request.code_challenge,
                "nonce": request.nonce,
                "locale": locale,
                "browser": _digest(browser),
                "expires": int(time.time()) + PAGE_TTL_S,
                **extra,
            },
            kid=step,
        )

    def open(
        self, step: str, sealed: str, browser: str | None
    ) -> tuple[AuthorizationRequest, str, dict[str, Any]]:
        try:
            value = self.cipher.decrypt(sealed, kid=step)
        except (KeyDecryptionError, ValueError, TypeError):
            raise SignInPageExpired("Start signing in again from the application.") from None
        if not isinstance(value.get("expires"), int) or value["expires"] < time.time():
            raise SignInPageExpired("Start signing in again from the application.")
        if browser is None or not hmac.compare_digest(_digest(browser), str(value["browser"])):
            raise SignInForgery("Sign in from the page the application sent you to.")
        request = AuthorizationRequest(
            client_id=value["client_id"],
            redirect_uri=value["redirect_uri"],
            scopes=frozenset(value["scopes"]),
            state=value["state"],
            code_challenge=value["code_challenge"],
            nonce=value["nonce"],
        )
        return request, str(value["locale"]), value


def _locale_of(request: Request) -> str:
    return choose_locale(None, request.headers.get("accept-language"))


async def _client_of(service: AuthorizationService, checked: AuthorizationRequest) -> OAuthClient:
    # Checked again at each step: a client disabled meanwhile gets no code.
    return await service.client_for(checked.client_id, checked.redirect_uri)


@router.get(
    "/authorize",
    response_class=HTMLResponse,
    responses={
        200: {"content": {"text/html": {}}, "description": "The sign-in page"},
        303: {
            "description": "An error of a request with a registered client and redirect URI, "
            "sent there (RFC 6749 section 4.1.2.1: error, error_description, state, iss)"
        },
        **problem_responses(AuthorizationRequestRefused, ValidationFailed),
    },
)
async def authorize(
    request: Request,
    service: AuthorizationServiceDep,
    cipher: KeyCipherDep,
    settings: SettingsDep,
    response_type: QueryText = None,
    client_id: QueryText = None,
    redirect_uri: QueryText = None,
    scope: QueryText = None,
    state: QueryText = None,
    code_challenge: QueryText = None,
    code_challenge_method: QueryText = None,
    nonce: QueryText = None,
    prompt: QueryText = None,
    ui_locales: QueryText = None,
) -> Response:
    """Authorization endpoint (RFC 6749 with PKCE, S256 only): the sign-in page; an
    unregistered client or redirect URI is refused here (a page, or problem+json), every
    other error is sent to the client's redirect URI."""
    locale = choose_locale(ui_locales, request.headers.get("accept-language"))
    try:
        client = await service.client_for(client_id, redirect_uri)
    except AuthorizationRequestRefused as problem:
        return _refused(problem, request, locale)
    assert redirect_uri is not None
    try:
        checked = service.check(
            client,
            response_type=response_type,
            scope=scope,
            state=state,
            code_challenge=code_challenge,
            code_challenge_method=code_challenge_method,
            nonce=nonce,
            prompt=prompt,
            redirect_uri=redirect_uri,
        )
    except Redirected as error:
        return _to_client(
            redirect_uri,
            {"error": error.error, "error_description": error.description, "state": state},
            settings.auth_issuer,
        )
    browser = request.cookies.get(COOKIE) or secrets.token_urlsafe(32)
    return _page(
        "login.html",
        locale,
        cookie=browser,
        secure=settings.auth_issuer.startswith("https://"),
        title=_TEXT[locale]["sign_in_title"],
        client_name=client.name,
        action=f"{AUTHORIZE}/login",
        sealed=_Sealed(cipher).seal(_SIGN_IN, checked, locale, browser),
        email="",
    )


@router.post("/authorize/login", response_class=HTMLResponse, include_in_schema=False)
async def authorize_login(
    request: Request,
    service: AuthorizationServiceDep,
    login: LoginServiceDep,
    second_factor: SecondFactorDep,
    cipher: KeyCipherDep,
    settings: SettingsDep,
    ip: ClientIpDep,
    sealed: Annotated[str, Form(alias="request", max_length=4096)],
    email: Annotated[str, Form(max_length=254)],
    password: Annotated[str, Form(max_length=1024)],
) -> Response:
    """The password step of the sign-in page."""
    seals = _Sealed(cipher)
    browser = request.cookies.get(COOKIE)
    try:
        checked, locale, _ = seals.open(_SIGN_IN, sealed, browser)
        client = await _client_of(service, checked)
    except (SignInPageExpired, SignInForgery, AuthorizationRequestRefused) as problem:
        return _refused(problem, request, _locale_of(request))
    assert browser is not None
    actor = Actor(None, ip)
    try:
        account = await login.authenticate(client.tenant_ags, email, password, actor)
    except (InvalidCredentials, EmailNotVerified) as problem:
        # Returned, not raised: the counted failure must be committed.
        return _page(
            "login.html",
            locale,
            status=problem.status,
            title=_TEXT[locale]["sign_in_title"],
            error_slug=problem.type_slug,
            client_name=client.name,
            action=f"{AUTHORIZE}/login",
            sealed=sealed,
            email=email,
        )
    status = await second_factor.status(account)
    if status.required and not status.enrolled:
        return _refused(MfaEnrolmentRequired(), request, locale)
    challenge = await second_factor.after_password(account)
    if challenge is not None:
        return _mfa_page(locale, client, sealed, challenge.token)
    return await _signed_in(
        service, seals, client, checked, locale, browser, account.id, AMR_PASSWORD, settings, ip
    )


def _mfa_page(
    locale: str, client: OAuthClient, sealed: str, mfa_token: str, *, error: str | None = None
) -> HTMLResponse:
    context: dict[str, Any] = {"error_slug": error} if error else {}
    return _page(
        "mfa.html",
        locale,
        status=401 if error else 200,
        title=_TEXT[locale]["mfa_title"],
        action=f"{AUTHORIZE}/mfa",
        sealed=sealed,
        mfa_token=mfa_token,
        **context,
    )


@router.post("/authorize/mfa", response_class=HTMLResponse, include_in_schema=False)
async def authorize_mfa(
    request: Request,
    service: AuthorizationServiceDep,
    second_factor: SecondFactorDep,
    cipher: KeyCipherDep,
    settings: SettingsDep,
    ip: ClientIpDep,
    sealed: Annotated[str, Form(alias="request", max_length=4096)],
    mfa_token: Annotated[str, Form(max_length=1024)],
    otp: Annotated[str, Form(max_length=32)],
) -> Response:
    """The second step of the sign-in page for staff with a second factor."""
    seals = _Sealed(cipher)
    browser = request.cookies.get(COOKIE)
    try:
        checked, locale, _ = seals.open(_SIGN_IN, sealed, browser)
        client = await _client_of(service, checked)
    except (SignInPageExpired, SignInForgery, AuthorizationRequestRefused) as problem:
        return _refused(problem, request, _locale_of(request))
    assert browser is not None
    try:
        completed = await second_factor.verify(mfa_token, otp, Actor(None, ip))
    except InvalidMfaCode as problem:
        return _mfa_page(locale, client, sealed, mfa_token, error=problem.type_slug)
    except (InvalidMfaChallenge, MfaEnrolmentRequired) as problem:
        return _refused(problem, request, locale)
    if completed.account.tenant_ags != client.tenant_ags:
        return _refused(SignInPageExpired(), request, locale)
    return await _signed_in(
        service,
        seals,
        client,
        checked,
        locale,
        browser,
        completed.account.id,
        completed.amr,
        settings,
        ip,
    )


async def _signed_in(
    service: AuthorizationService,
    seals: _Sealed,
    client: OAuthClient,
    checked: AuthorizationRequest,
    locale: str,
    browser: str,
    account_id: str,
    amr: tuple[str, ...],
    settings: IdentitySettings,
    ip: str | None,
) -> Response:
    """The person is signed in: the code for the municipality's own frontend, the consent
    page for any other client."""
    if client.first_party:
        return await _issue(service, checked, account_id, amr, settings.auth_issuer, ip)
    return _page(
        "consent.html",
        locale,
        title=_TEXT[locale]["consent_title"],
        client_name=client.name,
        scopes=sorted(checked.scopes),
        action=f"{AUTHORIZE}/consent",
        sealed=seals.seal(_CONSENT, checked, locale, browser, account=account_id, amr=list(amr)),
    )


async def _issue(
    service: AuthorizationService,
    checked: AuthorizationRequest,
    account_id: str,
    amr: tuple[str, ...],
    issuer: str,
    ip: str | None,
) -> Response:
    code = await service.issue(checked, account_id, amr, Actor(account_id, ip))
    return _to_client(checked.redirect_uri, {"code": code, "state": checked.state}, issuer)


@router.post("/authorize/consent", response_class=HTMLResponse, include_in_schema=False)
async def authorize_consent(
    request: Request,
    service: AuthorizationServiceDep,
    cipher: KeyCipherDep,
    settings: SettingsDep,
    ip: ClientIpDep,
    sealed: Annotated[str, Form(alias="request", max_length=4096)],
    decision: Annotated[str, Form(max_length=8)],
) -> Response:
    """The consent step for a client that is not the municipality's own."""
    try:
        checked, _, value = _Sealed(cipher).open(_CONSENT, sealed, request.cookies.get(COOKIE))
        await _client_of(service, checked)
    except (SignInPageExpired, SignInForgery, AuthorizationRequestRefused) as problem:
        return _refused(problem, request, _locale_of(request))
    if decision != "allow":
        return _to_client(
            checked.redirect_uri,
            {
                "error": "access_denied",
                "error_description": "The person did not allow the access.",
                "state": checked.state,
            },
            settings.auth_issuer,
        )
    amr = tuple(str(method) for method in value["amr"])
    return await _issue(service, checked, str(value["account"]), amr, settings.auth_issuer, ip)
