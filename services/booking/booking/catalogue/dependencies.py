"""The catalogue's dependency: its service on the request's session."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from booking.catalogue.repository import ServiceRepository
from booking.catalogue.service import CatalogueService
from servicekit.dependencies import SessionDep


async def _catalogue(session: SessionDep) -> CatalogueService:
    return CatalogueService(ServiceRepository(session))


CatalogueDep = Annotated[CatalogueService, Depends(_catalogue)]
