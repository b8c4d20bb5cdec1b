"""Staff's second factor through the real app: enrolment with its QR code, the code step of a
login (JSON and OAuth2), replay, wrong and expired codes, the lockout, recovery codes, the
administrator's reset, and ``amr`` in tokens verified against identity's own keys."""

from __future__ import annotations

import base64
import io
import re
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import unquote

import httpx
import pyotp
import pytest
import zxingcpp
from fastapi import FastAPI
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from identity.accounts.models import Account
from identity.accounts.service import token_hash
from identity.keys.cipher import KeyDecryptionError
from identity.mfa.models import MfaEnrolment, MfaRecoveryCode
from identity.tokens.models import RefreshToken
from servicekit.auth.jose_safe import verify
from servicekit.testing.tokens import TokenFactory

from ..factories import (
    DEFAULT_PASSWORD,
    MFA_TENANT,
    FakeClock,
    create_account,
    create_second_factor,
    create_tenant,
)

TENANT = "06999001"
LOGIN = "/identity/v1/auth/login"
VERIFY = "/identity/v1/auth/mfa/verify"
ENROL_AT_LOGIN = "/identity/v1/auth/mfa/enrolment"
CONFIRM_AT_LOGIN = "/identity/v1/auth/mfa/enrolment/confirm"
MY_MFA = "/identity/v1/accounts/me/mfa"
TOKEN = "/identity/v1/oauth2/token"
MFA_OTP_GRANT = "urn:rathaus:params:oauth:grant-type:mfa-otp"
RECOVERY = ("abcde-fghjk", "mnpqr-stuvw", "xyz23-45678")
PROBLEM = "application/problem+json"


def clock_of(app: FastAPI) -> FakeClock:
    clock: FakeClock = app.state.clock
    return clock


