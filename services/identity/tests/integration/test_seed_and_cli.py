"""The demo seed (idempotent, prints the credentials) and the key commands."""

from __future__ import annotations

import httpx
import pyotp
import pytest
from fastapi import FastAPI
from jose import jwt

from identity.cli import bootstrap, manage_keys
from identity.main import create_app
from identity.seed import (
    DEMO_ACCOUNTS,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_FRONTEND_CLIENT_ID,
    DEMO_FRONTEND_REDIRECT_URIS,
    DEMO_MFA_ACCOUNT,
    DEMO_MFA_SECRET,
    seed_demo,
)

from ..factories import FakeClock, settings_for_tests
from ..sign_in_form import pkce_pair


@pytest.fixture
async def seeded_app(fresh_database_url: str) -> FastAPI:
    app = create_app(settings_for_tests(fresh_database_url), clock=FakeClock())
    return app


async def test_seed_is_idempotent_and_its_credentials_work(
    seeded_app: FastAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    await seed_demo(seeded_app)
    await seed_demo(seeded_app)
    output = capsys.readouterr().out

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=seeded_app), base_url="http://test"
    ) as http:
        logins = [
            await http.post(
                "/identity/v1/auth/login",
                json={"tenant": "06999001", "email": email, "password": password},
            )
            for email, password, _ in DEMO_ACCOUNTS
        ]
        mfa_email, mfa_password, _ = DEMO_MFA_ACCOUNT
        password_step = await http.post(
            "/identity/v1/auth/login",
            json={"tenant": "06999001", "email": mfa_email, "password": mfa_password},
        )
        seeded_app.state.clock.advance(seconds=30)  # the seed used the code of the moment
        code_step = await http.post(
            "/identity/v1/auth/mfa/verify",
            json={
                "mfa_token": password_step.json()["mfa_token"],
                "code": pyotp.TOTP(DEMO_MFA_SECRET).at(seeded_app.state.clock.now()),
            },
        )
        partner = await http.post(
            "/identity/v1/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": DEMO_CLIENT_ID,
                "client_secret": DEMO_CLIENT_SECRET,
            },
        )
        _, challenge = pkce_pair()
        frontend = [
            await http.get(
                "/identity/v1/oauth2/authorize",
                params={
                    "response_type": "code",
                    "client_id": DEMO_FRONTEND_CLIENT_ID,
                    "redirect_uri": redirect_uri,
                    "state": "demo",
                    "code_challenge": challenge,
                    "code_challenge_method": "S256",
                },
            )
            for redirect_uri in DEMO_FRONTEND_REDIRECT_URIS
        ]
    await seeded_app.state.database.dispose()

    assert [response.status_code for response in frontend] == [200, 200]
    assert [response.status_code for response in logins] == [200] * len(DEMO_ACCOUNTS)
    assert partner.status_code == 200
    assert password_step.status_code == 202
    assert code_step.status_code == 200, code_step.text
    assert DEMO_MFA_SECRET in output
    assert output.count("06999001") == 2
    for email, password, _ in DEMO_ACCOUNTS:
        assert email in output
        assert password in output
    assert DEMO_CLIENT_SECRET in output


async def test_key_commands_rotate_list_and_retire(seeded_app: FastAPI) -> None:
    await manage_keys(seeded_app, "list")
    [first] = await manage_keys(seeded_app, "rotate")
    seeded_app.state.clock.advance(days=1)
    await manage_keys(seeded_app, "rotate")
    listing = await manage_keys(seeded_app, "list")
    passive = [line.split()[0] for line in listing if line.endswith("passive")]
    retired = await manage_keys(seeded_app, "retire", passive[0])
    await seeded_app.state.database.dispose()

    assert first.startswith("new active key")
    assert [line.split()[-1] for line in listing] == ["active", "passive"]
    assert retired == [f"retired {passive[0]}"]


async def test_bootstrap_creates_the_first_platform_admin_once(seeded_app: FastAPI) -> None:
    first = await bootstrap(
        seeded_app,
        ags="06411000",
        name="Darmstadt",
        email="it@darmstadt.example",
        password="a long bootstrap password",
    )
    second = await bootstrap(
        seeded_app,
        ags="06411000",
        name="Darmstadt",
        email="it@darmstadt.example",
        password="another long password",
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=seeded_app), base_url="http://test"
    ) as http:
        login = await http.post(
            "/identity/v1/auth/login",
            json={
                "tenant": "06411000",
                "email": "it@darmstadt.example",
                "password": "a long bootstrap password",
            },
        )
    await seeded_app.state.database.dispose()

    assert first.endswith("created")
    assert second.endswith("exists (unchanged)")
    assert login.status_code == 200
    assert jwt.get_unverified_claims(login.json()["access_token"])["roles"] == ["platform_admin"]
