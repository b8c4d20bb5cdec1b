from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import secrets
import uuid
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import anyio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from documents.access.checks import Access, Caller, resolve_access
from documents.access.errors import BookingClosed, BookingNotFound
from documents.audit.models import AccessRecord
from documents.audit.repository import AccessLogRepository
from documents.clients.booking import BookingClient
from documents.crypto.keys import KeyRing, KeyRingError, WrappedKey, new_data_key
from documents.crypto.stream import IntegrityError, decrypt_stream
from documents.events.models import (
    DOCUMENT_ACCEPTED,
    DOCUMENT_NEEDS_REPLACEMENT,
    DOCUMENT_UPLOADED,
    DOCUMENT_WITHDRAWN,
    DocumentChanged,
)
from documents.intake.inspection import Unreadable, inspect
from documents.intake.pipeline import (
    MULTIPART_OVERHEAD,
    BadName,
    Intake,
    IntakeRefused,
    MultipartFile,
    TooLarge,
    Unsupported,
    limited,
)
from documents.rooms.models import RoomEventKind
from documents.rooms.repository import RoomRepository
from documents.rooms.service import new_event
from documents.scanning.scanner import (
    ScanLimitExceeded,
    Scanner,
    ScannerUnavailable,
    ScanResult,
    ScanVerdict,
)
from documents.settings import DocumentsSettings
from documents.storage.base import BlobNotFound, BlobStore
from documents.uploads.errors import (
    ChecklistItemNotFound,
    CitizenOnly,
    DocumentIntegrityError,
    DocumentNotFound,
    InvalidFileName,
    MissingFile,
    NotReleased,
    PurposeRequired,
    ReviewNotAllowed,
    TooLargeToScan,
    UnsupportedFileType,
    UploadTooLarge,
)
from documents.uploads.models import Document, ReviewStatus, ScanStatus
from documents.uploads.repository import DocumentRepository
from documents.uploads.schemas import (
    BookingDocumentsOut,
    ChecklistItemOut,
    DocumentOut,
    ItemStatus,
    ReviewIn,
)
from servicekit.db import utcnow
from servicekit.events import Outbox
from servicekit.idempotency import (
    IdempotencyKeyReused,
    IdempotencyStore,
    caller_scope,
    key_hash,
)
from servicekit.problems import Problem

log = logging.getLogger(__name__)

_PUBLISHED = {
    RoomEventKind.DOCUMENT_UPLOADED: DOCUMENT_UPLOADED,
    RoomEventKind.DOCUMENT_ACCEPTED: DOCUMENT_ACCEPTED,
    RoomEventKind.DOCUMENT_NEEDS_REPLACEMENT: DOCUMENT_NEEDS_REPLACEMENT,
    RoomEventKind.DOCUMENT_WITHDRAWN: DOCUMENT_WITHDRAWN,
}

UNDECIDED_BYTES = 4 * 1024 * 1024
"""How much of an upload is taken in before booking has answered (then it waits)."""


@dataclass(frozen=True)
class UploadBody:
    """A request body as it arrives: raw bytes of the file, or multipart/form-data."""

    stream: AsyncIterable[bytes]
    content_type: str
    content_length: int | None
    filename: str | None


@dataclass(frozen=True)
class Uploaded:
    """An upload's answer: the new document, or (``document`` None) the replayed first answer
    to the same request with the same ``Idempotency-Key``."""

    document: Document | None
    answer: dict[str, Any]
    status_code: int


@dataclass(frozen=True)
class Download:
    document: Document
    chunks: AsyncIterator[bytes]


def _item_status(documents: Sequence[Document]) -> ItemStatus:
    """The newest document decides: a replacement supersedes what it replaces."""
    if not documents:
        return "missing"
    newest = documents[-1]
    if newest.review_status == ReviewStatus.ACCEPTED:
        return "accepted"
    if newest.review_status == ReviewStatus.NEEDS_REPLACEMENT:
        return "needs_replacement"
    if newest.scan_status == ScanStatus.PENDING:
        return "pending_scan"
    if newest.scan_status == ScanStatus.INFECTED:
        return "needs_replacement"
    return "submitted"


