"""The authorization code grant with PKCE: the sign-in page, the code, the token endpoint, the
ID token and userinfo; and every bad input refused the way RFC 6749 says, leaving nothing."""

from __future__ import annotations

import base64
import hashlib
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pyotp
import pytest
from fastapi import FastAPI
from jose import jwt
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from identity.oauth2.models import AuthorizationCode
from identity.tokens.models import RefreshToken
from servicekit.auth.jose_safe import verify_id_token
from servicekit.auth.keys import index_jwks
from servicekit.testing.tokens import TokenFactory

from ..factories import (
    DEFAULT_PASSWORD,
    MFA_TENANT,
    FakeClock,
    create_account,
    create_frontend_client,
    create_second_factor,
    create_tenant,
)
from ..sign_in_form import Form, pkce_pair, read_form

AUTHORIZE = "/identity/v1/oauth2/authorize"
TOKEN = "/identity/v1/oauth2/token"
USERINFO = "/identity/v1/oauth2/userinfo"
CALLBACK = "https://portal.musterstadt.example/callback"
HTML = {"Accept": "text/html"}


def _query(challenge: str, **overrides: str | None) -> dict[str, str]:
    params: dict[str, str | None] = {
        "response_type": "code",
        "client_id": "buergerportal",
        "redirect_uri": CALLBACK,
        "scope": "openid email profile",
        "state": "state-of-the-client-123",
        "nonce": "nonce-of-the-client-456",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **overrides,
    }
    return {key: value for key, value in params.items() if value is not None}


async def _page(client: httpx.AsyncClient, challenge: str, **overrides: str | None) -> Form:
    response = await client.get(AUTHORIZE, params=_query(challenge, **overrides), headers=HTML)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    return read_form(response.text)


async def _sign_in(
    client: httpx.AsyncClient,
    form: Form,
    email: str = "erika@example.org",
    password: str = DEFAULT_PASSWORD,
    **extra: str,
) -> httpx.Response:
    return await client.post(
        form.action,
        data={"request": form.fields["request"], "email": email, "password": password, **extra},
        headers=HTML,
    )


