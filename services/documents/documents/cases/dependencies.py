from __future__ import annotations

from typing import Annotated

import httpx
from fastapi import Depends

from documents.cases.errors import NotStaff
from documents.cases.keys import CaseKeys
from documents.cases.receiving import CaseReceiver
from documents.cases.repository import CaseKeyRepository
from documents.cases.sending import CaseSender
from documents.clients.dependencies import BookingClientDep
from documents.crypto.dependencies import KeyRingDep
from documents.scanning.dependencies import ScannerDep
from documents.settings import SettingsDep
from documents.storage.dependencies import BlobStoreDep
from servicekit.auth import CurrentPrincipal, Principal, require_scopes
from servicekit.dependencies import DatabaseDep, OutboxDep, SessionDep, app_state
from servicekit.tenancy import AgsPath, NotYourMunicipality

HANDOVER_SCOPE = "cases:handover"
"""What a partner municipality's client needs to hand us a case."""

PartnerHttpDep = Annotated[httpx.AsyncClient, Depends(app_state("partner_http", httpx.AsyncClient))]
"""The SSRF-safe client (``servicekit.outbound``) that calls partner municipalities."""


async def _partner_of(
    ags: AgsPath, principal: Annotated[Principal, require_scopes(HANDOVER_SCOPE)]
) -> Principal:
    if principal.tenant != ags:
        raise NotYourMunicipality()
    return principal


PartnerHandingOver = Annotated[Principal, Depends(_partner_of)]
"""A partner's client registered at this municipality's identity, holding ``cases:handover``."""


async def _staff_of(ags: AgsPath, principal: CurrentPrincipal) -> Principal:
    if principal.tenant != ags:
        raise NotYourMunicipality()
    if not principal.has_role("clerk", "admin"):
        raise NotStaff()
    return principal


TenantStaff = Annotated[Principal, Depends(_staff_of)]


async def _case_keys(session: SessionDep, ring: KeyRingDep) -> CaseKeys:
    return CaseKeys(CaseKeyRepository(session), ring)


CaseKeysDep = Annotated[CaseKeys, Depends(_case_keys)]


async def _receiver(
    database: DatabaseDep,
    blobs: BlobStoreDep,
    ring: KeyRingDep,
    scanner: ScannerDep,
    outbox: OutboxDep,
    settings: SettingsDep,
) -> CaseReceiver:
    return CaseReceiver(
        database.sessionmaker,
        blobs=blobs,
        ring=ring,
        scanner=scanner,
        outbox=outbox,
        settings=settings,
    )


ReceiverDep = Annotated[CaseReceiver, Depends(_receiver)]


async def _sender(
    database: DatabaseDep,
    booking: BookingClientDep,
    partners: PartnerHttpDep,
    blobs: BlobStoreDep,
    ring: KeyRingDep,
    outbox: OutboxDep,
) -> CaseSender:
    return CaseSender(
        database.sessionmaker,
        booking=booking,
        partners=partners,
        blobs=blobs,
        ring=ring,
        outbox=outbox,
    )


SenderDep = Annotated[CaseSender, Depends(_sender)]
