"""Real clients in parallel with one mailed code (a new address, a staff invitation): one
wins, every other one is told the code is spent, and the change is made once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from identity.accounts.models import Account, EmailChange
from identity.accounts.service import token_hash
from identity.audit.models import AuditEvent
from identity.password_reset.models import INVITATION, PasswordReset
from servicekit.db import create_engine, utcnow
from servicekit.testing.live import LiveServer

from ..factories import create_account, create_tenant

CODE = "a-mailed-code-0123456789-abcdefghijklmnopqrstuvwxyz"


@pytest.fixture
async def accounts(live_service: LiveServer, fresh_database_url: str) -> tuple[str, str]:
    """A citizen with a pending address change and an invited clerk, each with ``CODE``'s
    kind of code as identity mails it (kept hashed)."""
    engine = create_engine(fresh_database_url)
    now = utcnow()
    async with async_sessionmaker(engine, expire_on_commit=False)() as session, session.begin():
        await create_tenant(session)
        citizen = await create_account(session)
        clerk = await create_account(session, email="neu@musterstadt.example", roles=("clerk",))
        session.add(
            EmailChange(
                id=str(uuid.uuid4()),
                account_id=citizen.id,
                new_email="erika.neu@example.org",
                token_hash=token_hash("email-" + CODE),
                created_at=now,
                expires_at=now + timedelta(minutes=30),
            )
        )
        session.add(
            PasswordReset(
                id=str(uuid.uuid4()),
                account_id=clerk.id,
                token_hash=token_hash("invite-" + CODE),
                created_at=now,
                expires_at=now + timedelta(hours=1),
                purpose=INVITATION,
            )
        )
    await engine.dispose()
    return citizen.id, clerk.id


async def test_one_code_used_in_parallel_changes_the_address_and_sets_the_password_once(
    live_service: LiveServer, fresh_database_url: str, accounts: tuple[str, str]
) -> None:
    citizen_id, _ = accounts
    async with httpx.AsyncClient(base_url=live_service.url, timeout=30) as http:
        changes, acceptances = await asyncio.gather(
            asyncio.gather(
                *[
                    http.post(
                        "/identity/v1/accounts/email-change/confirm",
                        json={"token": "email-" + CODE},
                    )
                    for _ in range(6)
                ]
            ),
            asyncio.gather(
                *[
                    http.post(
                        "/identity/v1/accounts/invitations/acceptance",
                        json={"token": "invite-" + CODE, "password": f"first password {n:02d}"},
                    )
                    for n in range(6)
                ]
            ),
        )
        [winner] = [n for n, answer in enumerate(acceptances) if answer.status_code == 204]
        loser = (winner + 1) % 6
        logins = [
            await http.post(
                "/identity/v1/auth/login",
                json={
                    "tenant": "06999001",
                    "email": "neu@musterstadt.example",
                    "password": f"first password {n:02d}",
                },
            )
            for n in (winner, loser)  # the winner first: wrong passwords lock the account
        ]

    assert sorted(answer.status_code for answer in changes) == [204] + [410] * 5
    assert sorted(answer.status_code for answer in acceptances) == [204] + [410] * 5
    # The password of the acceptance that won works, a loser's does not.
    assert [login.status_code for login in logins] == [200, 401]
    engine = create_engine(fresh_database_url)
    async with async_sessionmaker(engine)() as session:
        email = await session.scalar(select(Account.email).where(Account.id == citizen_id))
        successes = await session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(
                AuditEvent.action.in_(["email_change", "invitation_accepted"]),
                AuditEvent.outcome == "success",
            )
        )
    await engine.dispose()
    assert email == "erika.neu@example.org"
    assert successes == 2