def _redirected(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.split("?")[0] == CALLBACK
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


async def _code(client: httpx.AsyncClient, challenge: str) -> str:
    answer = _redirected(await _sign_in(client, await _page(client, challenge)))
    return answer["code"]


def _redeem(code: str, verifier: str, **overrides: str) -> dict[str, str]:
    return {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": CALLBACK,
        "code_verifier": verifier,
        "client_id": "buergerportal",
        **overrides,
    }


def _assert_oauth2_error(response: httpx.Response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    assert response.json()["error"] == error


async def _count(session: AsyncSession, model: type[AuthorizationCode | RefreshToken]) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.fixture
async def portal(session: AsyncSession) -> None:
    await create_tenant(session)
    await create_account(session)
    await create_frontend_client(session)


@pytest.mark.usefixtures("portal")
async def test_a_frontend_signs_a_citizen_in_with_pkce_and_gets_an_id_token(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    verifier, challenge = pkce_pair()
    response = await client.get(AUTHORIZE, params=_query(challenge, ui_locales="en"), headers=HTML)
    assert response.status_code == 200
    assert '<html lang="en">' in response.text
    assert response.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert "<script" not in response.text
    form = read_form(response.text)
    assert form.action == f"{AUTHORIZE}/login"
    assert set(form.visible) == {"email", "password"}
    assert form.labels == {"email": "E-mail address", "password": "Password"}

    answer = _redirected(await _sign_in(client, form))
    assert answer["state"] == "state-of-the-client-123"
    assert answer["iss"] == app.state.settings.auth_issuer
    token = await client.post(TOKEN, data=_redeem(answer["code"], verifier))

    assert token.status_code == 200, token.text
    body = token.json()
    assert set(body) >= {"access_token", "refresh_token", "id_token", "expires_in"}
    assert body["scope"] == "email openid profile"
    jwks = index_jwks((await client.get("/identity/v1/jwks")).json())
    claims = verify_id_token(
        body["id_token"],
        jwks,
        issuer=app.state.settings.auth_issuer,
        audience="buergerportal",
        now=app.state.clock.now().timestamp(),
    )
    assert claims["nonce"] == "nonce-of-the-client-456"
    assert claims["amr"] == ["pwd"]
    assert claims["email"] == "erika@example.org"
    digest = hashlib.sha256(body["access_token"].encode()).digest()[:16]
    assert claims["at_hash"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    info = await client.get(USERINFO, headers={"Authorization": f"Bearer {body['access_token']}"})
    assert info.status_code == 200, info.text
    assert info.json()["sub"] == claims["sub"]
    assert info.json()["email"] == "erika@example.org"
    refreshed = await client.post(
        TOKEN,
        data={
            "grant_type": "refresh_token",
            "refresh_token": body["refresh_token"],
            "client_id": "buergerportal",
        },
    )
    assert refreshed.json()["scope"] == "email openid profile", "the family keeps its scopes"


@pytest.mark.usefixtures("portal")
async def test_the_page_speaks_german_by_default_and_by_accept_language(
    client: httpx.AsyncClient,
) -> None:
    _, challenge = pkce_pair()
    german = await client.get(AUTHORIZE, params=_query(challenge), headers=HTML)
    english = await client.get(
        AUTHORIZE, params=_query(challenge), headers={**HTML, "Accept-Language": "en-GB,de;q=0.5"}
    )

    assert '<html lang="de">' in german.text
    assert read_form(german.text).labels["password"] == "Passwort"
    assert '<html lang="en">' in english.text


@pytest.mark.usefixtures("portal")
async def test_a_replayed_code_is_invalid_grant_and_ends_the_tokens_issued_for_it(
    client: httpx.AsyncClient,
) -> None:
    verifier, challenge = pkce_pair()
    code = await _code(client, challenge)
    first = await client.post(TOKEN, data=_redeem(code, verifier))
    assert first.status_code == 200

    replay = await client.post(TOKEN, data=_redeem(code, verifier))

    _assert_oauth2_error(replay, 400, "invalid_grant")
    refresh = await client.post(
        TOKEN,
        data={
            "grant_type": "refresh_token",
            "refresh_token": first.json()["refresh_token"],
            "client_id": "buergerportal",
        },
    )
    _assert_oauth2_error(refresh, 400, "invalid_grant")


@pytest.mark.usefixtures("portal")
async def test_a_wrong_code_verifier_gets_nothing_and_leaves_the_code_to_its_client(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    verifier, challenge = pkce_pair()
    other_verifier, _ = pkce_pair()
    code = await _code(client, challenge)

    wrong = await client.post(TOKEN, data=_redeem(code, other_verifier))
    malformed = await client.post(TOKEN, data=_redeem(code, "short"))
    missing = await client.post(TOKEN, data={**_redeem(code, verifier), "code_verifier": ""})

    _assert_oauth2_error(wrong, 400, "invalid_grant")
    _assert_oauth2_error(malformed, 400, "invalid_grant")
    _assert_oauth2_error(missing, 400, "invalid_request")
    assert await _count(session, RefreshToken) == 0
    assert (await client.post(TOKEN, data=_redeem(code, verifier))).status_code == 200


@pytest.mark.usefixtures("portal")
async def test_an_expired_code_and_another_redirect_uri_are_invalid_grant(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    verifier, challenge = pkce_pair()
    code = await _code(client, challenge)
    other = await client.post(TOKEN, data=_redeem(code, verifier, redirect_uri=CALLBACK + "/other"))
    clock: FakeClock = app.state.clock
    clock.advance(seconds=61)
    expired = await client.post(TOKEN, data=_redeem(code, verifier))

    _assert_oauth2_error(other, 400, "invalid_grant")
    _assert_oauth2_error(expired, 400, "invalid_grant")
    assert await _count(session, RefreshToken) == 0


@pytest.mark.usefixtures("portal")
async def test_a_code_is_only_for_its_own_client(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await create_frontend_client(session, client_id="fremde-app", secret="secret-of-the-other-app")
    verifier, challenge = pkce_pair()
    code = await _code(client, challenge)

    by_other = await client.post(
        TOKEN,
        data=_redeem(code, verifier, client_id="fremde-app"),
        auth=("fremde-app", "secret-of-the-other-app"),
    )
    wrong_secret = await client.post(
        TOKEN, data=_redeem(code, verifier, client_id="fremde-app"), auth=("fremde-app", "nope")
    )
    unknown = await client.post(TOKEN, data=_redeem(code, verifier, client_id="nobody"))
    # A confidential client must authenticate: naming it is not enough.
    unauthenticated = await client.post(TOKEN, data=_redeem(code, verifier, client_id="fremde-app"))

    _assert_oauth2_error(by_other, 400, "invalid_grant")
    _assert_oauth2_error(wrong_secret, 401, "invalid_client")
    _assert_oauth2_error(unknown, 401, "invalid_client")
    _assert_oauth2_error(unauthenticated, 401, "invalid_client")
    assert wrong_secret.headers["www-authenticate"].startswith("Basic")
    assert await _count(session, RefreshToken) == 0


async def test_a_confidential_client_redeems_with_client_secret_basic(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await create_tenant(session)
    await create_account(session)
    await create_frontend_client(session, secret="secret-of-the-portal-backend")
    verifier, challenge = pkce_pair()
    code = await _code(client, challenge)
    data = _redeem(code, verifier)
    del data["client_id"]

    token = await client.post(
        TOKEN, data=data, auth=("buergerportal", "secret-of-the-portal-backend")
    )

    assert token.status_code == 200, token.text
    assert jwt.get_unverified_claims(token.json()["access_token"])["client_id"] == "buergerportal"


@pytest.mark.usefixtures("portal")
async def test_a_public_client_gets_no_client_credentials_token(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        TOKEN, data={"grant_type": "client_credentials", "client_id": "buergerportal"}
    )

    _assert_oauth2_error(response, 401, "invalid_client")


@pytest.mark.usefixtures("portal")
@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://evil.example/callback",
        CALLBACK + "/",
        CALLBACK + "?next=https://evil.example",
        CALLBACK + "#fragment",
        "https://portal.musterstadt.example.evil.example/callback",
        "https://portal.musterstadt.example:8443/callback",
        "HTTPS://PORTAL.MUSTERSTADT.EXAMPLE/callback",
        "https://portal.musterstadt.example/callback/../evil",
        "http://portal.musterstadt.example/callback",
        "//evil.example/callback",
    ],
)
async def test_an_unregistered_redirect_uri_is_refused_here_and_sends_nobody_anywhere(
    client: httpx.AsyncClient, session: AsyncSession, redirect_uri: str
) -> None:
    _, challenge = pkce_pair()
    params = _query(challenge, redirect_uri=redirect_uri)

    as_json = await client.get(AUTHORIZE, params=params)
    as_page = await client.get(AUTHORIZE, params=params, headers=HTML)

    assert as_json.status_code == 400
    assert as_json.headers["content-type"] == "application/problem+json"
    assert as_json.json()["type"] == "urn:rathaus:problem:authorization-request-refused"
    assert as_page.status_code == 400
    assert as_page.headers["content-type"].startswith("text/html")
    for response in (as_json, as_page):
        assert "location" not in response.headers
        assert "set-cookie" not in response.headers
    assert "evil" not in as_page.text
    assert await _count(session, AuthorizationCode) == 0


@pytest.mark.usefixtures("portal")
@pytest.mark.parametrize("client_id", ["nobody", None])
async def test_an_unknown_or_missing_client_is_refused_here(
    client: httpx.AsyncClient, client_id: str | None
) -> None:
    _, challenge = pkce_pair()
    response = await client.get(AUTHORIZE, params=_query(challenge, client_id=client_id))

    assert response.status_code == 400
    assert "location" not in response.headers
    assert response.json()["type"] == "urn:rathaus:problem:authorization-request-refused"


@pytest.mark.usefixtures("portal")
@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"state": None}, "invalid_request"),
        ({"code_challenge": None}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),
        ({"code_challenge": "too-short"}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": "openid cases:handover"}, "invalid_scope"),
        ({"prompt": "none"}, "login_required"),
    ],
)
async def test_other_bad_requests_go_back_to_the_client_as_oauth2_errors(
    client: httpx.AsyncClient,
    session: AsyncSession,
    overrides: dict[str, str | None],
    error: str,
) -> None:
    _, challenge = pkce_pair()
    response = await client.get(AUTHORIZE, params=_query(challenge, **overrides), headers=HTML)

    answer = _redirected(response)
    assert answer["error"] == error
    assert answer.get("state") == (None if "state" in overrides else "state-of-the-client-123")
    assert "code" not in answer
    assert "set-cookie" not in response.headers
    assert await _count(session, AuthorizationCode) == 0


@pytest.mark.usefixtures("portal")
async def test_a_next_parameter_redirects_nowhere(client: httpx.AsyncClient) -> None:
    _, challenge = pkce_pair()
    form = await _page(client, challenge, next="https://evil.example/")

    response = await _sign_in(
        client, form, next="https://evil.example/", redirect_uri="https://evil.example/"
    )

    assert _redirected(response)["code"]


@pytest.mark.usefixtures("portal")
async def test_a_wrong_password_shows_the_form_again_and_issues_nothing(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    _, challenge = pkce_pair()
    form = await _page(client, challenge)

    response = await _sign_in(client, form, password="wrong password")

    assert response.status_code == 401
    assert "location" not in response.headers
    assert 'role="alert"' in response.text
    assert read_form(response.text).fields["email"] == "erika@example.org"
    assert await _count(session, AuthorizationCode) == 0


@pytest.mark.usefixtures("portal")
async def test_a_form_posted_without_its_cookie_or_tampered_with_is_refused(
    client: httpx.AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    _, challenge = pkce_pair()
    form = await _page(client, challenge)
    sealed = form.fields["request"]
    tampered = sealed[:-6] + ("AAAAAA" if not sealed.endswith("AAAAAA") else "BBBBBB")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as other_browser:
        forged = await _sign_in(other_browser, form)
    broken = await client.post(
        form.action,
        data={"request": tampered, "email": "erika@example.org", "password": DEFAULT_PASSWORD},
    )

    assert forged.status_code == 403
    assert forged.headers["content-type"].startswith("text/html")
    assert broken.status_code == 400
    assert broken.json()["type"] == "urn:rathaus:problem:sign-in-page-expired"
    assert "location" not in forged.headers
    assert "location" not in broken.headers
    assert await _count(session, AuthorizationCode) == 0


async def test_staff_with_a_second_factor_pass_the_code_step_before_a_code(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await create_tenant(session)
    clerk = await create_account(session, email="clerk@example.org", roles=("clerk",))
    secret = await create_second_factor(session, clerk)
    await create_frontend_client(session)
    verifier, challenge = pkce_pair()

    step = await _sign_in(client, await _page(client, challenge), email="clerk@example.org")
    assert step.status_code == 200
    assert "location" not in step.headers
    mfa = read_form(step.text)
    assert mfa.action == f"{AUTHORIZE}/mfa"
    assert mfa.visible == ["otp"]
    assert await _count(session, AuthorizationCode) == 0
    fields = {"request": mfa.fields["request"], "mfa_token": mfa.fields["mfa_token"]}
    wrong = await client.post(mfa.action, data={**fields, "otp": "000000"}, headers=HTML)
    assert wrong.status_code == 401
    assert await _count(session, AuthorizationCode) == 0

    code = pyotp.TOTP(secret).at(app.state.clock.now())
    answer = _redirected(await client.post(mfa.action, data={**fields, "otp": code}))
    token = await client.post(TOKEN, data=_redeem(answer["code"], verifier))

    assert token.status_code == 200, token.text
    jwks = index_jwks((await client.get("/identity/v1/jwks")).json())
    claims = verify_id_token(
        token.json()["id_token"],
        jwks,
        issuer=app.state.settings.auth_issuer,
        audience="buergerportal",
        now=app.state.clock.now().timestamp(),
    )
    assert claims["amr"] == ["pwd", "otp"]


async def test_another_municipalitys_frontend_asks_for_consent(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await create_tenant(session)
    await create_account(session)
    await create_frontend_client(session, first_party=False, name="Termin-App GmbH")
    verifier, challenge = pkce_pair()

    consent = await _sign_in(client, await _page(client, challenge))
    assert consent.status_code == 200
    form = read_form(consent.text)
    assert form.action == f"{AUTHORIZE}/consent"
    assert form.buttons == {"decision": ["allow", "deny"]}
    assert "Termin-App GmbH" in consent.text
    denied = _redirected(
        await client.post(form.action, data={"request": form.fields["request"], "decision": "deny"})
    )
    assert denied["error"] == "access_denied"
    assert await _count(session, AuthorizationCode) == 0

    allowed = _redirected(
        await client.post(
            form.action, data={"request": form.fields["request"], "decision": "allow"}
        )
    )
    assert (await client.post(TOKEN, data=_redeem(allowed["code"], verifier))).status_code == 200


@pytest.mark.usefixtures("portal")
async def test_userinfo_needs_a_token_with_openid(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    account = await create_account(session, email="zweite@example.org")
    without = await client.get(USERINFO)
    password = await client.post(
        "/identity/v1/auth/login",
        json={"tenant": "06999001", "email": account.email, "password": DEFAULT_PASSWORD},
    )
    no_openid = await client.get(
        USERINFO, headers={"Authorization": f"Bearer {password.json()['access_token']}"}
    )

    assert without.status_code == 401
    assert without.headers["content-type"] == "application/problem+json"
    assert no_openid.status_code == 403
    assert no_openid.json()["type"] == "urn:rathaus:problem:insufficient-scope"


async def test_discovery_lists_the_authorization_code_flow_consistently(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await create_tenant(session)
    await create_frontend_client(session, scopes=("booking:read",))

    document = (await client.get("/identity/.well-known/openid-configuration")).json()

    issuer = document["issuer"]
    assert document["authorization_endpoint"] == f"{issuer}/v1/oauth2/authorize"
    assert document["userinfo_endpoint"] == f"{issuer}/v1/oauth2/userinfo"
    assert document["response_types_supported"] == ["code"]
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert {"authorization_code", "refresh_token", "client_credentials", "password"} <= set(
        document["grant_types_supported"]
    )
    assert "urn:rathaus:params:oauth:grant-type:mfa-otp" in document["grant_types_supported"]
    assert {"openid", "profile", "email", "booking:read"} <= set(document["scopes_supported"])
    assert set(document["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic",
        "client_secret_post",
        "none",
    }
    assert {"amr", "nonce", "at_hash"} <= set(document["claims_supported"])
    assert (await client.get("/.well-known/openid-configuration")).json() == document
    # The token keys at the root too, each member a string (none null) as the contract says.
    keys = (await client.get("/identity/v1/jwks")).json()
    assert (await client.get("/.well-known/jwks.json")).json() == keys
    assert keys["keys"]
    for key in keys["keys"]:
        assert {"kty", "kid", "alg", "use"} <= set(key)
        assert all(isinstance(value, str) for value in key.values()), key


async def test_an_admin_registers_a_public_frontend_with_its_redirect_uris(
    client: httpx.AsyncClient, session: AsyncSession, tokens: TokenFactory
) -> None:
    await create_tenant(session)
    admin = tokens.headers(roles=["admin"])
    clients = "/identity/v1/tenants/06999001/clients"

    created = await client.post(
        clients,
        json={
            "name": "Bürgerportal",
            "redirect_uris": [CALLBACK, "http://localhost:5173/callback"],
            "first_party": True,
            "public": True,
        },
        headers=admin,
    )

    assert created.status_code == 201, created.text
    body = created.json()
    assert body["client_secret"] == ""
    assert body["redirect_uris"] == [CALLBACK, "http://localhost:5173/callback"]
    assert (body["first_party"], body["public"]) == (True, True)
    _, challenge = pkce_pair()
    page = await client.get(AUTHORIZE, params=_query(challenge, client_id=body["client_id"]))
    assert page.status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"redirect_uris": ["http://portal.musterstadt.example/callback"]},
        {"redirect_uris": ["https://portal.musterstadt.example/*"]},
        {"redirect_uris": [CALLBACK + "#x"]},
        {"redirect_uris": ["https://user:pw@portal.musterstadt.example/callback"]},
        {"redirect_uris": ["javascript:alert(1)//x"]},
        {"redirect_uris": ["/relative/callback"]},
        {"public": True},
    ],
)
async def test_redirect_uris_that_could_not_be_matched_safely_are_refused(
    client: httpx.AsyncClient, session: AsyncSession, tokens: TokenFactory, body: dict[str, Any]
) -> None:
    await create_tenant(session)

    response = await client.post(
        "/identity/v1/tenants/06999001/clients",
        json={"name": "App", **body},
        headers=tokens.headers(roles=["admin"]),
    )

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert await _count(session, AuthorizationCode) == 0


async def test_staff_who_must_set_up_a_second_factor_get_no_code_from_the_page(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await create_tenant(session, ags=MFA_TENANT)
    await create_account(session, tenant=MFA_TENANT, email="clerk@example.org", roles=("clerk",))
    await create_frontend_client(session, tenant=MFA_TENANT)
    _, challenge = pkce_pair()

    response = await _sign_in(client, await _page(client, challenge), email="clerk@example.org")

    assert response.status_code == 403
    assert "location" not in response.headers
    assert await _count(session, AuthorizationCode) == 0


async def test_only_its_client_refreshes_the_tokens_of_a_code(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await create_tenant(session)
    await create_account(session)
    await create_frontend_client(session, secret="secret-of-the-portal-backend")
    await create_frontend_client(session, client_id="fremde-app")
    verifier, challenge = pkce_pair()
    code = await _code(client, challenge)
    data = _redeem(code, verifier)
    del data["client_id"]
    issued = await client.post(
        TOKEN, data=data, auth=("buergerportal", "secret-of-the-portal-backend")
    )
    refresh = {"grant_type": "refresh_token", "refresh_token": issued.json()["refresh_token"]}

    anonymous = await client.post(TOKEN, data=refresh)
    by_json = await client.post(
        "/identity/v1/auth/refresh", json={"refresh_token": refresh["refresh_token"]}
    )
    by_other = await client.post(TOKEN, data={**refresh, "client_id": "fremde-app"})
    named_only = await client.post(TOKEN, data={**refresh, "client_id": "buergerportal"})
    by_its_client = await client.post(
        TOKEN, data=refresh, auth=("buergerportal", "secret-of-the-portal-backend")
    )

    _assert_oauth2_error(anonymous, 401, "invalid_client")
    assert by_json.status_code == 401
    _assert_oauth2_error(by_other, 400, "invalid_grant")
    _assert_oauth2_error(named_only, 401, "invalid_client")
    assert by_its_client.status_code == 200, by_its_client.text


@pytest.mark.usefixtures("portal")
async def test_a_code_replayed_hours_later_still_ends_its_tokens_and_old_codes_are_dropped(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    verifier, challenge = pkce_pair()
    code = await _code(client, challenge)
    first = await client.post(TOKEN, data=_redeem(code, verifier))
    clock: FakeClock = app.state.clock
    clock.advance(hours=2)

    replay = await client.post(TOKEN, data=_redeem(code, verifier))
    refresh = await client.post(
        TOKEN,
        data={
            "grant_type": "refresh_token",
            "refresh_token": first.json()["refresh_token"],
            "client_id": "buergerportal",
        },
    )
    clock.advance(days=1)
    await _code(client, pkce_pair()[1])

    _assert_oauth2_error(replay, 400, "invalid_grant")
    _assert_oauth2_error(refresh, 400, "invalid_grant")
    assert await _count(session, AuthorizationCode) == 1


async def test_a_recovery_code_completes_the_code_step_of_the_page_once(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await create_tenant(session)
    clerk = await create_account(session, email="clerk@example.org", roles=("clerk",))
    await create_second_factor(session, clerk, recovery_codes=("abcde-fghjk",))
    await create_frontend_client(session)

    answers = []
    for _ in range(2):
        _, challenge = pkce_pair()
        step = await _sign_in(client, await _page(client, challenge), email="clerk@example.org")
        mfa = read_form(step.text)
        answers.append(
            await client.post(
                mfa.action,
                data={
                    "request": mfa.fields["request"],
                    "mfa_token": mfa.fields["mfa_token"],
                    "otp": "ABCDE-FGHJK",
                },
                headers=HTML,
            )
        )

    assert _redirected(answers[0])["code"]
    assert answers[1].status_code == 401
    assert "location" not in answers[1].headers