def code_now(app: FastAPI, secret: str, *, steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(clock_of(app).now(), counter_offset=steps)


async def password_step(
    client: httpx.AsyncClient, email: str = "clerk@example.org", tenant: str = TENANT
) -> httpx.Response:
    return await client.post(
        LOGIN, json={"tenant": tenant, "email": email, "password": DEFAULT_PASSWORD}
    )


async def mfa_token(
    client: httpx.AsyncClient, email: str = "clerk@example.org", tenant: str = TENANT
) -> str:
    response = await password_step(client, email, tenant)
    assert response.status_code == 202, response.text
    token: str = response.json()["mfa_token"]
    return token


async def verified_claims(app: FastAPI, client: httpx.AsyncClient, token: str) -> dict[str, Any]:
    """The claims of one of identity's tokens, checked against its published keys."""
    jwks = (await client.get("/identity/v1/jwks")).json()
    settings = app.state.settings
    return verify(
        token,
        {key["kid"]: key for key in jwks["keys"]},
        issuer=settings.auth_issuer,
        audience=settings.auth_audience,
        now=clock_of(app).now().timestamp(),
    )


async def sessions_of(session: AsyncSession, account: Account) -> int:
    count = await session.scalar(
        select(func.count()).select_from(RefreshToken).where(RefreshToken.account_id == account.id)
    )
    return int(count or 0)


async def staff(
    session: AsyncSession, *, tenant: str = TENANT, roles: tuple[str, ...] = ("clerk",)
) -> Account:
    await create_tenant(session, tenant)
    return await create_account(session, tenant=tenant, email="clerk@example.org", roles=roles)


def raster(svg: str) -> Image.Image:
    """Draws segno's SVG path (horizontal runs of modules) to an image a decoder can read."""
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    path = next(element for element in root.iter() if element.tag.endswith("path"))
    scale = float(re.fullmatch(r"scale\((\d+)\)", path.attrib["transform"])[1])  # type: ignore[index]
    size = int(float(root.attrib["width"]) / scale)
    image = Image.new("L", (size * 8, size * 8), 255)
    x = y = 0.0
    for command, first, second in re.findall(
        r"([Mmh])(-?[\d.]+)(?:\s(-?[\d.]+))?", path.attrib["d"]
    ):
        if command == "M":
            x, y = float(first), float(second)
        elif command == "m":
            x, y = x + float(first), y + float(second)
        else:
            run = float(first)
            row = int(y - 0.5)
            for column in range(int(x), int(x + run)):
                image.paste(0, (column * 8, row * 8, column * 8 + 8, row * 8 + 8))
            x += run
    return image


def data_uri(value: str, media_type: str) -> bytes:
    prefix = f"data:{media_type}"
    assert value.startswith(prefix)
    header, _, payload = value.partition(",")
    if header.endswith(";base64"):
        return base64.b64decode(payload)
    return unquote(payload).encode()


async def test_enrolment_gives_a_provisioning_uri_and_qr_codes_that_encode_it(
    client: httpx.AsyncClient, session: AsyncSession, tokens: TokenFactory
) -> None:
    account = await staff(session)
    headers = tokens.headers(sub=account.id, tenant=TENANT, roles=["clerk"])

    response = await client.post(f"{MY_MFA}/enrolment", headers=headers)

    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    parsed = pyotp.parse_uri(body["provisioning_uri"])
    assert isinstance(parsed, pyotp.TOTP)
    assert parsed.secret == body["secret"]
    assert parsed.issuer == f"Rathaus {TENANT}"
    assert parsed.name == "clerk@example.org"
    assert (parsed.digits, parsed.interval) == (6, 30)
    png = Image.open(io.BytesIO(data_uri(body["qr_png"], "image/png")))
    assert png.format == "PNG"
    assert [found.text for found in zxingcpp.read_barcodes(png)] == [body["provisioning_uri"]]
    svg = data_uri(body["qr_svg"], "image/svg+xml").decode()
    assert [found.text for found in zxingcpp.read_barcodes(raster(svg))] == [
        body["provisioning_uri"]
    ]


async def test_a_first_code_confirms_the_enrolment_and_shows_ten_recovery_codes(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession, tokens: TokenFactory
) -> None:
    account = await staff(session)
    headers = tokens.headers(sub=account.id, tenant=TENANT, roles=["clerk"])
    secret = (await client.post(f"{MY_MFA}/enrolment", headers=headers)).json()["secret"]

    wrong = await client.post(
        f"{MY_MFA}/enrolment/confirm", json={"code": "000000"}, headers=headers
    )
    assert wrong.status_code == 401
    assert wrong.headers["content-type"] == PROBLEM
    assert wrong.json()["type"] == "urn:rathaus:problem:invalid-mfa-code"
    assert (await client.get(MY_MFA, headers=headers)).json()["enrolled"] is False

    confirmed = await client.post(
        f"{MY_MFA}/enrolment/confirm", json={"code": code_now(app, secret)}, headers=headers
    )

    assert confirmed.status_code == 200, confirmed.text
    codes = confirmed.json()["recovery_codes"]
    assert len(codes) == len(set(codes)) == 10
    status = (await client.get(MY_MFA, headers=headers)).json()
    assert status["enrolled"] is True
    assert status["recovery_codes_left"] == 10
    again = await client.post(f"{MY_MFA}/enrolment", headers=headers)
    assert again.status_code == 409
    assert again.json()["type"] == "urn:rathaus:problem:mfa-already-enrolled"


async def test_citizens_enrol_no_second_factor(
    client: httpx.AsyncClient, session: AsyncSession, tokens: TokenFactory
) -> None:
    await create_tenant(session)
    citizen = await create_account(session)
    headers = tokens.headers(sub=citizen.id, tenant=TENANT, roles=["citizen"])

    response = await client.post(f"{MY_MFA}/enrolment", headers=headers)

    assert response.status_code == 403
    assert response.json()["type"] == "urn:rathaus:problem:mfa-not-for-role"


async def test_an_enrolled_clerk_gets_a_challenge_then_tokens_for_the_code(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    account = await staff(session)
    secret = await create_second_factor(session, account)

    first = await password_step(client)

    assert first.status_code == 202, first.text
    assert first.headers["cache-control"] == "no-store"
    assert set(first.json()) == {"mfa_token", "expires_in", "enrolment_required"}
    assert first.json()["enrolment_required"] is False
    assert await sessions_of(session, account) == 0

    second = await client.post(
        VERIFY, json={"mfa_token": first.json()["mfa_token"], "code": code_now(app, secret)}
    )

    assert second.status_code == 200, second.text
    claims = await verified_claims(app, client, second.json()["access_token"])
    assert claims["sub"] == account.id
    assert claims["amr"] == ["pwd", "otp"]
    refreshed = await client.post(
        "/identity/v1/auth/refresh", json={"refresh_token": second.json()["refresh_token"]}
    )
    assert refreshed.status_code == 200
    claims = await verified_claims(app, client, refreshed.json()["access_token"])
    assert claims["amr"] == ["pwd", "otp"]


async def test_a_password_alone_says_so_in_amr(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await staff(session)

    response = await password_step(client)

    assert response.status_code == 200
    claims = await verified_claims(app, client, response.json()["access_token"])
    assert claims["amr"] == ["pwd"]


async def test_a_code_is_accepted_once(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    account = await staff(session)
    secret = await create_second_factor(session, account)
    code = code_now(app, secret)
    used = await client.post(VERIFY, json={"mfa_token": await mfa_token(client), "code": code})
    assert used.status_code == 200

    replayed = await client.post(VERIFY, json={"mfa_token": await mfa_token(client), "code": code})

    assert replayed.status_code == 401
    assert replayed.headers["content-type"] == PROBLEM
    assert replayed.json()["type"] == "urn:rathaus:problem:invalid-mfa-code"
    assert await sessions_of(session, account) == 1
    # The code of the previous step is older than the one used: refused as well.
    older = await client.post(
        VERIFY, json={"mfa_token": await mfa_token(client), "code": code_now(app, secret, steps=-1)}
    )
    assert older.status_code == 401


async def test_the_challenge_completes_one_login_only(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    account = await staff(session)
    secret = await create_second_factor(session, account)
    token = await mfa_token(client)
    assert (
        await client.post(VERIFY, json={"mfa_token": token, "code": code_now(app, secret)})
    ).status_code == 200
    clock_of(app).advance(seconds=30)

    again = await client.post(VERIFY, json={"mfa_token": token, "code": code_now(app, secret)})

    assert again.status_code == 401
    assert again.json()["type"] == "urn:rathaus:problem:invalid-mfa-challenge"


async def test_wrong_and_expired_codes_and_challenges_leave_no_session(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    account = await staff(session)
    secret = await create_second_factor(session, account)
    token = await mfa_token(client)

    wrong = await client.post(VERIFY, json={"mfa_token": token, "code": "123456"})
    stale = await client.post(
        VERIFY, json={"mfa_token": token, "code": code_now(app, secret, steps=-3)}
    )
    unknown = await client.post(
        VERIFY, json={"mfa_token": "no-such-step", "code": code_now(app, secret)}
    )
    clock_of(app).advance(seconds=301)
    expired = await client.post(VERIFY, json={"mfa_token": token, "code": code_now(app, secret)})
    malformed = await client.post(VERIFY, json={"mfa_token": token, "code": "12"})

    assert [wrong.status_code, stale.status_code] == [401, 401]
    assert wrong.json()["type"] == stale.json()["type"] == "urn:rathaus:problem:invalid-mfa-code"
    assert unknown.status_code == expired.status_code == 401
    assert expired.json()["type"] == "urn:rathaus:problem:invalid-mfa-challenge"
    assert unknown.json()["type"] == "urn:rathaus:problem:invalid-mfa-challenge"
    assert malformed.status_code == 422
    for response in (wrong, stale, unknown, expired, malformed):
        assert response.headers["content-type"] == PROBLEM
    assert await sessions_of(session, account) == 0


async def test_wrong_codes_lock_the_code_step_like_wrong_passwords(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession, tokens: TokenFactory
) -> None:
    account = await staff(session)
    secret = await create_second_factor(session, account)
    token = await mfa_token(client)
    for wrong in ("111111", "222222", "333333"):  # the test apps lock after 3
        assert (
            await client.post(VERIFY, json={"mfa_token": token, "code": wrong})
        ).status_code == 401
    # A new password step buys no new attempts.
    token = await mfa_token(client)

    locked = await client.post(VERIFY, json={"mfa_token": token, "code": code_now(app, secret)})

    assert locked.status_code == 401
    assert locked.json()["type"] == "urn:rathaus:problem:invalid-mfa-code"
    audit = await client.get(
        f"/identity/v1/tenants/{TENANT}/audit",
        params={"action": "lockout"},
        headers=tokens.headers(tenant=TENANT, roles=["admin"]),
    )
    assert [(e["subject"], e["details"]["scope"]) for e in audit.json()["items"]] == [
        (account.id, "mfa")
    ]
    clock_of(app).advance(seconds=61)
    lifted = await client.post(
        VERIFY, json={"mfa_token": await mfa_token(client), "code": code_now(app, secret)}
    )
    assert lifted.status_code == 200, lifted.text


async def test_a_recovery_code_works_once_instead_of_a_code(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession, tokens: TokenFactory
) -> None:
    account = await staff(session)
    await create_second_factor(session, account, recovery_codes=RECOVERY)

    used = await client.post(
        VERIFY, json={"mfa_token": await mfa_token(client), "code": RECOVERY[1].upper()}
    )

    assert used.status_code == 200, used.text
    claims = await verified_claims(app, client, used.json()["access_token"])
    assert claims["amr"] == ["pwd", "otp"]
    again = await client.post(
        VERIFY, json={"mfa_token": await mfa_token(client), "code": RECOVERY[1]}
    )
    assert again.status_code == 401
    assert again.json()["type"] == "urn:rathaus:problem:invalid-mfa-code"
    headers = {"Authorization": f"Bearer {used.json()['access_token']}"}
    assert (await client.get(MY_MFA, headers=headers)).json()["recovery_codes_left"] == 2


async def test_staff_who_must_have_a_second_factor_get_only_an_enrolment_path(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    account = await staff(session, tenant=MFA_TENANT, roles=("admin",))

    first = await password_step(client, tenant=MFA_TENANT)

    assert first.status_code == 202, first.text
    assert "access_token" not in first.json()
    assert first.json()["enrolment_required"] is True
    token = first.json()["mfa_token"]
    refused = await client.post(VERIFY, json={"mfa_token": token, "code": "123456"})
    assert refused.status_code == 403
    assert refused.json()["type"] == "urn:rathaus:problem:mfa-enrolment-required"

    enrolment = await client.post(ENROL_AT_LOGIN, json={"mfa_token": token})
    assert enrolment.status_code == 201, enrolment.text
    secret = enrolment.json()["secret"]
    wrong = await client.post(CONFIRM_AT_LOGIN, json={"mfa_token": token, "code": "000000"})
    assert wrong.status_code == 401
    assert await sessions_of(session, account) == 0
    done = await client.post(
        CONFIRM_AT_LOGIN, json={"mfa_token": token, "code": code_now(app, secret)}
    )

    assert done.status_code == 200, done.text
    assert len(done.json()["recovery_codes"]) == 10
    claims = await verified_claims(app, client, done.json()["access_token"])
    assert claims["amr"] == ["pwd", "otp"]
    assert claims["roles"] == ["admin"]
    clock_of(app).advance(seconds=30)
    following = await password_step(client, tenant=MFA_TENANT)
    assert following.status_code == 202
    assert following.json()["enrolment_required"] is False
    not_enrolling = await client.post(
        ENROL_AT_LOGIN, json={"mfa_token": following.json()["mfa_token"]}
    )
    assert not_enrolling.status_code == 403
    assert not_enrolling.json()["type"] == "urn:rathaus:problem:mfa-not-enrolling"


async def test_citizens_of_a_strict_municipality_log_in_with_the_password(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await create_tenant(session, MFA_TENANT)
    await create_account(session, tenant=MFA_TENANT)

    response = await password_step(client, "erika@example.org", MFA_TENANT)

    assert response.status_code == 200
    assert (await verified_claims(app, client, response.json()["access_token"]))["amr"] == ["pwd"]


async def test_a_password_only_session_of_staff_who_must_have_mfa_does_not_refresh(
    client: httpx.AsyncClient, session: AsyncSession, app: FastAPI
) -> None:
    account = await staff(session, tenant=MFA_TENANT)
    # Issued before the municipality required a second factor.
    now = clock_of(app).now()
    session.add(
        RefreshToken(
            id="0" * 36,
            family_id="1" * 36,
            account_id=account.id,
            token_hash=token_hash("an-old-refresh-token"),
            created_at=now,
            expires_at=now.replace(year=now.year + 1),
            amr="pwd",
        )
    )
    await session.flush()

    response = await client.post(
        "/identity/v1/auth/refresh", json={"refresh_token": "an-old-refresh-token"}
    )

    assert response.status_code == 401
    assert response.json()["type"] == "urn:rathaus:problem:invalid-refresh-token"


async def test_an_admins_reset_is_audited_ends_the_sessions_and_the_person_enrols_again(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession, tokens: TokenFactory
) -> None:
    account = await staff(session, tenant=MFA_TENANT)
    secret = await create_second_factor(session, account, recovery_codes=RECOVERY)
    logged_in = await client.post(
        VERIFY,
        json={
            "mfa_token": await mfa_token(client, tenant=MFA_TENANT),
            "code": code_now(app, secret),
        },
    )
    assert logged_in.status_code == 200
    admin = tokens.headers(sub="admin-1", tenant=MFA_TENANT, roles=["admin"])

    reset = await client.delete(
        f"/identity/v1/tenants/{MFA_TENANT}/accounts/{account.id}/mfa", headers=admin
    )

    assert reset.status_code == 204, reset.text
    audit = await client.get(
        f"/identity/v1/tenants/{MFA_TENANT}/audit", params={"action": "mfa_reset"}, headers=admin
    )
    [event] = audit.json()["items"]
    assert (event["actor"], event["subject"]) == ("admin-1", account.id)
    assert event["details"] == {"had_second_factor": "yes"}
    refreshed = await client.post(
        "/identity/v1/auth/refresh", json={"refresh_token": logged_in.json()["refresh_token"]}
    )
    assert refreshed.status_code == 401
    again = await password_step(client, tenant=MFA_TENANT)
    assert again.status_code == 202
    assert again.json()["enrolment_required"] is True


async def test_a_reset_of_another_municipalitys_account_is_404(
    client: httpx.AsyncClient, session: AsyncSession, tokens: TokenFactory
) -> None:
    account = await staff(session, tenant=MFA_TENANT)
    await create_second_factor(session, account)
    await create_tenant(session, TENANT)
    own_admin = tokens.headers(sub="admin-2", tenant=TENANT, roles=["admin"])

    elsewhere = await client.delete(
        f"/identity/v1/tenants/{MFA_TENANT}/accounts/{account.id}/mfa", headers=own_admin
    )
    via_own = await client.delete(
        f"/identity/v1/tenants/{TENANT}/accounts/{account.id}/mfa", headers=own_admin
    )
    clerk = await client.delete(
        f"/identity/v1/tenants/{MFA_TENANT}/accounts/{account.id}/mfa",
        headers=tokens.headers(tenant=MFA_TENANT, roles=["clerk"]),
    )

    assert elsewhere.status_code == via_own.status_code == 404
    assert via_own.json()["type"] == "urn:rathaus:problem:account-not-found"
    assert clerk.status_code == 403
    for response in (elsewhere, via_own, clerk):
        assert response.headers["content-type"] == PROBLEM
    # Still enrolled: the password step asks for the code.
    assert (await password_step(client, tenant=MFA_TENANT)).json()["enrolment_required"] is False


async def test_the_password_grant_answers_an_mfa_token_and_the_mfa_grant_completes_it(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    account = await staff(session)
    secret = await create_second_factor(session, account)
    password = {
        "grant_type": "password",
        "username": "clerk@example.org",
        "password": DEFAULT_PASSWORD,
        "tenant": TENANT,
    }

    first = await client.post(TOKEN, data=password)

    assert first.status_code == 400
    assert first.headers["content-type"] == "application/json"
    assert first.json()["error"] == "invalid_grant"
    assert first.json()["mfa_enrolment_required"] is False
    step = first.json()["mfa_token"]
    wrong = await client.post(
        TOKEN, data={"grant_type": MFA_OTP_GRANT, "mfa_token": step, "otp": "999999"}
    )
    assert (wrong.status_code, wrong.json()["error"]) == (400, "invalid_grant")
    incomplete = await client.post(TOKEN, data={"grant_type": MFA_OTP_GRANT, "mfa_token": step})
    assert (incomplete.status_code, incomplete.json()["error"]) == (400, "invalid_request")
    code = code_now(app, secret)

    done = await client.post(
        TOKEN, data={"grant_type": MFA_OTP_GRANT, "mfa_token": step, "otp": code}
    )

    assert done.status_code == 200, done.text
    assert (await verified_claims(app, client, done.json()["access_token"]))["amr"] == [
        "pwd",
        "otp",
    ]
    replay_step = (await client.post(TOKEN, data=password)).json()["mfa_token"]
    replayed = await client.post(
        TOKEN, data={"grant_type": MFA_OTP_GRANT, "mfa_token": replay_step, "otp": code}
    )
    assert (replayed.status_code, replayed.json()["error"]) == (400, "invalid_grant")
    assert await sessions_of(session, account) == 1


async def test_the_password_grant_of_staff_who_must_enrol_gives_no_token(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    await staff(session, tenant=MFA_TENANT)

    response = await client.post(
        TOKEN,
        data={
            "grant_type": "password",
            "username": "clerk@example.org",
            "password": DEFAULT_PASSWORD,
            "tenant": MFA_TENANT,
        },
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert response.json()["mfa_enrolment_required"] is True
    assert "access_token" not in response.json()
    refused = await client.post(
        TOKEN,
        data={
            "grant_type": MFA_OTP_GRANT,
            "mfa_token": response.json()["mfa_token"],
            "otp": "123456",
        },
    )
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_grant")


async def test_the_secret_is_sealed_to_its_account_and_recovery_codes_are_hashed(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession, tokens: TokenFactory
) -> None:
    account = await staff(session)
    headers = tokens.headers(sub=account.id, tenant=TENANT, roles=["clerk"])
    secret = (await client.post(f"{MY_MFA}/enrolment", headers=headers)).json()["secret"]
    codes = (
        await client.post(
            f"{MY_MFA}/enrolment/confirm", json={"code": code_now(app, secret)}, headers=headers
        )
    ).json()["recovery_codes"]

    enrolment = await session.scalar(
        select(MfaEnrolment).where(MfaEnrolment.account_id == account.id)
    )
    stored = (
        await session.scalars(
            select(MfaRecoveryCode.code_hash).where(MfaRecoveryCode.account_id == account.id)
        )
    ).all()

    assert enrolment is not None
    assert secret not in enrolment.secret_ciphertext
    cipher = app.state.key_cipher
    assert cipher.decrypt(enrolment.secret_ciphertext, kid=f"mfa:{account.id}") == {"totp": secret}
    with pytest.raises(KeyDecryptionError):
        cipher.decrypt(enrolment.secret_ciphertext, kid="mfa:another-account")
    assert len(stored) == 10
    assert all(value.startswith("$argon2id$") for value in stored)
    passwords = app.state.passwords
    assert [await passwords.verify(value, codes[0].replace("-", "")) for value in stored].count(
        True
    ) == 1
