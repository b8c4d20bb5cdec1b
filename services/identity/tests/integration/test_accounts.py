"""Accounts: citizens register themselves; admins manage their municipality's clerks."""

from __future__ import annotations

import json

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from identity.events.models import ACCOUNT_ERASED, OutboxEvent
from servicekit.testing.tokens import TokenFactory

from ..factories import DEFAULT_PASSWORD, create_account, create_tenant
from ..sent_mail import Postbox, code_in, text_of

TENANT = "/identity/v1/tenants/06999001"


async def test_citizen_registers_and_verifies_the_email_with_the_mailed_code(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession, postbox: Postbox
) -> None:
    await create_tenant(session)

    registered = await client.post(
        f"{TENANT}/citizens", json={"email": "Max@Example.org", "password": DEFAULT_PASSWORD}
    )
    [mail] = await postbox.deliver(app)
    code = code_in(mail)
    verified = await client.post("/identity/v1/accounts/email-verification", json={"token": code})
    again = await client.post("/identity/v1/accounts/email-verification", json={"token": code})
    login = await client.post(
        "/identity/v1/auth/login",
        json={"tenant": "06999001", "email": "max@example.org", "password": DEFAULT_PASSWORD},
    )

    assert registered.status_code == 201, registered.text
    assert registered.json()["roles"] == ["citizen"]
    assert registered.json()["email_verified"] is False
    assert "password" not in registered.text
    assert str(mail["To"]) == "max@example.org"
    assert str(mail["Subject"]) == "Bitte bestätigen Sie Ihre E-Mail-Adresse"
    assert str(mail["From"]).startswith("Musterstadt <")
    assert "Musterstadt" in text_of(mail)
    assert verified.status_code == 204
    assert again.status_code == 404
    assert login.status_code == 200