class DocumentService:
    def __init__(
        self,
        documents: DocumentRepository,
        access_log: AccessLogRepository,
        rooms: RoomRepository,
        *,
        booking: BookingClient,
        blobs: BlobStore,
        keys: KeyRing,
        scanner: Scanner,
        outbox: Outbox,
        settings: DocumentsSettings,
    ) -> None:
        self.documents = documents
        self.access_log_repository = access_log
        self.rooms = rooms
        self.booking = booking
        self.blobs = blobs
        self.keys = keys
        self.scanner = scanner
        self.outbox = outbox
        self.settings = settings

    async def access(self, booking_id: str, caller: Caller, *, reuse: bool = False) -> Access:
        return await resolve_access(self.booking, booking_id, caller, reuse=reuse)

    async def _document_access(
        self, document_id: str, caller: Caller, *, reuse: bool = False
    ) -> tuple[Document, Access]:
        document = await self.documents.get(document_id)
        if document is None:
            raise DocumentNotFound()
        try:
            access = await self.access(document.booking_id, caller, reuse=reuse)
        except BookingNotFound as exc:
            raise DocumentNotFound() from exc
        if access.booking.tenant != document.tenant:
            raise DocumentNotFound()
        return document, access

    async def _audit(
        self, access: Access, action: str, purpose: str, document: Document | None = None
    ) -> None:
        principal = access.caller.principal
        assert principal is not None
        await self.access_log_repository.append(
            AccessRecord(
                tenant=access.booking.tenant,
                booking_id=access.booking.booking_id,
                document_id=document.id if document else None,
                actor=principal.subject,
                actor_roles=" ".join(sorted(principal.roles)),
                action=action,
                purpose=purpose,
            )
        )

    # -- upload ---------------------------------------------------------------------------

    async def upload(
        self, booking_id: str, item_id: str, caller: Caller, body: UploadBody
    ) -> Document:
        # Booking is asked while the body streams in (its answer takes a round trip that would
        # otherwise come on top). What streams in meanwhile is stored encrypted under a random
        # id, and becomes a document only once booking has said yes; on a no, the blob is
        # removed and booking's answer is the response. Only a caller identity vouched for
        # (a verified token) gets this head start, and only for the first UNDECIDED_BYTES.
        decision = asyncio.ensure_future(self._may_upload(booking_id, item_id, caller))
        try:
            return await self._receive(decision, item_id, caller, body)
        finally:
            await _settle(decision)

    async def upload_once(
        self,
        booking_id: str,
        item_id: str,
        caller: Caller,
        body: UploadBody,
        *,
        idempotency: IdempotencyStore,
        key: str,
        target: str,
    ) -> Uploaded:
        """:meth:`upload` made with an ``Idempotency-Key``: a retry by the same caller with
        the same key, target (path and ?filename=) and file gets the first answer and stores
        nothing; the same key with another target or file is 422. Keys are the caller's own:
        another caller's key never replays this one's answer."""
        scope = _caller_scope(caller)
        stored_key = key_hash(key)
        request_hash = hashlib.sha256(f"POST {target}".encode()).hexdigest()
        replay = await idempotency.begin(scope, stored_key, request_hash)
        if replay is not None:
            if not await _same_file(body, replay.body):
                raise IdempotencyKeyReused(
                    "Use a new Idempotency-Key for another file; this one uploaded a different one."
                )
            return Uploaded(document=None, answer=replay.body, status_code=replay.status_code)
        document: Document | None = None
        try:
            document = await self.upload(booking_id, item_id, caller, body)
            answer = DocumentOut.model_validate(document).model_dump(mode="json")
            await idempotency.finish(self.documents.session, scope, stored_key, 201, answer)
        except Exception:
            # End the request's transaction first: its locks must not block forgetting the key.
            await self.documents.session.rollback()
            with anyio.CancelScope(shield=True):
                if document is not None:
                    await self.blobs.delete(document.blob_id)
                await idempotency.abandon(scope, stored_key)
            raise
        return Uploaded(document=document, answer=answer, status_code=201)

    async def _may_upload(self, booking_id: str, item_id: str, caller: Caller) -> Access:
        access = await self.access(booking_id, caller)
        if access.booking.item(item_id) is None:
            raise ChecklistItemNotFound()
        if not access.booking.open_for_uploads:
            raise BookingClosed(f"The booking is {access.booking.status}.")
        return access

    async def _receive(
        self, decision: asyncio.Future[Access], item_id: str, caller: Caller, body: UploadBody
    ) -> Document:
        if caller.principal is None:
            tenant = (await decision).booking.tenant
        else:
            # Booking refuses a token of another municipality, so this is the booking's tenant.
            tenant = caller.principal.tenant
        settings = self.settings
        limit = settings.upload_limit(tenant)
        is_multipart = body.content_type.lower().startswith("multipart/form-data")
        body_limit = limit + MULTIPART_OVERHEAD if is_multipart else limit
        if body.content_length is not None and body.content_length > body_limit:
            await decision  # booking's refusal comes first
            raise UploadTooLarge(f"The limit is {limit} bytes.", limit_bytes=limit)

        # No database statement before the body has streamed in: on SQLite the first one takes
        # the write lock, and a slow upload must not hold it (nor a transaction elsewhere).
        document_id = uuid.uuid4().hex
        blob_id = secrets.token_urlsafe(24)
        data_key = new_data_key()
        stream = limited(_until_decided(body.stream, decision), body_limit)
        if is_multipart:
            multipart = MultipartFile(stream, body.content_type)
            plaintext = multipart.chunks()
            filename = lambda: multipart.filename  # noqa: E731
        else:
            plaintext = stream
            filename = lambda: body.filename  # noqa: E731
        intake = Intake(
            limit=limit,
            data_key=data_key,
            chunk_size=settings.encryption_chunk_size,
            filename=filename,
        )
        try:
            # Closed on the way out whatever happens: its stages stop before the answer goes.
            async with contextlib.aclosing(intake.encrypt(plaintext)) as ciphertext:
                await self.blobs.write(blob_id, ciphertext)
        except IntakeRefused as exc:
            await decision  # booking's refusal comes first
            raise _refusal(exc, limit) from exc
        try:
            access = await decision
            self._check_accepted(access, item_id, intake)
            assert intake.file_type is not None
            try:
                await inspect(
                    intake.file_type,
                    decrypt_stream(data_key, self.blobs.read(blob_id)),
                    max_pixels=settings.max_image_pixels,
                    timeout_s=settings.pdf_check_timeout_s,
                )
            except IntakeRefused as exc:
                raise _refusal(exc, limit) from exc
            document = self._new_document(document_id, blob_id, data_key, access, item_id, intake)
            # Scanned before the row is written: no transaction is open while the scanner reads.
            try:
                verdict = await scan_blob(self.blobs, self.scanner, data_key, blob_id)
            except ScanLimitExceeded as exc:
                log.error(
                    "upload refused: larger than the scanner reads (raise clamd's "
                    "StreamMaxLength above the upload limit)",
                    extra={"size_bytes": intake.size, "limit_bytes": limit},
                )
                raise TooLargeToScan(
                    "The malware scanner does not read a file this large; send a smaller one."
                ) from exc
            _apply_verdict(document, verdict)
            await self.documents.add(document)
            await self._tell(access, RoomEventKind.DOCUMENT_UPLOADED, document)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self.blobs.delete(blob_id)
            raise
        return document

    @staticmethod
    def _check_accepted(access: Access, item_id: str, intake: Intake) -> None:
        """Refuse a file of a type the checklist item does not take (booking's catalogue)."""
        item = access.booking.item(item_id)
        assert item is not None
        assert intake.file_type is not None
        if not item.accepts(intake.file_type.media_type):
            accepted = item.accepted_media_types
            raise UnsupportedFileType(
                f"This item takes {', '.join(accepted)}; the file is "
                f"{intake.file_type.media_type}.",
                accepted_media_types=accepted,
            )

    def _new_document(
        self,
        document_id: str,
        blob_id: str,
        data_key: bytes,
        access: Access,
        item_id: str,
        intake: Intake,
    ) -> Document:
        assert intake.file_type is not None
        wrapped = self.keys.wrap(data_key, document_id)
        return Document(
            id=document_id,
            tenant=access.booking.tenant,
            booking_id=access.booking.booking_id,
            checklist_item_id=item_id,
            office_id=access.booking.office_id,
            appointment_at=access.booking.appointment_at,
            blob_id=blob_id,
            display_name=intake.display_name(),
            media_type=intake.file_type.media_type,
            size_bytes=intake.size,
            sha256=intake.sha256,
            kek_id=wrapped.kek_id,
            wrapped_key=wrapped.wrapped,
            scan_status=ScanStatus.PENDING,
            review_status=ReviewStatus.SUBMITTED,
            uploaded_by=access.caller.actor,
        )

    # -- scanning -------------------------------------------------------------------------

    def _data_key(self, document: Document) -> bytes:
        return _data_key(self.keys, document)

    # -- reading --------------------------------------------------------------------------

    async def booking_documents(
        self, booking_id: str, caller: Caller, purpose: str | None
    ) -> BookingDocumentsOut:
        access = await self.access(booking_id, caller)
        booking_id = access.booking.booking_id
        await _follow_reschedule(
            self.documents, self.rooms, booking_id, access.booking.appointment_at
        )
        if access.is_clerk:
            await self._audit(access, "list", purpose or "checklist review")
        documents = [
            d
            for d in await self.documents.for_booking(booking_id)
            if d.tenant == access.booking.tenant
        ]
        items: list[ChecklistItemOut] = []
        complete = True
        all_accepted = True
        for item in access.booking.items:
            mine = [d for d in documents if d.checklist_item_id == item.id]
            status = _item_status(mine)
            if item.mandatory:
                complete = complete and status in {"submitted", "accepted"}
                all_accepted = all_accepted and status == "accepted"
            items.append(
                ChecklistItemOut(
                    id=item.id,
                    title=item.name,
                    required=item.mandatory,
                    status=status,
                    documents=[DocumentOut.model_validate(d) for d in mine],
                )
            )
        return BookingDocumentsOut(
            booking_id=booking_id,
            complete=complete,
            all_accepted=all_accepted,
            appointment_at=access.booking.appointment_at,
            items=items,
        )

    async def get(self, document_id: str, caller: Caller, purpose: str | None) -> Document:
        document, access = await self._document_access(document_id, caller, reuse=True)
        if access.is_clerk:
            await self._audit(access, "metadata", purpose or "checklist review", document)
        return document

    async def download(self, document_id: str, caller: Caller, purpose: str | None) -> Download:
        document, access = await self._document_access(document_id, caller, reuse=True)
        if access.is_clerk:
            if not purpose or not purpose.strip():
                raise PurposeRequired("Give the purpose of reading, e.g. ?purpose=...")
            await self._audit(access, "download", purpose.strip(), document)
        if document.scan_status != ScanStatus.CLEAN:
            raise NotReleased(scan_status=document.scan_status)
        chunks = decrypt_stream(self._data_key(document), self.blobs.read(document.blob_id))
        # Open the first chunk before answering: a damaged header or first chunk becomes a
        # problem response; damage further in aborts the stream (never altered bytes).
        try:
            first = await anext(chunks, b"")
        except (IntegrityError, BlobNotFound) as exc:
            log.error("stored document failed its integrity check", extra={"document": document.id})
            raise DocumentIntegrityError() from exc
        return Download(document=document, chunks=_prepend(first, chunks))

    # -- review and deletion --------------------------------------------------------------

    async def review(self, document_id: str, caller: Caller, decision: ReviewIn) -> Document:
        document, access = await self._document_access(document_id, caller)
        if not access.is_clerk:
            raise ReviewNotAllowed()
        assert caller.principal is not None
        await self._audit(access, "review", f"review: {decision.decision}", document)
        document.review_status = decision.decision
        document.review_reason = decision.reason if decision.decision != "accepted" else None
        document.reviewed_by = caller.principal.subject
        document.reviewed_at = utcnow()
        await self.documents.flush()
        accepted = decision.decision == "accepted"
        await self._tell(
            access,
            RoomEventKind.DOCUMENT_ACCEPTED
            if accepted
            else RoomEventKind.DOCUMENT_NEEDS_REPLACEMENT,
            document,
        )
        return document

    async def access_log(self, booking_id: str, caller: Caller) -> Sequence[AccessRecord]:
        """Who read the booking's documents: for the citizen (their right to know) and staff."""
        access = await self.access(booking_id, caller)
        return await self.access_log_repository.for_booking(access.booking.booking_id)

    async def delete_all(self, booking_id: str, caller: Caller) -> list[str]:
        """The citizen withdraws every document of the booking; the blob ids to remove."""
        access = await self.access(booking_id, caller)
        if access.is_clerk:
            raise CitizenOnly()
        blobs: list[str] = []
        for document in await self.documents.for_booking(access.booking.booking_id):
            if document.tenant == access.booking.tenant and await self.documents.delete_by_id(
                document.id
            ):
                await self._tell(access, RoomEventKind.DOCUMENT_WITHDRAWN, document)
                blobs.append(document.blob_id)
        return blobs

    async def delete(self, document_id: str, caller: Caller) -> Document:
        """Delete the row and with it the data key; the document (its blob goes after the
        commit)."""
        document, access = await self._document_access(document_id, caller)
        if access.is_clerk:
            raise CitizenOnly()
        if await self.documents.delete_by_id(document.id):
            await self._tell(access, RoomEventKind.DOCUMENT_WITHDRAWN, document)
        return document

    async def _tell(self, access: Access, kind: RoomEventKind, document: Document) -> None:
        """What happened to a document, in this transaction: on the booking's room timeline,
        and as an event for those who subscribe (a case management system)."""
        reason = document.review_reason
        if kind is not RoomEventKind.DOCUMENT_NEEDS_REPLACEMENT:
            reason = None
        await self.rooms.add(new_event(access, kind, document_id=document.id, text=reason))
        if not self.outbox.wanted(_PUBLISHED[kind]):
            return
        changed = DocumentChanged.model_validate(
            {
                "document_id": document.id,
                "booking_id": document.booking_id,
                "checklist_item_id": document.checklist_item_id,
                "media_type": document.media_type,
                "size_bytes": document.size_bytes,
                "sha256": document.sha256,
                "scan_status": document.scan_status,
                "review_status": document.review_status,
                "review_reason": reason,
            }
        )
        self.outbox.emit(
            self.documents.session,
            _PUBLISHED[kind],
            changed.model_dump(mode="json"),
            subject=document.id,
            tenant=document.tenant,
        )


