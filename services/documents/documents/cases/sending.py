"""The sending side of a hand-over: a clerk hands a booking's case to the partner responsible.

Booking decides whether the clerk may (a clerk of the booking's office) and to whom (a partner
of the municipality registered for ``cases:handover``), and gives the booking's data and a
token of the partner's identity (its cached client-credentials token, ``booking.cooperation``).
Documents holds the bytes, so it sends: the partner's hand-over JWKS gives the encryption key;
the manifest goes first, then each accepted document, read from our store and sealed piece by
piece on its way out (see :mod:`documents.cases.envelope`). The receiver's signed receipt or
rejection is verified against the same JWKS before the case counts as received or rejected.

Handing the same booking to the same partner again is the same case (its id is kept): a case
broken off is resumed with the manifest first sent (kept sealed, so the receiver recognises
it), one received or rejected is answered as it stands. A case broken off whose documents
changed since (one accepted more, one replaced) is not resumed: it is closed as rejected with
the reason (superseded) and the booking handed over anew, as a new case.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from documents.access.checks import Caller
from documents.access.errors import BookingNotFound, BookingUnavailableProblem
from documents.cases.envelope import (
    ATTACHMENT_MEDIA_TYPE,
    MANIFEST_MEDIA_TYPE,
    AttachmentEntry,
    Manifest,
    ReceiptClaims,
    seal_pieces,
    verify_receipt,
)
from documents.cases.errors import (
    CaseNotFound,
    NothingToHandOver,
    PartnerTakesNoCases,
    PartnerUnavailable,
)
from documents.cases.models import CaseStatus, SentCase
from documents.cases.repository import SentCaseRepository
from documents.clients.booking import (
    BookingClient,
    BookingUnavailable,
    HandoverGrant,
    HandoverRefused,
)
from documents.crypto.keys import KeyRing, WrappedKey
from documents.crypto.stream import decrypt_stream
from documents.events.models import CASE_RECEIVED, CASE_REJECTED, CASE_SENT, CaseChanged
from documents.storage.base import BlobStore
from documents.uploads.models import Document, ReviewStatus, ScanStatus
from documents.uploads.repository import DocumentRepository
from servicekit.auth import jose_safe
from servicekit.db import utcnow
from servicekit.events import Outbox
from servicekit.outbound.client import AnswerTooLarge, read_bounded

MAX_JWKS_BYTES = 64 * 1024
MAX_ANSWER_BYTES = 64 * 1024


class _Unavailable(Exception):
    """The partner did not answer as its contract says; the message says why."""


class CaseSender:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        booking: BookingClient,
        partners: httpx.AsyncClient,
        blobs: BlobStore,
        ring: KeyRing,
        outbox: Outbox,
    ) -> None:
        self.sessions = sessions
        self.booking = booking
        self.partners = partners
        self.blobs = blobs
        self.ring = ring
        self.outbox = outbox

    async def sent(self, tenant: str, booking_id: str | None = None) -> Sequence[SentCase]:
        async with self.sessions() as session:
            return await SentCaseRepository(session).of(tenant, booking_id)

    async def one(self, tenant: str, case_id: str) -> SentCase:
        async with self.sessions() as session:
            case = await SentCaseRepository(session).get(case_id)
        if case is None or case.tenant != tenant:
            raise CaseNotFound()
        return case

    async def hand_over(self, booking_id: str, to: str, caller: Caller) -> SentCase:
        assert caller.principal is not None
        try:
            grant = await self.booking.handover_grant(
                caller.principal.tenant, booking_id, to, caller.credentials
            )
        except BookingUnavailable as exc:
            raise BookingUnavailableProblem() from exc
        except HandoverRefused as refused:
            if refused.problem_type.endswith(":partner-token-unavailable"):
                raise PartnerUnavailable(str(refused), headers={"Retry-After": "30"}) from refused
            raise PartnerTakesNoCases(str(refused)) from refused
        if grant is None or grant.booking.get("tenant") != caller.principal.tenant:
            raise BookingNotFound()
        tenant = caller.principal.tenant
        async with self.sessions() as session:
            documents = [
                d for d in await DocumentRepository(session).for_booking(booking_id) if _handed(d)
            ]
        clerk = caller.principal.subject
        case = await self._open_case(tenant, booking_id, grant, clerk, documents)
        if case.status != CaseStatus.SENDING:
            return case  # received or rejected before: as it stands
        manifest = self._sent_manifest(case)
        if manifest is not None and _fingerprint(
            Manifest.model_validate_json(manifest).attachments
        ) != _fingerprint(documents):
            # Broken off, and the documents changed since: the receiver may hold the old
            # manifest under this id and would refuse another one (409), so this version is
            # closed with the reason and the case handed over anew, as a case of its own.
            await self._settle(case.id, CaseStatus.REJECTED, SUPERSEDED, None)
            case = await self._open_case(tenant, booking_id, grant, clerk, documents)
            manifest = None
        if manifest is None:
            manifest = await self._keep_manifest(case, grant, documents)
        try:
            outcome = await self._transmit(case, grant, documents, manifest)
        except (_Unavailable, httpx.HTTPError, AnswerTooLarge) as exc:
            reason = str(exc) or type(exc).__name__
            await self._settle(case.id, CaseStatus.SENDING, f"not delivered: {reason}"[:500], None)
            raise PartnerUnavailable(
                "The partner could not take the case; hand it over again to resume.",
                headers={"Retry-After": "60"},
            ) from exc
        status, claims, receipt = outcome
        return await self._settle(case.id, status, claims.reason, receipt)

    async def _open_case(
        self,
        tenant: str,
        booking_id: str,
        grant: HandoverGrant,
        clerk: str,
        documents: Sequence[Document],
    ) -> SentCase:
        async with self.sessions() as session, session.begin():
            cases = SentCaseRepository(session)
            case = await cases.open_for(tenant, booking_id, grant.partner.ags)
            if case is not None:
                return case
            case = SentCase(
                id=uuid.uuid4().hex,
                tenant=tenant,
                booking_id=booking_id,
                to_ags=grant.partner.ags,
                to_name=grant.partner.name,
                status=CaseStatus.SENDING,
                attachments=len(documents),
                size_bytes=sum(d.size_bytes for d in documents),
                sent_by=clerk,
            )
            if not await cases.add_if_possible(case):
                raced = await cases.open_for(tenant, booking_id, grant.partner.ags)
                if raced is None:
                    raise NothingToHandOver("Another hand-over of this booking is under way.")
                return raced
            self._tell(session, case, CASE_SENT)
        return case

    async def _settle(
        self, case_id: str, status: CaseStatus, reason: str | None, receipt: str | None
    ) -> SentCase:
        async with self.sessions() as session, session.begin():
            case = await SentCaseRepository(session).get(case_id)
            assert case is not None
            case.status, case.reason = status, reason
            if receipt is not None:
                case.receipt = receipt
            if status == CaseStatus.RECEIVED:
                self._tell(session, case, CASE_RECEIVED)
            elif status == CaseStatus.REJECTED:
                self._tell(session, case, CASE_REJECTED)
        return case

    def _tell(self, session: AsyncSession, case: SentCase, event: str) -> None:
        if not self.outbox.wanted(event):
            return
        data = CaseChanged(
            case_id=case.id,
            direction="outgoing",
            partner_ags=case.to_ags,
            booking_id=case.booking_id,
            status=CaseStatus(case.status).value,
            reason=case.reason,
            attachments=case.attachments,
            receipt=case.receipt,
        )
        self.outbox.emit(
            session, event, data.model_dump(mode="json"), subject=case.id, tenant=case.tenant
        )

    # -- on the wire ------------------------------------------------------------------------

    def _sent_manifest(self, case: SentCase) -> bytes | None:
        """The manifest's bytes as first sent, if it was."""
        if case.manifest_sealed is None or case.kek_id is None:
            return None
        return self.ring.unwrap(
            WrappedKey(case.kek_id, case.manifest_sealed), _manifest_binding(case)
        )

    async def _keep_manifest(
        self, case: SentCase, grant: HandoverGrant, documents: Sequence[Document]
    ) -> bytes:
        """The case's manifest, made once and kept (sealed) before it is first sent."""
        entries = {
            d.id: AttachmentEntry(
                id=d.id,
                checklist_item_id=d.checklist_item_id,
                name=d.display_name,
                media_type=d.media_type,
                size_bytes=d.size_bytes,
                sha256=d.sha256,
            )
            for d in documents
        }
        services = grant.booking.get("services") or [{}]
        manifest = Manifest(
            case_id=case.id,
            from_ags=case.tenant,
            to_ags=case.to_ags,
            leika=services[0].get("leika") if isinstance(services[0], dict) else None,
            sent_at=utcnow(),
            booking=grant.booking,
            checklist=grant.checklist,
            attachments=list(entries.values()),
        )
        plaintext = manifest.model_dump_json().encode()
        sealed = self.ring.wrap(plaintext, _manifest_binding(case))
        async with self.sessions() as session, session.begin():
            kept = await SentCaseRepository(session).get(case.id)
            assert kept is not None
            kept.kek_id, kept.manifest_sealed = sealed.kek_id, sealed.wrapped
        return plaintext

    async def _transmit(
        self,
        case: SentCase,
        grant: HandoverGrant,
        documents: Sequence[Document],
        manifest: bytes,
    ) -> tuple[CaseStatus, ReceiptClaims, str]:
        base = grant.partner.base_url.rstrip("/")
        jwks = await self._jwks(base)
        key = _encryption_key(jwks)
        headers = {"Authorization": f"Bearer {grant.access_token}"}
        url = f"{base}/documents/v1/tenants/{case.to_ags}/cases/{case.id}"
        answer = await self._put(
            url,
            headers,
            MANIFEST_MEDIA_TYPE,
            jose_safe.encrypt(manifest, key),
        )
        by_id = {d.id: d for d in documents}
        while answer.get("status") == "receiving":
            missing = [m for m in answer.get("missing", []) if m in by_id]
            if not missing:
                raise _Unavailable("the partner waits for attachments we did not announce")
            document = by_id[missing[0]]
            answer = await self._put(
                f"{url}/attachments/{document.id}",
                headers,
                ATTACHMENT_MEDIA_TYPE,
                seal_pieces(self._plaintext(document), key),
            )
        receipt = answer.get("receipt") or answer.get("rejection")
        if not isinstance(receipt, str):
            raise _Unavailable("the partner answered without a signed receipt")
        try:
            claims = verify_receipt(receipt, jwks, receiver=case.to_ags, sender=case.tenant)
        except jose_safe.TokenRejected as rejected:
            raise _Unavailable(f"the receipt does not verify: {rejected}") from rejected
        if claims.sub != case.id:
            raise _Unavailable("the receipt is for another case")
        if claims.status == "received":
            if claims.attachments != {d.id: d.sha256 for d in documents}:
                raise _Unavailable("the receipt names other documents or hashes")
            return CaseStatus.RECEIVED, claims, receipt
        return CaseStatus.REJECTED, claims, receipt

    async def _plaintext(self, document: Document) -> AsyncIterator[bytes]:
        key = self.ring.unwrap(WrappedKey(document.kek_id, document.wrapped_key), document.id)
        async with contextlib.aclosing(
            decrypt_stream(key, self.blobs.read(document.blob_id))
        ) as chunks:
            async for chunk in chunks:
                yield chunk

    async def _jwks(self, base: str) -> dict[str, Any]:
        async with self.partners.stream("GET", f"{base}/documents/v1/cases/jwks") as response:
            body = await read_bounded(response, MAX_JWKS_BYTES)
        if response.status_code != 200:
            raise _Unavailable(f"its hand-over JWKS answered {response.status_code}")
        try:
            jwks = json.loads(body)
        except ValueError as exc:
            raise _Unavailable("its hand-over JWKS is not JSON") from exc
        if not isinstance(jwks, dict):
            raise _Unavailable("its hand-over JWKS is not a key set")
        return jwks

    async def _put(
        self, url: str, headers: dict[str, str], media_type: str, content: Any
    ) -> dict[str, Any]:
        async with self.partners.stream(
            "PUT", url, content=content, headers={**headers, "Content-Type": media_type}
        ) as response:
            body = await read_bounded(response, MAX_ANSWER_BYTES)
        status = response.status_code
        try:
            answer = json.loads(body) if body else {}
        except ValueError:
            answer = {}
        if not isinstance(answer, dict):
            answer = {}
        if status in (200, 201, 202) or (status == 422 and "rejection" in answer):
            return answer
        raise _Unavailable(f"the partner answered {status} {answer.get('type', '')}".strip())


SUPERSEDED = (
    "superseded: the case's documents changed before it was delivered; "
    "it was handed over again as a new case"
)


def _manifest_binding(case: SentCase) -> str:
    return f"sent-case:{case.tenant}:{case.id}"


def _fingerprint(items: Sequence[Document] | Sequence[AttachmentEntry]) -> dict[str, str]:
    """What a resumed hand-over must still send: each document's id and SHA-256."""
    return {item.id: item.sha256 for item in items}


def _handed(document: Document) -> bool:
    """What goes along: the documents a clerk accepted (and the scanner passed)."""
    return (
        document.review_status == ReviewStatus.ACCEPTED and document.scan_status == ScanStatus.CLEAN
    )


def _encryption_key(jwks: dict[str, Any]) -> dict[str, Any]:
    for key in jwks.get("keys") or []:
        if isinstance(key, dict) and key.get("use") == "enc":
            try:
                jose_safe.check_encryption_key(key)
            except ValueError:
                continue
            return key
    raise _Unavailable("its JWKS publishes no RSA-OAEP-256 key of 4096 bits (use: enc)")
