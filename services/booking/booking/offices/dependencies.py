"""The offices' dependency: the directory on the request's session."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from booking.offices.repository import OfficeRepository
from booking.offices.service import OfficeDirectory
from servicekit.dependencies import SessionDep


async def _directory(session: SessionDep) -> OfficeDirectory:
    return OfficeDirectory(OfficeRepository(session))


DirectoryDep = Annotated[OfficeDirectory, Depends(_directory)]