def _data_key(keys: KeyRing, document: Document) -> bytes:
    return keys.unwrap(
        WrappedKey(kek_id=document.kek_id, wrapped=document.wrapped_key), document.id
    )


async def scan_blob(
    blobs: BlobStore, scanner: Scanner, data_key: bytes, blob_id: str
) -> ScanResult | None:
    """The scanner's verdict on a stored blob, or None when it gives none (fail closed)."""
    try:
        async with contextlib.aclosing(decrypt_stream(data_key, blobs.read(blob_id))) as chunks:
            return await scanner.scan(chunks)
    except ScannerUnavailable as exc:
        log.warning("scanner unavailable, document stays pending", extra={"reason": str(exc)})
        return None


def _apply_verdict(document: Document, result: ScanResult | None) -> None:
    if result is None:
        return
    document.scanned_at = utcnow()
    if result.verdict is ScanVerdict.CLEAN:
        document.scan_status = ScanStatus.CLEAN
    else:
        document.scan_status = ScanStatus.INFECTED
        document.scan_signature = result.signature


async def rescan_pending(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    keys: KeyRing,
    blobs: BlobStore,
    scanner: Scanner,
    limit: int = 100,
) -> int:
    """Scan documents still pending; how many got a verdict. Each verdict in its own short
    transaction, none open while the scanner reads."""
    async with sessionmaker() as session:
        pending = list(await DocumentRepository(session).pending_scan(limit))
    done = 0
    for document in pending:
        try:
            key = _data_key(keys, document)
            result = await scan_blob(blobs, scanner, key, document.blob_id)
        except (IntegrityError, BlobNotFound, KeyRingError):
            # One damaged document must not keep the others pending; it stays pending itself.
            log.exception("document cannot be scanned", extra={"document": document.id})
            continue
        except ScanLimitExceeded:
            # Uploaded while the scanner was down, larger than it reads: never released.
            log.error(
                "pending document is larger than the scanner reads; it stays pending (raise "
                "clamd's StreamMaxLength above the upload limit)",
                extra={"document": document.id, "size_bytes": document.size_bytes},
            )
            async with sessionmaker() as session:
                await DocumentRepository(session).record_unscannable(document.id, at=utcnow())
                await session.commit()
            continue
        if result is None:
            continue
        _apply_verdict(document, result)
        async with sessionmaker() as session:
            if await DocumentRepository(session).record_scan(
                document.id,
                status=document.scan_status,
                signature=document.scan_signature,
                at=document.scanned_at,
            ):
                done += 1
            await session.commit()
    return done


