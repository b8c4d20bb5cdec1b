"""Cooperation's dependencies: the tokens and client that ask partners, and the partners."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from booking.cooperation.repository import PartnerRepository
from booking.cooperation.service import Partners
from booking.cooperation.tokens import PartnerTokens, partner_sealer
from booking.settings import SettingsDep
from servicekit.dependencies import SessionDep, app_state

PartnerTokensDep = Annotated[PartnerTokens, Depends(app_state("partner_tokens", PartnerTokens))]
"""Our tokens at the partners' identities, with the SSRF-safe client that calls them."""


async def _partners(session: SessionDep, settings: SettingsDep) -> Partners:
    return Partners(
        PartnerRepository(session), settings.outbound_policy(), partner_sealer(settings)
    )


PartnersDep = Annotated[Partners, Depends(_partners)]
