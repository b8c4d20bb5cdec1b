from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel

from booking.access import NotAdministrator, TenantAdmin
from booking.availability.dependencies import forget_catalogue_on_write
from booking.offices.dependencies import DirectoryDep
from booking.offices.errors import OfficeNotFound, UnknownOfficeService
from booking.offices.schemas import OfficeIn, OfficeList, OfficeOut
from servicekit.auth import InvalidToken
from servicekit.problems import ValidationFailed, problem_responses
from servicekit.tenancy import AgsPath, NotYourMunicipality

router = APIRouter(
    prefix="/booking/v1/tenants/{ags}/offices",
    tags=["offices"],
    dependencies=[Depends(forget_catalogue_on_write)],
)

Subject = Annotated[str, Path(min_length=1, max_length=200, description="A clerk's token subject")]


class StaffList(BaseModel):
    subjects: list[str]


@router.get("", response_model=OfficeList, responses=problem_responses(ValidationFailed))
async def list_offices(
    ags: AgsPath,
    directory: DirectoryDep,
    service_id: Annotated[
        list[uuid.UUID] | None, Query(description="Only offices offering all of these")
    ] = None,
) -> OfficeList:
    """The municipality's offices (Standorte) with the services each offers."""
    offices = await directory.search(ags, service_id or [])
    return OfficeList(items=await directory.describe(offices))


@router.get(
    "/{office_id}",
    response_model=OfficeOut,
    responses=problem_responses(OfficeNotFound, ValidationFailed),
)
async def get_office(ags: AgsPath, office_id: uuid.UUID, directory: DirectoryDep) -> OfficeOut:
    """One office."""
    office = await directory.get(ags, office_id)
    return (await directory.describe([office]))[0]


@router.post(
    "",
    status_code=201,
    response_model=OfficeOut,
    responses=problem_responses(
        InvalidToken, NotAdministrator, NotYourMunicipality, UnknownOfficeService, ValidationFailed
    ),
)
async def create_office(
    ags: AgsPath, body: OfficeIn, _admin: TenantAdmin, directory: DirectoryDep
) -> OfficeOut:
    """Open an office (administrators)."""
    office = await directory.create(ags, body)
    return (await directory.describe([office]))[0]


@router.put(
    "/{office_id}",
    response_model=OfficeOut,
    responses=problem_responses(
        InvalidToken,
        NotAdministrator,
        NotYourMunicipality,
        OfficeNotFound,
        UnknownOfficeService,
        ValidationFailed,
    ),
)
async def replace_office(
    ags: AgsPath,
    office_id: uuid.UUID,
    body: OfficeIn,
    _admin: TenantAdmin,
    directory: DirectoryDep,
) -> OfficeOut:
    """Replace an office's data and offered services (administrators)."""
    office = await directory.replace(ags, office_id, body)
    return (await directory.describe([office]))[0]


@router.get(
    "/{office_id}/staff",
    response_model=StaffList,
    responses=problem_responses(
        InvalidToken, NotAdministrator, NotYourMunicipality, OfficeNotFound, ValidationFailed
    ),
)
async def list_staff(
    ags: AgsPath, office_id: uuid.UUID, _admin: TenantAdmin, directory: DirectoryDep
) -> StaffList:
    """The clerks working at an office (administrators)."""
    return StaffList(subjects=list(await directory.staff(ags, office_id)))


@router.put(
    "/{office_id}/staff/{subject}",
    status_code=204,
    response_class=Response,
    responses=problem_responses(
        InvalidToken, NotAdministrator, NotYourMunicipality, OfficeNotFound, ValidationFailed
    ),
)
async def add_staff(
    ags: AgsPath,
    office_id: uuid.UUID,
    subject: Subject,
    _admin: TenantAdmin,
    directory: DirectoryDep,
) -> None:
    """Let a clerk work at an office: they then see its appointments (administrators)."""
    await directory.add_staff(ags, office_id, subject)


@router.delete(
    "/{office_id}/staff/{subject}",
    status_code=204,
    response_class=Response,
    responses=problem_responses(
        InvalidToken, NotAdministrator, NotYourMunicipality, OfficeNotFound, ValidationFailed
    ),
)
async def remove_staff(
    ags: AgsPath,
    office_id: uuid.UUID,
    subject: Subject,
    _admin: TenantAdmin,
    directory: DirectoryDep,
) -> None:
    """Stop a clerk working at an office (administrators)."""
    await directory.remove_staff(ags, office_id, subject)
