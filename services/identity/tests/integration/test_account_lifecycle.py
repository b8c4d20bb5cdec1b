"""An account's life after registration: its holder changes password and address, its
municipality's admins invite staff by mail and disable and enable accounts."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from identity.audit.models import AuditEvent
from servicekit.testing.tokens import TokenFactory

from ..factories import (
    DEFAULT_PASSWORD,
    MFA_TENANT,
    FakeClock,
    create_account,
    create_tenant,
)
from ..sent_mail import Postbox, code_in, text_of

AGS = "06999001"
OTHER_AGS = "06999002"
LOGIN = "/identity/v1/auth/login"
REFRESH = "/identity/v1/auth/refresh"
NEW_PASSWORD = "a brand new password 2026"


async def log_in(
    client: httpx.AsyncClient,
    email: str = "erika@example.org",
    password: str = DEFAULT_PASSWORD,
    tenant: str = AGS,
) -> httpx.Response:
    return await client.post(LOGIN, json={"tenant": tenant, "email": email, "password": password})


def bearer(login: httpx.Response) -> dict[str, str]:
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


async def refresh(client: httpx.AsyncClient, login: httpx.Response) -> httpx.Response:
    return await client.post(REFRESH, json={"refresh_token": login.json()["refresh_token"]})


async def audited(session: AsyncSession, action: str) -> list[AuditEvent]:
    result = await session.scalars(
        select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
    )
    return list(result.all())


def assert_problem(response: httpx.Response, status: int, slug: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == f"urn:rathaus:problem:{slug}"


# -- password change ---------------------------------------------------------------------------


async def test_a_password_change_ends_every_login_of_the_account_and_mails_a_notice(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession, postbox: Postbox
) -> None:
    await create_tenant(session)
    await create_account(session)
    here, elsewhere = await log_in(client), await log_in(client)

    wrong = await client.post(
        "/identity/v1/accounts/me/password",
        json={"current_password": "not the password", "new_password": NEW_PASSWORD},
        headers=bearer(here),
    )
    weak = await client.post(
        "/identity/v1/accounts/me/password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": "kurz"},
        headers=bearer(here),
    )
    changed = await client.post(
        "/identity/v1/accounts/me/password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD},
        headers=bearer(here),
    )
    [notice] = await postbox.deliver(app)

    assert_problem(wrong, 403, "password-mismatch")
    assert_problem(weak, 422, "weak-password")
    assert changed.status_code == 204, changed.text
    assert (await refresh(client, here)).status_code == 401
    assert (await refresh(client, elsewhere)).status_code == 401
    assert (await log_in(client)).status_code == 401
    assert (await log_in(client, password=NEW_PASSWORD)).status_code == 200
    assert str(notice["To"]) == "erika@example.org"
    assert str(notice["Subject"]) == "Ihr Passwort wurde geändert"
    outcomes = [event.outcome for event in await audited(session, "password_change")]
    assert outcomes == ["failure", "success"]


async def test_wrong_current_passwords_lock_the_account_like_failed_logins(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await create_tenant(session)
    await create_account(session)
    login = await log_in(client)
    body = {"current_password": "guess", "new_password": NEW_PASSWORD}

    for _ in range(3):  # lockout_threshold of the test settings
        await client.post("/identity/v1/accounts/me/password", json=body, headers=bearer(login))
    right_but_locked = await client.post(
        "/identity/v1/accounts/me/password",
        json={**body, "current_password": DEFAULT_PASSWORD},
        headers=bearer(login),
    )

    assert_problem(right_but_locked, 403, "password-mismatch")
    assert (await log_in(client)).status_code == 401  # the account is locked for logins too
    assert (await log_in(client, password=NEW_PASSWORD)).status_code == 401


# -- disabling and enabling --------------------------------------------------------------------


async def test_an_admin_disables_an_account_at_once_and_enables_it_again(
    app: FastAPI,
    client: httpx.AsyncClient,
    session: AsyncSession,
    tokens: TokenFactory,
    postbox: Postbox,
) -> None:
    await create_tenant(session)
    clerk = await create_account(session, email="clerk@musterstadt.example", roles=("clerk",))
    login = await log_in(client, "clerk@musterstadt.example")
    admin = tokens.headers(sub="admin-1", roles=["admin"], tenant=AGS)
    accounts = f"/identity/v1/tenants/{AGS}/accounts/{clerk.id}"

    disabled = await client.post(f"{accounts}/disable", headers=admin)
    refreshed = await refresh(client, login)
    logged_in = await log_in(client, "clerk@musterstadt.example")
    reset = await client.post(
        "/identity/v1/auth/password-reset",
        json={"tenant": AGS, "email": "clerk@musterstadt.example"},
    )
    listed = await client.get(f"/identity/v1/tenants/{AGS}/accounts", headers=admin)
    enabled = await client.post(f"{accounts}/enable", headers=admin)
    again = await log_in(client, "clerk@musterstadt.example")

    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["disabled"] is True
    assert_problem(refreshed, 401, "invalid-refresh-token")
    assert_problem(logged_in, 401, "invalid-credentials")
    assert reset.status_code == 202
    assert await postbox.deliver(app) == []  # no reset code for a disabled account
    assert [a["disabled"] for a in listed.json()["items"]] == [True]
    assert enabled.status_code == 200
    assert enabled.json()["disabled"] is False
    assert again.status_code == 200
    [off] = await audited(session, "account_disabled")
    [on] = await audited(session, "account_enabled")
    assert (off.actor, off.subject, on.actor, on.subject) == (
        "admin-1",
        clerk.id,
        "admin-1",
        clerk.id,
    )


async def test_disabling_is_for_the_own_municipalitys_admins_and_not_the_own_account(
    client: httpx.AsyncClient, session: AsyncSession, tokens: TokenFactory
) -> None:
    await create_tenant(session)
    await create_tenant(session, ags=OTHER_AGS, name="Nachbarstadt")
    theirs = await create_account(session, tenant=OTHER_AGS)
    admin = await create_account(session, email="admin@musterstadt.example", roles=("admin",))
    mine = await create_account(session)
    as_admin = tokens.headers(sub=admin.id, roles=["admin"], tenant=AGS)

    across = await client.post(
        f"/identity/v1/tenants/{AGS}/accounts/{theirs.id}/disable", headers=as_admin
    )
    other_tenant = await client.post(
        f"/identity/v1/tenants/{OTHER_AGS}/accounts/{theirs.id}/disable", headers=as_admin
    )
    own = await client.post(
        f"/identity/v1/tenants/{AGS}/accounts/{admin.id}/disable", headers=as_admin
    )
    by_citizen = await client.post(
        f"/identity/v1/tenants/{AGS}/accounts/{mine.id}/disable",
        headers=tokens.headers(sub=mine.id, roles=["citizen"], tenant=AGS),
    )
    unknown = await client.post(
        f"/identity/v1/tenants/{AGS}/accounts/no-such-account/enable", headers=as_admin
    )

    assert_problem(across, 404, "account-not-found")
    assert_problem(other_tenant, 404, "tenant-not-found")
    assert_problem(own, 409, "own-account")
    assert by_citizen.status_code == 403
    assert_problem(unknown, 404, "account-not-found")
    assert (await log_in(client, tenant=OTHER_AGS)).status_code == 200


async def test_an_erased_account_cannot_be_enabled_again(
    client: httpx.AsyncClient, session: AsyncSession, tokens: TokenFactory
) -> None:
    await create_tenant(session)
    citizen = await create_account(session)
    admin = tokens.headers(sub="admin-1", roles=["admin"], tenant=AGS)
    accounts = f"/identity/v1/tenants/{AGS}/accounts/{citizen.id}"

    erased = await client.post(f"{accounts}/erasure", headers=admin)
    enabled = await client.post(f"{accounts}/enable", headers=admin)

    assert erased.status_code == 200
    assert_problem(enabled, 409, "account-closed-for-good")


# -- staff invitations -------------------------------------------------------------------------


async def test_an_invited_clerk_sets_a_password_with_the_mailed_code_then_enrols_a_second_factor(
    app: FastAPI,
    client: httpx.AsyncClient,
    session: AsyncSession,
    tokens: TokenFactory,
    postbox: Postbox,
) -> None:
    await create_tenant(session, ags=MFA_TENANT, name="Strengstadt")
    admin = tokens.headers(sub="admin-1", roles=["admin"], tenant=MFA_TENANT)

    invited = await client.post(
        f"/identity/v1/tenants/{MFA_TENANT}/invitations",
        json={"email": "Neu@Strengstadt.example", "roles": ["clerk"]},
        headers={**admin, "Accept-Language": "en"},
    )
    [mail] = await postbox.deliver(app)
    code = code_in(mail)
    before = await log_in(client, "neu@strengstadt.example", NEW_PASSWORD, MFA_TENANT)
    accepted = await client.post(
        "/identity/v1/accounts/invitations/acceptance",
        json={"token": code, "password": NEW_PASSWORD},
    )
    twice = await client.post(
        "/identity/v1/accounts/invitations/acceptance",
        json={"token": code, "password": "yet another password 2026"},
    )
    as_reset = await client.post(
        "/identity/v1/auth/password-reset/confirm",
        json={"token": code, "password": "yet another password 2026"},
    )
    login = await log_in(client, "neu@strengstadt.example", NEW_PASSWORD, MFA_TENANT)

    assert invited.status_code == 201, invited.text
    assert invited.json()["account"]["roles"] == ["clerk"]
    assert invited.json()["account"]["email_verified"] is False
    assert code not in invited.text  # the code goes to the address only
    assert str(mail["To"]) == "neu@strengstadt.example"
    assert str(mail["Subject"]) == "Invitation to your staff account"
    assert "clerk" in text_of(mail)
    assert before.status_code == 401  # no password before the invitation is accepted
    assert accepted.status_code == 204, accepted.text
    assert_problem(twice, 410, "reset-code-spent")
    assert_problem(as_reset, 404, "unknown-reset-code")  # an invitation is no reset code
    # Staff of this municipality must have a second factor: the login asks to enrol one.
    assert login.status_code == 202, login.text
    assert "mfa_token" in login.json()
    assert len(await audited(session, "staff_invited")) == 1
    assert len(await audited(session, "invitation_accepted")) == 2  # success, then refused


async def test_an_invitation_runs_out_and_inviting_again_mails_a_fresh_code(
    app: FastAPI,
    client: httpx.AsyncClient,
    session: AsyncSession,
    tokens: TokenFactory,
    postbox: Postbox,
) -> None:
    await create_tenant(session)
    admin = tokens.headers(sub="admin-1", roles=["admin"], tenant=AGS)
    body = {"email": "neu@musterstadt.example", "roles": ["clerk"]}
    clock: FakeClock = app.state.clock

    first = await client.post(f"/identity/v1/tenants/{AGS}/invitations", json=body, headers=admin)
    [old_mail] = await postbox.deliver(app)
    clock.advance(hours=app.state.settings.staff_invitation_ttl_hours, seconds=1)
    expired = await client.post(
        "/identity/v1/accounts/invitations/acceptance",
        json={"token": code_in(old_mail), "password": NEW_PASSWORD},
    )
    second = await client.post(f"/identity/v1/tenants/{AGS}/invitations", json=body, headers=admin)
    [new_mail] = await postbox.deliver(app)
    accepted = await client.post(
        "/identity/v1/accounts/invitations/acceptance",
        json={"token": code_in(new_mail), "password": NEW_PASSWORD},
    )
    third = await client.post(f"/identity/v1/tenants/{AGS}/invitations", json=body, headers=admin)

    assert first.status_code == 201
    assert_problem(expired, 410, "reset-code-spent")
    assert second.status_code == 201
    assert second.json()["account"]["id"] == first.json()["account"]["id"]
    assert accepted.status_code == 204
    assert_problem(third, 409, "email-taken")  # accepted: the account is the person's now
    assert (await log_in(client, "neu@musterstadt.example", NEW_PASSWORD)).status_code == 200


async def test_invitations_are_for_the_own_municipalitys_admins_and_staff_roles(
    client: httpx.AsyncClient, session: AsyncSession, tokens: TokenFactory
) -> None:
    await create_tenant(session)
    await create_account(session)
    admin = tokens.headers(sub="admin-1", roles=["admin"], tenant=AGS)
    invitations = f"/identity/v1/tenants/{AGS}/invitations"

    citizen_address = await client.post(
        invitations, json={"email": "erika@example.org", "roles": ["clerk"]}, headers=admin
    )
    platform = await client.post(
        invitations,
        json={"email": "p@musterstadt.example", "roles": ["platform_admin"]},
        headers=admin,
    )
    other = await client.post(
        "/identity/v1/tenants/06999002/invitations",
        json={"email": "x@example.org", "roles": ["clerk"]},
        headers=admin,
    )
    by_clerk = await client.post(
        invitations,
        json={"email": "x@example.org", "roles": ["clerk"]},
        headers=tokens.headers(sub="clerk-1", roles=["clerk"], tenant=AGS),
    )
    bad_address = await client.post(
        invitations, json={"email": "x\u0000@example.org", "roles": ["clerk"]}, headers=admin
    )

    assert_problem(citizen_address, 409, "email-taken")
    assert_problem(platform, 422, "role-not-grantable")
    assert_problem(other, 404, "tenant-not-found")
    assert by_clerk.status_code == 403
    assert_problem(bad_address, 422, "validation-failed")


# -- address change ----------------------------------------------------------------------------


async def test_a_new_address_counts_once_its_mailed_code_comes_back_and_the_old_one_is_told(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession, postbox: Postbox
) -> None:
    await create_tenant(session)
    await create_account(session, email_verified=True)
    login = await log_in(client)
    # A password-reset code mailed to the old address must not outlive the change.
    await client.post(
        "/identity/v1/auth/password-reset", json={"tenant": AGS, "email": "erika@example.org"}
    )
    [reset_mail] = await postbox.deliver(app)

    asked = await client.post(
        "/identity/v1/accounts/me/email",
        json={"email": "Erika.Neu@example.org", "password": DEFAULT_PASSWORD},
        headers=bearer(login),
    )
    [code_mail] = await postbox.deliver(app)
    still_old = await log_in(client)
    confirmed = await client.post(
        "/identity/v1/accounts/email-change/confirm", json={"token": code_in(code_mail)}
    )
    [notice] = await postbox.deliver(app)
    again = await client.post(
        "/identity/v1/accounts/email-change/confirm", json={"token": code_in(code_mail)}
    )
    new_login = await log_in(client, "erika.neu@example.org")
    me = await client.get("/identity/v1/me", headers=bearer(new_login))
    old_reset = await client.post(
        "/identity/v1/auth/password-reset/confirm",
        json={"token": code_in(reset_mail), "password": NEW_PASSWORD},
    )

    assert (asked.status_code, asked.content) == (202, b"")
    assert str(code_mail["To"]) == "erika.neu@example.org"
    assert str(code_mail["Subject"]) == "Bitte bestätigen Sie Ihre neue E-Mail-Adresse"
    assert still_old.status_code == 200  # nothing changed before the code came back
    assert confirmed.status_code == 204, confirmed.text
    assert str(notice["To"]) == "erika@example.org"
    assert str(notice["Subject"]) == "Ihre E-Mail-Adresse wurde geändert"
    assert "erika.neu@example.org" in text_of(notice)
    assert_problem(again, 410, "email-change-code-spent")
    assert (me.json()["email"], me.json()["email_verified"]) == ("erika.neu@example.org", True)
    assert (await log_in(client)).status_code == 401
    assert_problem(old_reset, 410, "reset-code-spent")
    assert [e.outcome for e in await audited(session, "email_change")] == ["success", "failure"]


async def test_an_address_change_needs_the_password_and_a_free_address(
    app: FastAPI,
    client: httpx.AsyncClient,
    session: AsyncSession,
    postbox: Postbox,
) -> None:
    await create_tenant(session)
    await create_account(session)
    await create_account(session, email="max@example.org")
    login = await log_in(client)
    clock: FakeClock = app.state.clock

    no_password = await client.post(
        "/identity/v1/accounts/me/email",
        json={"email": "neu@example.org", "password": "not the password"},
        headers=bearer(login),
    )
    bad_address = await client.post(
        "/identity/v1/accounts/me/email",
        json={"email": "neu\u0000@example.org", "password": DEFAULT_PASSWORD},
        headers=bearer(login),
    )
    taken = await client.post(
        "/identity/v1/accounts/me/email",
        json={"email": "max@example.org", "password": DEFAULT_PASSWORD},
        headers=bearer(login),
    )
    [taken_mail] = await postbox.deliver(app)
    confirm_taken = await client.post(
        "/identity/v1/accounts/email-change/confirm", json={"token": code_in(taken_mail)}
    )
    await client.post(
        "/identity/v1/accounts/me/email",
        json={"email": "neu@example.org", "password": DEFAULT_PASSWORD},
        headers=bearer(login),
    )
    [late_mail] = await postbox.deliver(app)
    clock.advance(minutes=app.state.settings.email_change_ttl_minutes, seconds=1)
    late = await client.post(
        "/identity/v1/accounts/email-change/confirm", json={"token": code_in(late_mail)}
    )
    unknown = await client.post(
        "/identity/v1/accounts/email-change/confirm", json={"token": "no-such-code"}
    )
    no_token = await client.post("/identity/v1/accounts/me/email", json={"email": "a@b.example"})

    assert_problem(no_password, 403, "password-mismatch")
    assert_problem(bad_address, 422, "validation-failed")
    assert taken.status_code == 202  # the same answer: only the code's holder learns more
    assert_problem(confirm_taken, 409, "email-taken")
    assert_problem(late, 410, "email-change-code-spent")
    assert_problem(unknown, 404, "unknown-email-change-code")
    assert no_token.status_code == 401
    assert (await log_in(client)).status_code == 200  # still the old address