async def test_short_password_and_own_email_as_password_are_refused(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await create_tenant(session)

    short = await client.post(
        f"{TENANT}/citizens", json={"email": "max@example.org", "password": "kurz"}
    )
    own_email = await client.post(
        f"{TENANT}/citizens",
        json={"email": "max.mustermann@example.org", "password": "Max.Mustermann@example.org"},
    )

    assert short.status_code == 422
    assert short.json()["type"] == "urn:rathaus:problem:weak-password"
    assert own_email.status_code == 422
    assert "email" in own_email.json()["detail"]


async def test_registering_an_address_that_has_an_account_answers_as_for_a_new_one(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession, postbox: Postbox
) -> None:
    """No account enumeration: the answer is the same, the owner is told by mail."""
    await create_tenant(session)
    await create_account(session, email="erika@example.org", email_verified=True)

    taken = await client.post(
        f"{TENANT}/citizens", json={"email": "Erika@example.org", "password": "another password"}
    )
    new = await client.post(
        f"{TENANT}/citizens", json={"email": "max@example.org", "password": DEFAULT_PASSWORD}
    )
    mails = {str(mail["To"]): mail for mail in await postbox.deliver(app)}

    assert (taken.status_code, new.status_code) == (201, 201)
    assert taken.headers["content-type"] == new.headers["content-type"]
    assert set(taken.json()) == set(new.json())
    assert {k: v for k, v in taken.json().items() if k not in ("id", "created_at")} == {
        "tenant": "06999001",
        "email": "erika@example.org",
        "roles": ["citizen"],
        "email_verified": False,
        "disabled": False,
    }
    assert str(mails["erika@example.org"]["Subject"]) == "Sie haben bereits ein Konto"
    assert "Passwort vergessen" in text_of(mails["erika@example.org"])
    assert str(mails["max@example.org"]["Subject"]) == "Bitte bestätigen Sie Ihre E-Mail-Adresse"
    # The owner's password still works, the registering party's does not.
    login = {"tenant": "06999001", "email": "erika@example.org"}
    owner = await client.post(
        "/identity/v1/auth/login", json={**login, "password": DEFAULT_PASSWORD}
    )
    other = await client.post(
        "/identity/v1/auth/login", json={**login, "password": "another password"}
    )
    assert (owner.status_code, other.status_code) == (200, 401)


async def test_registration_for_an_unknown_municipality_is_404(client: httpx.AsyncClient) -> None:
    response = await client.post(
        f"{TENANT}/citizens", json={"email": "max@example.org", "password": DEFAULT_PASSWORD}
    )

    assert response.status_code == 404


async def test_tenant_admin_creates_a_clerk_who_can_log_in(
    client: httpx.AsyncClient, session: AsyncSession, tokens: TokenFactory
) -> None:
    await create_tenant(session)

    created = await client.post(
        f"{TENANT}/accounts",
        json={
            "email": "clerk@musterstadt.example",
            "password": DEFAULT_PASSWORD,
            "roles": ["clerk"],
        },
        headers=tokens.headers(sub="admin-1", roles=["admin"]),
    )
    login = await client.post(
        "/identity/v1/auth/login",
        json={
            "tenant": "06999001",
            "email": "clerk@musterstadt.example",
            "password": DEFAULT_PASSWORD,
        },
    )

    assert created.status_code == 201, created.text
    assert created.json()["roles"] == ["clerk"]
    assert login.status_code == 200


async def test_admin_of_another_municipality_gets_404(
    client: httpx.AsyncClient, session: AsyncSession, tokens: TokenFactory
) -> None:
    await create_tenant(session)
    await create_tenant(session, ags="06999002", name="Nachbarstadt")
    other_admin = tokens.headers(tenant="06999002", roles=["admin"])

    created = await client.post(
        f"{TENANT}/accounts",
        json={
            "email": "clerk@musterstadt.example",
            "password": DEFAULT_PASSWORD,
            "roles": ["clerk"],
        },
        headers=other_admin,
    )
    listed = await client.get(f"{TENANT}/accounts", headers=other_admin)

    assert created.status_code == 404
    assert listed.status_code == 404


async def test_clerks_and_citizens_cannot_manage_accounts(
    client: httpx.AsyncClient, session: AsyncSession, tokens: TokenFactory
) -> None:
    await create_tenant(session)

    for role in ("clerk", "citizen", "partner"):
        response = await client.get(f"{TENANT}/accounts", headers=tokens.headers(roles=[role]))
        assert response.status_code == 403


async def test_tenant_admin_cannot_grant_platform_admin(
    client: httpx.AsyncClient, session: AsyncSession, tokens: TokenFactory
) -> None:
    await create_tenant(session)
    clerk = await create_account(session, email="c@musterstadt.example", roles=("clerk",))

    response = await client.put(
        f"{TENANT}/accounts/{clerk.id}/roles",
        json={"roles": ["platform_admin"]},
        headers=tokens.headers(roles=["admin"]),
    )

    assert response.status_code == 422
    assert response.json()["type"] == "urn:rathaus:problem:role-not-grantable"


async def test_role_change_is_applied_and_audited(
    client: httpx.AsyncClient, session: AsyncSession, tokens: TokenFactory
) -> None:
    await create_tenant(session)
    clerk = await create_account(session, email="c@musterstadt.example", roles=("clerk",))
    admin = tokens.headers(sub="admin-1", roles=["admin"])

    changed = await client.put(
        f"{TENANT}/accounts/{clerk.id}/roles", json={"roles": ["admin", "clerk"]}, headers=admin
    )
    audit = await client.get(f"{TENANT}/audit?action=role_change", headers=admin)

    assert changed.json()["roles"] == ["admin", "clerk"]
    [event] = audit.json()["items"]
    assert event["actor"] == "admin-1"
    assert event["subject"] == clerk.id
    assert event["details"] == {"before": ["clerk"], "after": ["admin", "clerk"]}


async def test_platform_admin_creates_a_municipality(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    body = {"ags": "06411000", "name": "Darmstadt"}

    created = await client.post(
        "/identity/v1/tenants", json=body, headers=tokens.headers(roles=["platform_admin"])
    )
    again = await client.post(
        "/identity/v1/tenants", json=body, headers=tokens.headers(roles=["platform_admin"])
    )
    by_admin = await client.post(
        "/identity/v1/tenants",
        json={"ags": "06412000", "name": "Frankfurt"},
        headers=tokens.headers(roles=["admin"]),
    )

    assert created.status_code == 201
    assert again.status_code == 409
    assert by_admin.status_code == 403


async def test_partner_client_is_created_with_a_secret_shown_once(
    client: httpx.AsyncClient, session: AsyncSession, tokens: TokenFactory
) -> None:
    await create_tenant(session)
    admin = tokens.headers(roles=["admin"])

    created = await client.post(
        f"{TENANT}/clients",
        json={"name": "Nachbarstadt", "scopes": ["booking:search"]},
        headers=admin,
    )
    listed = await client.get(f"{TENANT}/clients", headers=admin)
    secret = created.json()["client_secret"]
    token = await client.post(
        "/identity/v1/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": created.json()["client_id"],
            "client_secret": secret,
        },
    )

    assert created.status_code == 201
    assert secret not in listed.text
    assert token.status_code == 200
    assert token.json()["scope"] == "booking:search"


async def test_admin_closes_self_registration_for_the_municipality(
    client: httpx.AsyncClient, session: AsyncSession, tokens: TokenFactory
) -> None:
    await create_tenant(session)

    changed = await client.patch(
        f"{TENANT}/settings",
        json={"citizen_self_registration": False},
        headers=tokens.headers(roles=["admin"]),
    )
    registration = await client.post(
        f"{TENANT}/citizens", json={"email": "max@example.org", "password": DEFAULT_PASSWORD}
    )
    read = await client.get(TENANT)

    assert changed.status_code == 200, changed.text
    assert changed.json()["settings"]["citizen_self_registration"] is False
    assert changed.json()["settings"]["default_locale"] == "de"
    assert registration.status_code == 403
    assert registration.json()["type"] == "urn:rathaus:problem:self-registration-closed"
    assert read.json()["settings"]["citizen_self_registration"] is False


async def test_settings_of_another_municipality_are_404_and_unknown_keys_422(
    client: httpx.AsyncClient, session: AsyncSession, tokens: TokenFactory
) -> None:
    await create_tenant(session)

    other = await client.patch(
        f"{TENANT}/settings",
        json={"default_locale": "en"},
        headers=tokens.headers(tenant="06999002", roles=["admin"]),
    )
    unknown = await client.patch(
        f"{TENANT}/settings", json={"theme": "dark"}, headers=tokens.headers(roles=["admin"])
    )

    assert other.status_code == 404
    assert unknown.status_code == 422


async def test_citizen_erases_the_own_account_with_its_password(
    client: httpx.AsyncClient, session: AsyncSession, tokens: TokenFactory
) -> None:
    await create_tenant(session)
    account = await create_account(session, email="erika@example.org")
    credentials = {"tenant": "06999001", "email": "erika@example.org", "password": DEFAULT_PASSWORD}
    login = (await client.post("/identity/v1/auth/login", json=credentials)).json()
    bearer = {"Authorization": f"Bearer {login['access_token']}"}
    url = "/identity/v1/accounts/me/erasure"

    wrong = await client.post(url, json={"password": "not-the-password"}, headers=bearer)
    without_token = await client.post(url, json={"password": DEFAULT_PASSWORD})
    erased = await client.post(url, json={"password": DEFAULT_PASSWORD}, headers=bearer)
    login_again = await client.post("/identity/v1/auth/login", json=credentials)
    refreshed = await client.post(
        "/identity/v1/auth/refresh", json={"refresh_token": login["refresh_token"]}
    )
    registered_again = await client.post(
        f"{TENANT}/citizens", json={"email": "erika@example.org", "password": DEFAULT_PASSWORD}
    )
    audit = await client.get(
        f"{TENANT}/audit?action=account_erased",
        headers=tokens.headers(sub="admin-1", roles=["admin"]),
    )

    assert wrong.status_code == 403
    assert wrong.json()["type"] == "urn:rathaus:problem:password-mismatch"
    assert without_token.status_code == 401
    assert erased.status_code == 204
    assert login_again.status_code == 401
    assert refreshed.status_code == 401
    assert registered_again.status_code == 201, registered_again.text  # the address is free
    await session.refresh(account)
    assert account.email == f"{account.id}@erased.invalid"
    assert (account.roles, account.email_verification_hash) == ("", None)
    assert account.disabled_at is not None
    [event] = audit.json()["items"]
    assert (event["actor"], event["subject"]) == (account.id, account.id)


async def test_admins_erase_accounts_of_their_municipality_on_request(
    client: httpx.AsyncClient, session: AsyncSession, tokens: TokenFactory
) -> None:
    await create_tenant(session)
    await create_tenant(session, ags="05315000", name="Köln")
    clerk = await create_account(session, email="c@musterstadt.example", roles=("clerk",))
    url = f"{TENANT}/accounts/{clerk.id}/erasure"
    admin = tokens.headers(sub="admin-1", roles=["admin"])

    by_citizen = await client.post(url, headers=tokens.headers(sub="x", roles=["citizen"]))
    by_other = await client.post(
        url, headers=tokens.headers(sub="admin-2", tenant="05315000", roles=["admin"])
    )
    first = await client.post(url, headers=admin)
    again = await client.post(url, headers=admin)
    unknown = await client.post(f"{TENANT}/accounts/no-such-account/erasure", headers=admin)

    assert by_citizen.status_code == 403
    assert by_other.status_code == 404  # as if the municipality were unknown to them
    assert first.status_code == 200, first.text
    assert first.json()["email"] == f"{clerk.id}@erased.invalid"
    assert first.json()["roles"] == []
    assert again.json() == first.json()
    assert unknown.status_code == 404
    # Once, for every service to erase what it keeps about the person (booking subscribes).
    [event] = (await session.scalars(select(OutboxEvent))).all()
    assert (event.type, event.subject, event.tenant) == (ACCOUNT_ERASED, clerk.id, "06999001")
    assert json.loads(event.data) == {"account_id": clerk.id, "email": "c@musterstadt.example"}


async def test_a_registration_with_an_address_no_mail_can_reach_is_422_and_mails_nothing(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession, postbox: Postbox
) -> None:
    await create_tenant(session)

    for email in (
        "max@localhost",
        "max@example.org\r\nBcc: all@example.org",
        "max@@example.org",
        "max\u0000@example.org",
        "\u001fmax@example.org",
        "max@exam\u200bple.org",
    ):
        response = await client.post(
            f"{TENANT}/citizens", json={"email": email, "password": DEFAULT_PASSWORD}
        )
        assert response.status_code == 422, email
        assert response.headers["content-type"] == "application/problem+json"
    assert await postbox.deliver(app) == []