async def follow_reschedule(
    sessionmaker: async_sessionmaker[AsyncSession], document: Document
) -> None:
    """Bring the other documents (and the room's events) of ``document``'s booking to its
    appointment time (booking's answer at its upload), in a transaction of its own: run after
    the upload's answer has gone, since the upload does not depend on it."""
    async with sessionmaker() as session:
        await _follow_reschedule(
            DocumentRepository(session),
            RoomRepository(session),
            document.booking_id,
            document.appointment_at,
        )
        await session.commit()


async def _follow_reschedule(
    documents: DocumentRepository, rooms: RoomRepository, booking_id: str, appointment_at: datetime
) -> None:
    """Keep the start of retention of the booking's documents and room events in step with
    booking (before any of them is loaded in the session: loaded ones are not updated)."""
    await documents.follow_reschedule(booking_id, appointment_at)
    await rooms.follow_reschedule(booking_id, appointment_at)


async def _prepend(first: bytes, rest: AsyncGenerator[bytes, None]) -> AsyncIterator[bytes]:
    async with contextlib.aclosing(rest):
        if first:
            yield first
        async for chunk in rest:
            yield chunk


async def _until_decided(
    body: AsyncIterable[bytes], decision: asyncio.Future[Access]
) -> AsyncIterator[bytes]:
    """The body; stops with booking's refusal as soon as it is known, and waits for booking's
    answer before taking more than :data:`UNDECIDED_BYTES`."""
    taken = 0
    async for chunk in body:
        taken += len(chunk)
        if decision.done() or taken > UNDECIDED_BYTES:
            await decision
        yield chunk


