from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from booking.access import NotAdministrator, TenantAdmin
from booking.availability.dependencies import forget_catalogue_on_write
from booking.catalogue.dependencies import CatalogueDep
from booking.catalogue.errors import LeikaTaken, ServiceNotFound, UnknownRequiredDocument
from booking.catalogue.schemas import LEIKA_PATTERN, ServiceIn, ServiceList, ServiceOut
from booking.language import LanguageDep
from servicekit.auth import InvalidToken
from servicekit.problems import ValidationFailed, problem_responses
from servicekit.tenancy import AgsPath, NotYourMunicipality

router = APIRouter(
    prefix="/booking/v1/tenants/{ags}/services",
    tags=["catalogue"],
    dependencies=[Depends(forget_catalogue_on_write)],
)


@router.get("", response_model=ServiceList, responses=problem_responses(ValidationFailed))
async def list_services(
    ags: AgsPath,
    catalogue: CatalogueDep,
    language: LanguageDep,
    leika: Annotated[str | None, Query(pattern=LEIKA_PATTERN)] = None,
) -> ServiceList:
    """The municipality's service catalogue with each service's pre-information."""
    services = await catalogue.list(ags, leika)
    return ServiceList(items=[ServiceOut.of(s, language) for s in services])


@router.get(
    "/{service_id}",
    response_model=ServiceOut,
    responses=problem_responses(ServiceNotFound, ValidationFailed),
)
async def get_service(
    ags: AgsPath, service_id: uuid.UUID, catalogue: CatalogueDep, language: LanguageDep
) -> ServiceOut:
    """One service with its required documents (the pre-information)."""
    return ServiceOut.of(await catalogue.get(ags, service_id), language)


@router.post(
    "",
    status_code=201,
    response_model=ServiceOut,
    responses=problem_responses(
        InvalidToken,
        NotAdministrator,
        NotYourMunicipality,
        LeikaTaken,
        UnknownRequiredDocument,
        ValidationFailed,
    ),
)
async def create_service(
    ags: AgsPath,
    body: ServiceIn,
    _admin: TenantAdmin,
    catalogue: CatalogueDep,
    language: LanguageDep,
) -> ServiceOut:
    """Add a service to the catalogue (administrators)."""
    return ServiceOut.of(await catalogue.create(ags, body), language)


@router.put(
    "/{service_id}",
    response_model=ServiceOut,
    responses=problem_responses(
        InvalidToken,
        NotAdministrator,
        NotYourMunicipality,
        ServiceNotFound,
        LeikaTaken,
        UnknownRequiredDocument,
        ValidationFailed,
    ),
)
async def replace_service(
    ags: AgsPath,
    service_id: uuid.UUID,
    body: ServiceIn,
    _admin: TenantAdmin,
    catalogue: CatalogueDep,
    language: LanguageDep,
) -> ServiceOut:
    """Replace a service; required documents given with their ``id`` keep it (administrators)."""
    return ServiceOut.of(await catalogue.replace(ags, service_id, body), language)
