from __future__ import annotations

import asyncio
from typing import Annotated

import httpx
from fastapi import APIRouter, Path, Query, Request, Response

from booking.access import TenantAdmin
from booking.catalogue.errors import ServiceNotFound
from booking.catalogue.schemas import LEIKA_PATTERN
from booking.cooperation.errors import PartnerIsItself, PartnerNotFound
from booking.cooperation.repository import PartnerRepository
from booking.cooperation.schemas import (
    EarliestOut,
    PartnerIn,
    PartnerOut,
    PartnersOut,
    SearchOut,
)
from booking.cooperation.service import NotOffered, ask_partner, earliest, search
from booking.db import SessionDep
from booking.dependencies import CacheDep, reading, settings_of
from servicekit.auth import AUTH_PROBLEMS
from servicekit.db import utcnow
from servicekit.problems import ValidationFailed, problem_responses
from servicekit.tenancy import AGS_PATTERN, AgsPath

router = APIRouter(prefix="/booking/v1/tenants/{ags}", tags=["cooperation"])

PartnerAgs = Annotated[str, Path(pattern=AGS_PATTERN, description="The partner municipality's AGS")]
LeikaQuery = Annotated[
    str, Query(pattern=LEIKA_PATTERN, description="The service's LeiKa/FIM Leistungsschlüssel")
]


def partner_http(request: Request) -> httpx.AsyncClient:
    http: httpx.AsyncClient = request.app.state.partner_http
    return http


async def _earliest_here(request: Request, cache: CacheDep, ags: str, leika: str) -> bytes:
    settings = settings_of(request)

    async def compute() -> bytes:
        async with reading(request) as planner:
            found = await earliest(
                planner, planner.services, ags, leika, utcnow(), settings.earliest_horizon_days
            )
        return found.model_dump_json().encode()

    return await cache.answer(ags, ("earliest", leika), compute)


@router.get(
    "/earliest",
    response_model=EarliestOut,
    responses=problem_responses(ServiceNotFound, ValidationFailed),
)
async def earliest_appointment(
    ags: AgsPath, request: Request, cache: CacheDep, leika: LeikaQuery
) -> Response:
    """The earliest free appointment for the service with this LeiKa key, at any office: what
    partner municipalities ask each other (no token needed, like availability)."""
    answer = await _earliest_here(request, cache, ags, leika)
    return Response(answer, media_type="application/json")


@router.get(
    "/earliest/search",
    response_model=SearchOut,
    responses=problem_responses(ValidationFailed),
)
async def search_earliest(
    ags: AgsPath, request: Request, cache: CacheDep, leika: LeikaQuery
) -> Response:
    """The earliest appointments for a service here and at every partner municipality, asked
    at once; a partner that is down or slower than the deadline is reported, not fatal.
    Searches for the same service within a second share one round of questions."""
    settings = settings_of(request)

    async def compute() -> bytes:
        # A session of its own, ended before the answer here is computed in another one (on
        # SQLite, an open transaction would hold the lock that one waits for).
        async with request.app.state.database.sessionmaker() as session:
            partners = await PartnerRepository(session).of(ags)
        http = partner_http(request)
        asking = [
            (p, asyncio.ensure_future(ask_partner(http, p, leika, settings.partner_timeout_s)))
            for p in partners
        ]
        try:
            here: EarliestOut | NotOffered = EarliestOut.model_validate_json(
                await _earliest_here(request, cache, ags, leika)
            )
        except ServiceNotFound:
            here = NotOffered()
        found = await search(here, asking, ags, leika)
        return found.model_dump_json().encode()

    answer = await cache.answer(ags, ("search", leika), compute)
    return Response(answer, media_type="application/json")


@router.get(
    "/partners",
    response_model=PartnersOut,
    responses=problem_responses(*AUTH_PROBLEMS, ValidationFailed),
)
async def list_partners(ags: AgsPath, _admin: TenantAdmin, session: SessionDep) -> PartnersOut:
    """The partner municipalities searched along (administrators)."""
    partners = await PartnerRepository(session).of(ags)
    return PartnersOut(items=[PartnerOut.model_validate(p) for p in partners])


@router.put(
    "/partners/{partner_ags}",
    response_model=PartnerOut,
    responses=problem_responses(*AUTH_PROBLEMS, PartnerIsItself, ValidationFailed),
)
async def put_partner(
    ags: AgsPath,
    partner_ags: PartnerAgs,
    body: PartnerIn,
    _admin: TenantAdmin,
    session: SessionDep,
) -> PartnerOut:
    """Register (or change) a partner municipality and where its Rathaus answers."""
    if partner_ags == ags:
        raise PartnerIsItself()
    partner = await PartnerRepository(session).put(ags, partner_ags, body.name, body.base_url)
    return PartnerOut.model_validate(partner)


@router.delete(
    "/partners/{partner_ags}",
    status_code=204,
    response_class=Response,
    responses=problem_responses(*AUTH_PROBLEMS, PartnerNotFound, ValidationFailed),
)
async def delete_partner(
    ags: AgsPath, partner_ags: PartnerAgs, _admin: TenantAdmin, session: SessionDep
) -> Response:
    """Stop searching a partner municipality."""
    if not await PartnerRepository(session).remove(ags, partner_ags):
        raise PartnerNotFound()
    return Response(status_code=204)