async def _settle(decision: asyncio.Future[Access]) -> None:
    """Stop asking booking when nobody waits for the answer any more; never leave it unread."""
    if not decision.done():
        decision.cancel()
        with anyio.CancelScope(shield=True):
            await asyncio.wait([decision])
    if not decision.cancelled():
        decision.exception()


def _caller_scope(caller: Caller) -> str:
    """Whose Idempotency-Keys these are: the account (the same across its tokens), or for the
    holder of a manage link the link's secret, which only they have."""
    if caller.principal is not None:
        return caller_scope("account", caller.principal.tenant, caller.principal.subject)
    return caller_scope("manage-link", caller.credentials.manage_token or "")


async def _same_file(body: UploadBody, first: dict[str, Any]) -> bool:
    """Whether ``body`` carries the file of the ``first`` answer (its size and SHA-256): read
    up to just past that size, hashed, never stored."""
    size = first.get("size_bytes")
    if not isinstance(size, int):
        return False
    is_multipart = body.content_type.lower().startswith("multipart/form-data")
    stream = limited(body.stream, size + 1 + (MULTIPART_OVERHEAD if is_multipart else 0))
    plaintext = MultipartFile(stream, body.content_type).chunks() if is_multipart else stream
    digest = hashlib.sha256()
    read = 0
    try:
        async for chunk in plaintext:
            read += len(chunk)
            if read > size:
                return False
            digest.update(chunk)
    except IntakeRefused:
        return False
    return read == size and digest.hexdigest() == first.get("sha256")


def _refusal(exc: IntakeRefused, limit: int) -> Problem:
    if isinstance(exc, TooLarge):
        return UploadTooLarge(f"The limit is {limit} bytes.", limit_bytes=limit)
    if isinstance(exc, Unreadable):
        return UnsupportedFileType(f"The file is refused: {exc}.")
    if isinstance(exc, Unsupported):
        return UnsupportedFileType("Accepted are PDF, JPEG and PNG, recognised by their content.")
    if isinstance(exc, BadName):
        return InvalidFileName(str(exc))
    return MissingFile(str(exc))
