from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from booking.access import PartnerSearching, TenantAdmin
from booking.availability.dependencies import CachedAnswersDep
from booking.catalogue.errors import ServiceNotFound
from booking.catalogue.schemas import LEIKA_PATTERN
from booking.cooperation.dependencies import PartnersDep, PartnerTokensDep
from booking.cooperation.errors import PartnerIsItself, PartnerNotFound, PartnerUrlRefused
from booking.cooperation.schemas import (
    EarliestOut,
    PartnerIn,
    PartnerOut,
    PartnersOut,
    SearchOut,
)
from booking.cooperation.service import earliest_here, search_everywhere
from booking.settings import SettingsDep
from servicekit.auth import AUTH_PROBLEMS, InsufficientScope
from servicekit.dependencies import DatabaseDep
from servicekit.problems import ValidationFailed, problem_responses
from servicekit.tenancy import AGS_PATTERN, AgsPath, NotYourMunicipality

router = APIRouter(prefix="/booking/v1/tenants/{ags}", tags=["cooperation"])

PartnerAgs = Annotated[str, Path(pattern=AGS_PATTERN, description="The partner municipality's AGS")]
LeikaQuery = Annotated[
    str, Query(pattern=LEIKA_PATTERN, description="The service's LeiKa/FIM Leistungsschlüssel")
]


@router.get(
    "/earliest",
    response_model=EarliestOut,
    # A token is optional in the contract (v1 was public) and required by default setting.
    openapi_extra={"security": [{}]},
    responses=problem_responses(
        *AUTH_PROBLEMS,
        InsufficientScope,
        NotYourMunicipality,
        ServiceNotFound,
        ValidationFailed,
    ),
)
async def earliest_appointment(
    ags: AgsPath,
    _partner: PartnerSearching,
    answers: CachedAnswersDep,
    settings: SettingsDep,
    leika: LeikaQuery,
) -> Response:
    """The earliest free appointment for the service with this LeiKa key, at any office: what
    partner municipalities ask each other, with a client-credentials token of this
    municipality's identity holding ``booking:search``."""
    answer = await earliest_here(answers, ags, leika, settings.earliest_horizon_days)
    return Response(answer, media_type="application/json")


@router.get(
    "/earliest/search",
    response_model=SearchOut,
    responses=problem_responses(ValidationFailed),
)
async def search_earliest(
    ags: AgsPath,
    answers: CachedAnswersDep,
    settings: SettingsDep,
    database: DatabaseDep,
    tokens: PartnerTokensDep,
    leika: LeikaQuery,
) -> Response:
    """The earliest appointments for a service here and at every partner municipality, asked
    at once; a partner that is down or slower than the deadline is reported, not fatal.
    Searches for the same service within a second share one round of questions."""
    answer = await search_everywhere(
        answers,
        database,
        tokens,
        ags,
        leika,
        horizon_days=settings.earliest_horizon_days,
        partner_timeout_s=settings.partner_timeout_s,
    )
    return Response(answer, media_type="application/json")


@router.get(
    "/partners",
    response_model=PartnersOut,
    responses=problem_responses(*AUTH_PROBLEMS, NotYourMunicipality, ValidationFailed),
)
async def list_partners(ags: AgsPath, _admin: TenantAdmin, partners: PartnersDep) -> PartnersOut:
    """The partner municipalities searched along, and how each answered last (administrators)."""
    return PartnersOut(items=[PartnerOut.of(p) for p in await partners.of(ags)])


@router.put(
    "/partners/{partner_ags}",
    response_model=PartnerOut,
    responses=problem_responses(
        *AUTH_PROBLEMS, NotYourMunicipality, PartnerIsItself, PartnerUrlRefused, ValidationFailed
    ),
)
async def put_partner(
    ags: AgsPath,
    partner_ags: PartnerAgs,
    body: PartnerIn,
    _admin: TenantAdmin,
    partners: PartnersDep,
) -> PartnerOut:
    """Register (or change) a partner municipality and where its Rathaus answers: https
    outside development, and no address in our own networks (see docs/architecture.md)."""
    partner = await partners.put(ags, partner_ags, body.name, body.base_url, body.credentials)
    return PartnerOut.of(partner)


@router.delete(
    "/partners/{partner_ags}",
    status_code=204,
    response_class=Response,
    responses=problem_responses(
        *AUTH_PROBLEMS, NotYourMunicipality, PartnerNotFound, ValidationFailed
    ),
)
async def delete_partner(
    ags: AgsPath, partner_ags: PartnerAgs, _admin: TenantAdmin, partners: PartnersDep
) -> Response:
    """Stop searching a partner municipality."""
    await partners.remove(ags, partner_ags)
    return Response(status_code=204)
