"""Cooperation's dependencies: the HTTP client that asks partners, and the partners."""

from __future__ import annotations

from typing import Annotated

import httpx
from fastapi import Depends

from booking.cooperation.repository import PartnerRepository
from booking.cooperation.service import Partners
from booking.settings import SettingsDep
from servicekit.dependencies import SessionDep, app_state

PartnerHttpDep = Annotated[httpx.AsyncClient, Depends(app_state("partner_http", httpx.AsyncClient))]


async def _partners(session: SessionDep, settings: SettingsDep) -> Partners:
    return Partners(PartnerRepository(session), settings.outbound_policy())


PartnersDep = Annotated[Partners, Depends(_partners)]
