"""Bot protection: an ALTCHA proof of work in front of what a script would do by the thousand.

A browser widget (ALTCHA, as in ZMS) fetches a challenge, spends a moment of CPU finding the
number whose hash matches it, and sends the solution with the request it protects; a script
pays that moment for every request. The map::

    BotcheckSettings   per municipality: off in development and tests, on in production
    Botcheck           issues challenges (HMAC-signed, expiring, bound to the municipality)
                       and verifies solutions; each solution is accepted once
    UsedChallengeColumns  the table of accepted solutions, in the service's own database, so
                       replicas share it: ``class UsedChallenge(UsedChallengeColumns, Base)``
    botcheck_router()  ``GET <prefix>/tenants/{ags}/botcheck``: the widget's ``challengeurl``
    HumanVerified      the dependency of a protected route: the ``X-Altcha`` header verified
                       in the request's transaction (the solution counts as used exactly when
                       the request's change is committed)
    BotcheckSolution   the header alone, for a route that verifies inside its own work
                       (``await botcheck.verify(session, ags, solution)``)

A missing, forged, expired or foreign solution answers 403 ``botcheck-failed``; one that was
accepted before, 403 ``botcheck-replayed``.
"""

from __future__ import annotations

import base64
import binascii
import json
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from altcha import v1 as altcha
from fastapi import APIRouter, Depends, Header
from pydantic import BaseModel, Field, SecretStr
from sqlalchemy import String, delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from servicekit.db import SessionDep, UTCDateTime, insert_ignoring_conflicts, utcnow
from servicekit.dependencies import app_state
from servicekit.problems import Forbidden, ValidationFailed, problem_responses
from servicekit.settings import Environment, ServiceSettings
from servicekit.tenancy import AgsPath

PLACEHOLDER_BOTCHECK_SECRET = "development-only-botcheck-secret-change-me"
SOLUTION_HEADER = "X-Altcha"
ALGORITHM: Literal["SHA-256"] = "SHA-256"
# Expired solutions are forgotten now and then by the verifications themselves.
PURGE_PROBABILITY = 0.01


class BotcheckSettings(ServiceSettings):
    """``class BookingSettings(MailSettings, BotcheckSettings)``: the ``<SERVICE>_BOTCHECK_*``
    settings."""

    botcheck_required: bool | None = Field(
        default=None,
        description="A proof of work on protected routes; None: on in production only",
    )
    tenant_botcheck_required: dict[str, bool] = Field(
        default_factory=dict, description="Per municipality (AGS), instead of botcheck_required"
    )
    botcheck_secret: SecretStr = Field(
        default=SecretStr(PLACEHOLDER_BOTCHECK_SECRET),
        min_length=32,
        description="Signs the challenges (HMAC); every replica needs the same",
    )
    botcheck_max_number: int = Field(
        default=100_000,
        ge=1_000,
        le=10_000_000,
        description="The difficulty: a browser tries half of it on average (~0.1 s at 100000)",
    )
    botcheck_expires_s: int = Field(
        default=600, ge=30, le=3600, description="How long a challenge may be solved and used"
    )

    def botcheck_required_for(self, tenant: str) -> bool:
        if tenant in self.tenant_botcheck_required:
            return self.tenant_botcheck_required[tenant]
        if self.botcheck_required is not None:
            return self.botcheck_required
        return self.environment is Environment.PRODUCTION

    def insecure_settings(self) -> list[str]:
        problems = super().insecure_settings()
        if self.botcheck_secret.get_secret_value() == PLACEHOLDER_BOTCHECK_SECRET:
            problems.append("botcheck_secret: the development placeholder; set a secret")
        if self.botcheck_required is False or False in self.tenant_botcheck_required.values():
            problems.append("botcheck_required: anonymous holds and sign-ups need it in production")
        return problems


class BotcheckFailed(Forbidden):
    type_slug = "botcheck-failed"
    title = "The proof of work is missing, wrong or expired; solve a new challenge"


class BotcheckReplayed(Forbidden):
    type_slug = "botcheck-replayed"
    title = "This proof of work was used already; solve a new challenge"


BOTCHECK_PROBLEMS = (BotcheckFailed, BotcheckReplayed)


class UsedChallengeColumns:
    """``class UsedChallenge(UsedChallengeColumns, Base): pass`` in a service that checks."""

    __tablename__ = "botcheck_used_challenges"

    challenge: Mapped[str] = mapped_column(String(128), primary_key=True)
    """The challenge's hash: one per issued challenge, so one accepted solution each."""
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class BotcheckChallenge(BaseModel):
    """What the ALTCHA widget fetches from its ``challengeurl``."""

    algorithm: str = Field(examples=[ALGORITHM])
    challenge: str
    maxnumber: int = Field(description="The widget's name for the difficulty")
    salt: str
    signature: str
    required: bool = Field(
        description="Whether this municipality asks for a solution (the widget may be hidden "
        "when not)"
    )


class Botcheck:
    """Challenges and their verification for one service (built once at startup)."""

    def __init__(
        self,
        settings: BotcheckSettings,
        model: type[UsedChallengeColumns],
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.model = model
        self.clock = clock
        self._key = settings.botcheck_secret.get_secret_value()

    def required_for(self, tenant: str) -> bool:
        return self.settings.botcheck_required_for(tenant)

    def challenge(self, tenant: str) -> BotcheckChallenge:
        expires = self.clock() + timedelta(seconds=self.settings.botcheck_expires_s)
        issued = altcha.create_challenge(
            altcha.ChallengeOptions(
                algorithm=ALGORITHM,
                hmac_key=self._key,
                max_number=self.settings.botcheck_max_number,
                expires=expires,
                params={"tenant": tenant},
            )
        )
        return BotcheckChallenge(
            algorithm=issued.algorithm,
            challenge=issued.challenge,
            maxnumber=issued.max_number,
            salt=issued.salt,
            signature=issued.signature,
            required=self.required_for(tenant),
        )

    async def verify(self, session: AsyncSession, tenant: str, solution: str | None) -> None:
        """Nothing where the municipality does not ask; else the solution is checked and
        recorded as used in ``session``'s transaction (a concurrent second use waits for it
        on PostgreSQL, and is refused once it commits)."""
        if not self.required_for(tenant):
            return
        if not solution:
            raise BotcheckFailed(f"Send the solution of a challenge in {SOLUTION_HEADER}.")
        payload = _decoded(solution)
        now = self.clock()
        expires_at = self._check(payload, tenant, now)
        model: Any = self.model
        if random.random() < PURGE_PROBABILITY:
            await session.execute(delete(model).where(model.expires_at < now))
        inserted = await session.execute(
            insert_ignoring_conflicts(session, model)
            .values(challenge=payload["challenge"], expires_at=expires_at)
            .returning(model.challenge)
        )
        if inserted.first() is None:
            raise BotcheckReplayed()

    def _check(self, payload: dict[str, Any], tenant: str, now: datetime) -> datetime:
        """The solution's expiry, when it is a solution of a challenge we issued for
        ``tenant`` that has not expired."""
        if payload.get("algorithm") != ALGORITHM or not all(
            isinstance(payload.get(name), str) for name in ("challenge", "salt", "signature")
        ):
            raise BotcheckFailed()
        if not isinstance(payload.get("number"), int) or len(payload["challenge"]) > 128:
            raise BotcheckFailed()
        solved = altcha.Payload(
            algorithm=ALGORITHM,
            challenge=payload["challenge"],
            number=payload["number"],
            salt=payload["salt"],
            signature=payload["signature"],
        )
        params = altcha.extract_params(solved.to_dict())
        try:
            expires_at = datetime.fromtimestamp(int(params["expires"][0]), UTC)
        except (KeyError, IndexError, ValueError, OverflowError, OSError) as error:
            raise BotcheckFailed("The challenge carries no valid expiry.") from error
        if params.get("tenant") != [tenant]:
            raise BotcheckFailed("The challenge was issued for another municipality.")
        if expires_at <= now:
            raise BotcheckFailed("The challenge has expired.")
        try:
            verified, _ = altcha.verify_solution(solved, self._key, check_expires=False)
        except Exception as error:  # a forged payload must never surface as a 500
            raise BotcheckFailed() from error
        if not verified:
            raise BotcheckFailed()
        return expires_at


def _decoded(solution: str) -> dict[str, Any]:
    """The widget's payload: base64 of a JSON object."""
    try:
        payload = json.loads(base64.b64decode(solution, validate=True))
    except (binascii.Error, ValueError) as error:
        raise BotcheckFailed("The solution is not the widget's payload.") from error
    if not isinstance(payload, dict):
        raise BotcheckFailed("The solution is not the widget's payload.")
    return payload


BotcheckDep = Annotated[Botcheck, Depends(app_state("botcheck", Botcheck))]

BotcheckSolution = Annotated[
    str | None,
    Header(
        alias=SOLUTION_HEADER,
        max_length=4096,
        description="The ALTCHA widget's payload for a challenge of GET .../botcheck "
        "(where the municipality asks for one)",
    ),
]


async def _human_verified(
    ags: AgsPath, botcheck: BotcheckDep, session: SessionDep, solution: BotcheckSolution = None
) -> None:
    await botcheck.verify(session, ags, solution)


HumanVerified = Annotated[None, Depends(_human_verified)]
"""A route's ``_human: HumanVerified``: 403 unless a fresh solution for the ``{ags}`` of the
path is sent (where the municipality asks for one)."""


def botcheck_router(prefix: str) -> APIRouter:
    """``GET <prefix>/tenants/{ags}/botcheck``, e.g. ``botcheck_router("/booking/v1")``."""
    router = APIRouter(prefix=prefix, tags=["bot protection"])

    @router.get(
        "/tenants/{ags}/botcheck",
        response_model=BotcheckChallenge,
        responses=problem_responses(ValidationFailed),
    )
    async def botcheck_challenge(ags: AgsPath, botcheck: BotcheckDep) -> BotcheckChallenge:
        """A proof-of-work challenge (ALTCHA) for this municipality's protected requests."""
        return botcheck.challenge(ags)

    return router
