"""Cooperation between municipalities: the earliest appointment for a service, here and at the
partner municipalities that run their own Rathaus (see
``docs/architecture.md#cooperation-between-municipalities``).

Each partner is asked over its public contract (``GET /booking/v1/tenants/{ags}/earliest``), all
at once and each within the same deadline, through the kit's SSRF-safe client
(``servicekit.outbound``); a partner that is down, slow or answers outside the contract is
reported as unavailable, never fatal. Why it was unavailable is recorded on the partner for the
administrator: an anonymous caller learns nothing about the networks behind a partner's URL.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

import httpx
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from booking.availability.service import CachedAnswers, Planner
from booking.catalogue.errors import ServiceNotFound
from booking.catalogue.repository import ServiceRepository
from booking.cooperation.errors import (
    PartnerIsItself,
    PartnerNotFound,
    PartnerTakesNoCases,
    PartnerTokenRefused,
    PartnerUrlRefused,
)
from booking.cooperation.models import Partner
from booking.cooperation.repository import PartnerRepository
from booking.cooperation.schemas import (
    EarliestAppointment,
    EarliestOut,
    MunicipalityAppointment,
    PartnerCredentialsIn,
    SearchOut,
    Unavailable,
)
from booking.cooperation.tokens import PartnerTokens, PartnerTokenUnavailable
from servicekit.db import Database, utcnow
from servicekit.outbound.client import AnswerTooLarge, OutboundRefused, read_bounded
from servicekit.outbound.policy import AddressRefused, OutboundPolicy
from servicekit.sealing import Sealer

logger = logging.getLogger(__name__)


class Partners:
    """The partner municipalities a tenant searches along (administrators manage them)."""

    def __init__(self, partners: PartnerRepository, policy: OutboundPolicy, sealer: Sealer) -> None:
        self.partners = partners
        self.policy = policy
        self.sealer = sealer

    async def of(self, tenant: str) -> Sequence[Partner]:
        return await self.partners.of(tenant)

    async def put(
        self,
        tenant: str,
        ags: str,
        name: str,
        base_url: str,
        credentials: PartnerCredentialsIn | None,
    ) -> Partner:
        """Register or change a partner, and how we sign in there (its client secret sealed)."""
        if ags == tenant:
            raise PartnerIsItself()
        for url in (base_url, credentials.issuer if credentials else None):
            try:
                if url is not None:
                    self.policy.check_literal(url)
            except AddressRefused as refused:
                raise PartnerUrlRefused(f"{refused}.") from refused
        partner = await self.partners.put(tenant, ags, name, base_url)
        if credentials is None:
            partner.issuer = partner.client_id = partner.client_secret_sealed = None
            partner.scopes = None
        else:
            partner.issuer = credentials.issuer
            partner.client_id = credentials.client_id
            partner.client_secret_sealed = self.sealer.seal(
                credentials.client_secret.get_secret_value(), bound_to=partner.seal_binding
            )
            partner.scopes = " ".join(dict.fromkeys(credentials.scopes))
        await self.partners.flush()
        return partner

    async def handover_token(
        self, tenant: str, ags: str, tokens: PartnerTokens
    ) -> tuple[Partner, str]:
        """The partner that takes our cases, and a token of its identity for handing one over
        (``cases:handover`` among the scopes registered for it; shared with the search's
        cached tokens)."""
        partner = await self.partners.get((tenant, ags))
        if partner is None:
            raise PartnerNotFound(f"No partner {ags} is registered here.")
        if HANDOVER_SCOPE not in (partner.scopes or "").split():
            raise PartnerTakesNoCases(
                f"Register credentials with the scope {HANDOVER_SCOPE} for partner {ags}."
            )
        try:
            header = await tokens.header(partner)
        except PartnerTokenUnavailable as unavailable:
            raise PartnerTokenRefused(headers={"Retry-After": "30"}) from unavailable
        return partner, header["Authorization"].removeprefix("Bearer ")

    async def remove(self, tenant: str, ags: str) -> None:
        if not await self.partners.remove(tenant, ags):
            raise PartnerNotFound()


async def earliest(
    planner: Planner,
    services: ServiceRepository,
    tenant: str,
    leika: str,
    now: datetime,
    horizon_days: int,
) -> EarliestOut:
    """The earliest free slot of the tenant's service with this LeiKa key at any office."""
    service = await services.get_by_leika(tenant, leika)
    if service is None:
        raise ServiceNotFound(f"No service with LeiKa {leika} here.")
    # From yesterday in UTC: the offices' local today, whatever their time zone; the planner
    # keeps to each office's booking window and to what lies ahead of ``now``.
    first = (now - timedelta(days=1)).date()
    days = await planner.available_days(
        tenant, [service.id], [], first, first + timedelta(days=horizon_days + 1), now
    )
    for day in sorted(days):
        slots = await planner.free_slots(tenant, [service.id], [], day, now)
        if slots:
            slot = min(slots, key=lambda s: s.start)
            appointment = EarliestAppointment(
                service_id=service.id, office_id=slot.office_id, start=slot.start, end=slot.end
            )
            return EarliestOut(tenant=tenant, leika=leika, appointment=appointment)
    return EarliestOut(tenant=tenant, leika=leika, appointment=None)


HANDOVER_SCOPE = "cases:handover"
"""What our token at a partner must hold for handing it a case."""

MAX_ANSWER_BYTES = 16 * 1024
"""A partner's answer is a few hundred bytes; more is not read."""


