"""Case hand-over between municipalities (docs/architecture.md, "Handing a case over").

Clerks hand a booking's case over and follow it; partners' clients deliver cases to us;
our clerks read what was delivered. Every route of a municipality answers its own staff or
its own partners' clients only.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from documents.access.dependencies import ACCESS_PROBLEMS, BookingId, CallerDep
from documents.access.errors import BookingNotFound
from documents.cases.dependencies import (
    CaseKeysDep,
    PartnerHandingOver,
    ReceiverDep,
    SenderDep,
    TenantStaff,
)
from documents.cases.envelope import (
    ATTACHMENT_MEDIA_TYPE,
    CASE_ID_PATTERN,
    ID_PATTERN,
    MANIFEST_MEDIA_TYPE,
    MAX_MANIFEST_BYTES,
)
from documents.cases.errors import (
    CaseDecided,
    CaseNotFound,
    CaseRejected,
    CaseUndecryptable,
    NothingToHandOver,
    NotStaff,
    PartnerTakesNoCases,
    PartnerUnavailable,
)
from documents.cases.receiving import Delivery, ManifestInvalid, ScannerUnavailableProblem
from documents.cases.schemas import (
    CaseJwks,
    DeliveryOut,
    HandoverIn,
    ReceivedAttachmentOut,
    ReceivedCaseOut,
    ReceivedCasesOut,
    SentCaseOut,
    SentCasesOut,
)
from servicekit.auth import AUTH_PROBLEMS, InsufficientScope, TokenKeysUnavailable
from servicekit.problems import PayloadTooLarge, ValidationFailed, problem_responses
from servicekit.tenancy import AgsPath, NotYourMunicipality

router = APIRouter(prefix="/documents/v1", tags=["cases"])

CaseId = Annotated[str, Path(pattern=CASE_ID_PATTERN, description="The case's id")]
AttachmentId = Annotated[str, Path(pattern=ID_PATTERN, description="The attachment's id")]
Purpose = Annotated[
    str | None,
    Query(
        max_length=500,
        description="Why a clerk reads this (recorded in the access log)",
    ),
]
PARTNER_PROBLEMS = (
    *AUTH_PROBLEMS,
    InsufficientScope,
    NotYourMunicipality,
    TokenKeysUnavailable,
    CaseNotFound,
    CaseRejected,
    CaseDecided,
    ValidationFailed,
)


def _jose_body(media_type: str, description: str) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {media_type: {"schema": {"type": "string"}}},
        }
    }


def _delivered(delivery: Delivery) -> JSONResponse:
    out = DeliveryOut(
        case_id=delivery.case_id,
        status=delivery.status,
        missing=delivery.missing,
        receipt=delivery.receipt,
    )
    return JSONResponse(
        out.model_dump(mode="json"), status_code=202 if out.status == "receiving" else 200
    )


# -- the sending side ----------------------------------------------------------------------


@router.post(
    "/bookings/{booking_id}/handovers",
    response_model=SentCaseOut,
    responses=problem_responses(
        *ACCESS_PROBLEMS,
        BookingNotFound,
        PartnerTakesNoCases,
        NothingToHandOver,
        PartnerUnavailable,
        ValidationFailed,
    ),
)
async def hand_over(
    booking_id: BookingId, body: HandoverIn, caller: CallerDep, sender: SenderDep
) -> SentCaseOut:
    """A clerk of the booking's office hands its case (the booking, its checklist and the
    accepted documents) to the partner municipality responsible, encrypted to the partner's
    key; the answer is the hand-over as it stands (received with the partner's signed receipt,
    or rejected with its reason). Handing it over again is the same case: resumed when broken
    off, else answered as it stands."""
    if caller.principal is None or not caller.principal.has_role("clerk", "admin"):
        raise BookingNotFound()
    return SentCaseOut.model_validate(await sender.hand_over(booking_id, body.to, caller))


@router.get(
    "/tenants/{ags}/handovers",
    response_model=SentCasesOut,
    responses=problem_responses(
        *AUTH_PROBLEMS, NotStaff, NotYourMunicipality, TokenKeysUnavailable, ValidationFailed
    ),
)
async def list_sent_cases(
    ags: AgsPath,
    _staff: TenantStaff,
    sender: SenderDep,
    booking_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
) -> SentCasesOut:
    """The cases this municipality handed over (newest first), optionally of one booking."""
    return SentCasesOut(
        items=[SentCaseOut.model_validate(c) for c in await sender.sent(ags, booking_id)]
    )


@router.get(
    "/tenants/{ags}/handovers/{case_id}",
    response_model=SentCaseOut,
    responses=problem_responses(
        *AUTH_PROBLEMS,
        NotStaff,
        NotYourMunicipality,
        TokenKeysUnavailable,
        CaseNotFound,
        ValidationFailed,
    ),
)
async def get_sent_case(
    ags: AgsPath, case_id: CaseId, _staff: TenantStaff, sender: SenderDep
) -> SentCaseOut:
    """One case this municipality handed over, with the partner's receipt."""
    return SentCaseOut.model_validate(await sender.one(ags, case_id))


# -- the receiving side: partners deliver --------------------------------------------------


@router.get("/cases/jwks", response_model=CaseJwks)
async def case_jwks(keys: CaseKeysDep, response: Response) -> CaseJwks:
    """The keys of our hand-overs (RFC 7517): partners encrypt cases to the ``use: enc`` key
    (RSA-OAEP-256, 4096 bits) and verify our receipts with the ``use: sig`` keys."""
    jwks = await keys.jwks()
    response.headers["Cache-Control"] = "public, max-age=60"
    return CaseJwks.model_validate(jwks)


