"""Password reset by mail, end to end through the API with the code read from the mail."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from identity.audit.models import AuditEvent
from identity.password_reset.models import PasswordReset

from ..factories import DEFAULT_PASSWORD, FakeClock, create_account, create_tenant
from ..sent_mail import Postbox, code_in, text_of

RESET = "/identity/v1/auth/password-reset"
LOGIN = "/identity/v1/auth/login"
NEW_PASSWORD = "a brand new password 2026"


async def log_in(client: httpx.AsyncClient, password: str) -> httpx.Response:
    return await client.post(
        LOGIN, json={"tenant": "06999001", "email": "erika@example.org", "password": password}
    )


async def ask_for_a_code(app: FastAPI, client: httpx.AsyncClient, postbox: Postbox) -> str:
    asked = await client.post(RESET, json={"tenant": "06999001", "email": "Erika@Example.org"})
    assert asked.status_code == 202
    [mail] = await postbox.deliver(app)
    return code_in(mail)


async def test_a_mailed_code_sets_the_password_ends_every_login_and_a_notice_follows(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession, postbox: Postbox
) -> None:
    await create_tenant(session)
    await create_account(session)
    before = (await log_in(client, DEFAULT_PASSWORD)).json()["refresh_token"]

    asked = await client.post(
        RESET,
        json={"tenant": "06999001", "email": "erika@example.org"},
        headers={"Accept-Language": "en-GB,en;q=0.9,de;q=0.5"},
    )
    [mail] = await postbox.deliver(app)
    confirmed = await client.post(
        f"{RESET}/confirm", json={"token": code_in(mail), "password": NEW_PASSWORD}
    )
    [notice] = await postbox.deliver(app)
    old_password = await log_in(client, DEFAULT_PASSWORD)
    new_password = await log_in(client, NEW_PASSWORD)
    refreshed = await client.post("/identity/v1/auth/refresh", json={"refresh_token": before})
    [stored] = await session.scalars(select(PasswordReset))
    audited = await session.scalars(
        select(AuditEvent.action).where(AuditEvent.action.like("password_reset%"))
    )

    assert (asked.status_code, asked.content) == (202, b"")
    assert str(mail["To"]) == "erika@example.org"
    assert str(mail["Subject"]) == "Reset your password"
    assert "once and until" in text_of(mail)
    assert stored.token_hash != code_in(mail)  # kept hashed
    assert confirmed.status_code == 204, confirmed.text
    # The confirmation named no language: the notice is in the municipality's.
    assert str(notice["Subject"]) == "Ihr Passwort wurde geändert"
    assert old_password.status_code == 401
    assert new_password.status_code == 200
    assert refreshed.status_code == 401
    assert list(audited) == ["password_reset_requested", "password_reset"]


async def test_an_address_without_an_account_gets_the_same_answer_and_no_mail(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession, postbox: Postbox
) -> None:
    await create_tenant(session)
    await create_account(session)

    known = await client.post(RESET, json={"tenant": "06999001", "email": "erika@example.org"})
    unknown = await client.post(RESET, json={"tenant": "06999001", "email": "max@example.org"})
    elsewhere = await client.post(RESET, json={"tenant": "06999999", "email": "erika@example.org"})
    mails = await postbox.deliver(app)

    assert known.status_code == unknown.status_code == elsewhere.status_code == 202
    assert known.content == unknown.content == elsewhere.content == b""
    assert [str(mail["To"]) for mail in mails] == ["erika@example.org"]


async def test_a_code_works_once(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession, postbox: Postbox
) -> None:
    await create_tenant(session)
    await create_account(session)
    code = await ask_for_a_code(app, client, postbox)

    first = await client.post(f"{RESET}/confirm", json={"token": code, "password": NEW_PASSWORD})
    second = await client.post(
        f"{RESET}/confirm", json={"token": code, "password": "yet another password 2026"}
    )
    unknown = await client.post(
        f"{RESET}/confirm", json={"token": "never-mailed", "password": NEW_PASSWORD}
    )

    assert first.status_code == 204
    assert second.status_code == 410
    assert second.headers["content-type"] == "application/problem+json"
    assert second.json()["type"] == "urn:rathaus:problem:reset-code-spent"
    assert unknown.status_code == 404
    assert (await log_in(client, NEW_PASSWORD)).status_code == 200


async def test_an_expired_code_is_refused_and_the_password_stays(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession, postbox: Postbox
) -> None:
    await create_tenant(session)
    await create_account(session)
    code = await ask_for_a_code(app, client, postbox)
    clock: FakeClock = app.state.clock
    clock.advance(minutes=app.state.settings.password_reset_ttl_minutes + 1)

    response = await client.post(f"{RESET}/confirm", json={"token": code, "password": NEW_PASSWORD})

    assert response.status_code == 410
    assert (await log_in(client, DEFAULT_PASSWORD)).status_code == 200


async def test_a_weak_password_keeps_the_code_good(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession, postbox: Postbox
) -> None:
    await create_tenant(session)
    await create_account(session)
    code = await ask_for_a_code(app, client, postbox)

    weak = await client.post(f"{RESET}/confirm", json={"token": code, "password": "kurz"})
    strong = await client.post(f"{RESET}/confirm", json={"token": code, "password": NEW_PASSWORD})

    assert weak.status_code == 422
    assert weak.json()["type"] == "urn:rathaus:problem:weak-password"
    assert strong.status_code == 204


async def test_asking_again_at_once_mails_no_second_code(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession, postbox: Postbox
) -> None:
    await create_tenant(session)
    await create_account(session)
    body = {"tenant": "06999001", "email": "erika@example.org"}

    first = await client.post(RESET, json=body)
    again = await client.post(RESET, json=body)
    mails = await postbox.deliver(app)
    clock: FakeClock = app.state.clock
    clock.advance(seconds=app.state.settings.password_reset_mail_interval_s + 1)
    later = await client.post(RESET, json=body)

    assert first.status_code == again.status_code == later.status_code == 202
    assert len(mails) == 1
    assert len(await postbox.deliver(app)) == 1


async def test_a_reset_confirms_the_address_it_was_mailed_to(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession, postbox: Postbox
) -> None:
    await create_tenant(session)
    account = await create_account(session)
    code = await ask_for_a_code(app, client, postbox)

    await client.post(f"{RESET}/confirm", json={"token": code, "password": NEW_PASSWORD})
    await session.refresh(account)

    assert account.email_verified_at is not None


async def test_an_invalid_address_or_a_line_break_in_it_is_422(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await create_tenant(session)

    for email in ("not-an-address", "erika@example.org\r\nBcc: all@example.org", "a@b"):
        response = await client.post(RESET, json={"tenant": "06999001", "email": email})
        assert response.status_code == 422, email
        assert response.headers["content-type"] == "application/problem+json"