class NotOffered(Exception):
    pass


UNAVAILABLE = "unavailable"
"""All a caller of the search learns about a partner that did not answer well."""


def outcome(answer: EarliestOut | Unavailable | NotOffered) -> str:
    """How a partner answered, for its record."""
    if isinstance(answer, Unavailable):
        return answer.reason
    return "not offered" if isinstance(answer, NotOffered) else "answered"


async def ask_partner(
    tokens: PartnerTokens, partner: Partner, leika: str, timeout_s: float
) -> EarliestOut | Unavailable | NotOffered:
    """One partner's earliest appointment, asked with a token from its identity (when we hold
    credentials there) and within ``timeout_s`` all told."""
    url = f"{partner.base_url.rstrip('/')}/booking/v1/tenants/{partner.ags}/earliest"

    def unavailable(reason: str) -> Unavailable:
        return Unavailable(tenant=partner.ags, municipality=partner.name, reason=reason)

    async def ask() -> tuple[int, bytes]:
        headers = await tokens.header(partner)
        async with tokens.http.stream(
            "GET", url, params={"leika": leika}, headers=headers
        ) as response:
            return response.status_code, await read_bounded(response, MAX_ANSWER_BYTES)

    try:
        async with asyncio.timeout(timeout_s):
            status, body = await ask()
            if status == 401 and partner.client_id:  # its keys may have rotated: once more
                tokens.forget(partner)
                status, body = await ask()
    except PartnerTokenUnavailable as unavailable_token:
        return unavailable(f"no token: {unavailable_token}"[:200])
    except AnswerTooLarge:
        return unavailable("answered too much")
    except TimeoutError:
        return unavailable("timeout")
    except OutboundRefused as refused:
        return unavailable(f"refused: {refused}"[:200])
    except (httpx.HTTPError, httpx.InvalidURL):  # InvalidURL: registered before it was refused
        return unavailable("unreachable")
    if status == 404:
        return NotOffered()
    if status != 200:
        return unavailable(f"answered {status}")
    try:
        answer = EarliestOut.model_validate_json(body)
    except ValidationError:
        return unavailable("answered outside the contract")
    if answer.tenant != partner.ags or answer.leika != leika:
        return unavailable("answered for another municipality or service")
    return answer


async def search(
    home: EarliestOut | NotOffered,
    asking: Sequence[tuple[Partner, asyncio.Future[EarliestOut | Unavailable | NotOffered]]],
    tenant: str,
    leika: str,
) -> SearchOut:
    """Put together this municipality's answer and the partners' (asked concurrently)."""
    out = SearchOut(leika=leika, appointments=[], fully_booked=[], not_offered=[], unavailable=[])
    answers: list[tuple[Partner | None, EarliestOut | Unavailable | NotOffered]] = [(None, home)]
    answers += [(partner, await answer) for partner, answer in asking]
    for partner, answer in answers:
        ags = partner.ags if partner else tenant
        if isinstance(answer, Unavailable):
            out.unavailable.append(answer.model_copy(update={"reason": UNAVAILABLE}))
        elif isinstance(answer, NotOffered):
            out.not_offered.append(ags)
        elif answer.appointment is None:
            out.fully_booked.append(ags)
        else:
            out.appointments.append(
                MunicipalityAppointment(
                    **answer.appointment.model_dump(),
                    tenant=ags,
                    municipality=partner.name if partner else None,
                    base_url=partner.base_url if partner else None,
                )
            )
    out.appointments.sort(key=lambda a: a.start)
    return out


async def earliest_here(
    answers: CachedAnswers, tenant: str, leika: str, horizon_days: int
) -> bytes:
    """:func:`earliest` of this municipality as JSON, from the process's cached answers."""

    async def compute() -> bytes:
        async with answers.planner() as planner:
            found = await earliest(planner, planner.services, tenant, leika, utcnow(), horizon_days)
        return found.model_dump_json().encode()

    return await answers.answer(tenant, ("earliest", leika), compute)


async def search_everywhere(
    answers: CachedAnswers,
    database: Database,
    tokens: PartnerTokens,
    tenant: str,
    leika: str,
    *,
    horizon_days: int,
    partner_timeout_s: float,
) -> bytes:
    """:func:`search` as JSON, here and at every partner; searches for the same service
    within the answer cache's time share one round of questions."""

    async def compute() -> bytes:
        # A session of its own, ended before the answer here is computed in another one (on
        # SQLite, an open transaction would hold the lock that one waits for).
        async with database.sessionmaker() as session:
            partners = await PartnerRepository(session).of(tenant)
        asking = [
            (p, asyncio.ensure_future(ask_partner(tokens, p, leika, partner_timeout_s)))
            for p in partners
        ]
        try:
            here: EarliestOut | NotOffered = EarliestOut.model_validate_json(
                await earliest_here(answers, tenant, leika, horizon_days)
            )
        except ServiceNotFound:
            here = NotOffered()
        asked_at = utcnow()
        found = await search(here, asking, tenant, leika)
        if asking:
            outcomes = {p.ags: outcome(answer.result()) for p, answer in asking}
            try:
                async with database.sessionmaker() as session, session.begin():
                    await PartnerRepository(session).record_outcomes(tenant, outcomes, asked_at)
            except SQLAlchemyError:  # the record is for the administrator; the answer stands
                logger.exception("recording the partners' answers failed")
        return found.model_dump_json().encode()

    return await answers.answer(tenant, ("search", leika), compute)