@router.put(
    "/tenants/{ags}/cases/{case_id}",
    response_model=DeliveryOut,
    status_code=202,
    openapi_extra=_jose_body(
        MANIFEST_MEDIA_TYPE,
        "The case's manifest as one JWE (RSA-OAEP-256 + A256GCM) to our hand-over key",
    ),
    responses={
        200: {"model": DeliveryOut, "description": "Received: the answer carries our receipt"},
        **problem_responses(*PARTNER_PROBLEMS, CaseUndecryptable, ManifestInvalid, PayloadTooLarge),
    },
)
async def deliver_case(
    ags: AgsPath,
    case_id: CaseId,
    request: Request,
    partner: PartnerHandingOver,
    receiver: ReceiverDep,
) -> JSONResponse:
    """A partner municipality delivers a case's manifest (the booking, its checklist, and each
    attachment with its SHA-256); 202 while attachments are missing, 200 with our signed
    receipt once all are in. Delivering it again is answered the same way."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_MANIFEST_BYTES:
            raise PayloadTooLarge(f"A manifest has at most {MAX_MANIFEST_BYTES} bytes.")
    return _delivered(await receiver.deliver_manifest(ags, case_id, partner, bytes(body)))


@router.put(
    "/tenants/{ags}/cases/{case_id}/attachments/{attachment_id}",
    response_model=DeliveryOut,
    status_code=202,
    openapi_extra=_jose_body(
        ATTACHMENT_MEDIA_TYPE,
        "The attachment as JWE compact serializations, one per line, each of up to a MiB",
    ),
    responses={
        200: {"model": DeliveryOut, "description": "Received: the answer carries our receipt"},
        **problem_responses(*PARTNER_PROBLEMS, ScannerUnavailableProblem),
    },
)
async def deliver_attachment(
    ags: AgsPath,
    case_id: CaseId,
    attachment_id: AttachmentId,
    request: Request,
    partner: PartnerHandingOver,
    receiver: ReceiverDep,
) -> JSONResponse:
    """A partner municipality delivers one announced attachment, streamed; its SHA-256 must be
    the manifest's, else the case is rejected and nothing of it kept (422 with our signed
    rejection)."""
    delivery = await receiver.deliver_attachment(
        ags, case_id, attachment_id, partner, request.stream()
    )
    return _delivered(delivery)


# -- the receiving side: our clerks read -----------------------------------------------------


@router.get(
    "/tenants/{ags}/cases",
    response_model=ReceivedCasesOut,
    responses=problem_responses(
        *AUTH_PROBLEMS, NotStaff, NotYourMunicipality, TokenKeysUnavailable, ValidationFailed
    ),
)
async def list_received_cases(
    ags: AgsPath, _staff: TenantStaff, receiver: ReceiverDep
) -> ReceivedCasesOut:
    """The cases partner municipalities handed to this one (newest first)."""
    items = [
        ReceivedCaseOut(
            id=c.id,
            from_ags=c.from_ags,
            status=c.status,  # type: ignore[arg-type]
            reason=c.reason,
            leika=c.leika,
            receipt=c.receipt,
            created_at=c.created_at,
            decided_at=c.decided_at,
        )
        for c in await receiver.received(ags)
    ]
    return ReceivedCasesOut(items=items)


@router.get(
    "/tenants/{ags}/cases/{case_id}",
    response_model=ReceivedCaseOut,
    responses=problem_responses(
        *AUTH_PROBLEMS,
        NotStaff,
        NotYourMunicipality,
        TokenKeysUnavailable,
        CaseNotFound,
        ValidationFailed,
    ),
)
async def get_received_case(
    ags: AgsPath,
    case_id: CaseId,
    staff: TenantStaff,
    receiver: ReceiverDep,
    purpose: Purpose = None,
) -> ReceivedCaseOut:
    """A case handed to this municipality: the booking, its checklist and the documents
    (the read is recorded in the access log)."""
    case, manifest, attachments = await receiver.one(ags, case_id, staff, purpose)
    return ReceivedCaseOut(
        id=case.id,
        from_ags=case.from_ags,
        status=case.status,  # type: ignore[arg-type]
        reason=case.reason,
        leika=case.leika,
        receipt=case.receipt,
        created_at=case.created_at,
        decided_at=case.decided_at,
        booking=manifest.booking if manifest else None,
        checklist=manifest.checklist if manifest else None,
        announced=manifest.attachments if manifest else None,
        attachments=[ReceivedAttachmentOut.model_validate(a) for a in attachments],
    )


@router.get(
    "/tenants/{ags}/cases/{case_id}/attachments/{attachment_id}",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The attachment's bytes, as an attachment",
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        },
        **problem_responses(
            *AUTH_PROBLEMS,
            NotStaff,
            NotYourMunicipality,
            TokenKeysUnavailable,
            CaseNotFound,
            ValidationFailed,
        ),
    },
)
async def received_attachment(
    ags: AgsPath,
    case_id: CaseId,
    attachment_id: AttachmentId,
    staff: TenantStaff,
    receiver: ReceiverDep,
    purpose: Purpose = None,
) -> StreamingResponse:
    """One document of a received case, streamed (the read is recorded in the access log)."""
    attachment, chunks = await receiver.content(ags, case_id, attachment_id, staff, purpose)
    name = attachment.display_name
    fallback = name.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    return StreamingResponse(
        chunks,
        media_type=attachment.media_type,
        headers={
            "Content-Length": str(attachment.size_bytes),
            "Content-Disposition": (
                f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
            ),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )
