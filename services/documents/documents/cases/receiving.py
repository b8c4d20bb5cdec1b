"""The receiving side of a hand-over: a partner's client (``cases:handover``) delivers a case.

    PUT cases/{id}                 the manifest (one JWE)           -> 202 receiving / receipt
    PUT cases/{id}/attachments/{a} an attachment (a stream of JWE)  -> 202 / 200 with the receipt

Each attachment is opened piece by piece into our blob store (encrypted at rest under a data
key of its own, as an upload is), sniffed against the allow-list and hashed on the way; its
SHA-256 and size must be the manifest's, and our malware scanner must find it clean. When the
last announced attachment is in, the case is received and the answer carries our signed
receipt. Anything that fails (a piece that does not decrypt, a hash that differs, a file we do
not take, malware) rejects the case: what had arrived of
it is deleted, and the answer is a signed rejection with the reason. Delivering again what was
delivered is answered as the first time and stores nothing (the sender may resume or repeat).

No statement runs while a body streams in: on SQLite the first write would hold the lock.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import secrets
from collections.abc import AsyncGenerator, AsyncIterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal, NoReturn

import anyio
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from documents.audit.models import AccessRecord
from documents.audit.repository import AccessLogRepository
from documents.cases.envelope import (
    MAX_MANIFEST_BYTES,
    RECEIPT_TYPE,
    Manifest,
    PieceRefused,
    open_pieces,
    receipt_claims,
)
from documents.cases.errors import CaseDecided, CaseNotFound, CaseRejected, CaseUndecryptable
from documents.cases.keys import CaseKeys
from documents.cases.models import CaseStatus, ReceivedAttachment, ReceivedCase
from documents.cases.repository import CaseKeyRepository, ReceivedCaseRepository
from documents.crypto.keys import KeyRing, WrappedKey, new_data_key
from documents.crypto.stream import decrypt_stream
from documents.events.models import CASE_RECEIVED, CASE_REJECTED, CaseChanged
from documents.intake.pipeline import Intake, IntakeRefused
from documents.scanning.scanner import Scanner, ScannerUnavailable, ScanVerdict
from documents.settings import DocumentsSettings
from documents.storage.base import BlobStore
from servicekit.auth import Principal, jose_safe
from servicekit.db import utcnow
from servicekit.events import Outbox
from servicekit.problems import ServiceUnavailable, ValidationFailed

log = logging.getLogger(__name__)


class ScannerUnavailableProblem(ServiceUnavailable):
    type_slug = "scanner-unavailable"
    title = "The malware scanner cannot be asked right now; deliver the attachment again later"


class ManifestInvalid(ValidationFailed):
    type_slug = "case-manifest-invalid"
    title = "The case's manifest is not one we take"


@dataclass(frozen=True)
class Delivery:
    """Where a delivery left the case."""

    case_id: str
    status: Literal["receiving", "received"]
    missing: list[str]
    receipt: str | None


def manifest_binding(tenant: str, case_id: str) -> str:
    return f"received-case:{tenant}:{case_id}"


def attachment_binding(tenant: str, case_id: str, attachment_id: str) -> str:
    return f"received-attachment:{tenant}:{case_id}:{attachment_id}"


RECEIVED_CASE_PURPOSE = "reading a case handed over by a partner municipality"


def access_subject(case_id: str) -> str:
    """What a received case's reads are filed under in the access log, in the place of a
    booking of ours (the booking is the sender's)."""
    return f"case:{case_id}"


async def _audit(
    session: AsyncSession,
    tenant: str,
    case_id: str,
    attachment_id: str | None,
    clerk: Principal,
    action: str,
    purpose: str | None,
) -> None:
    await AccessLogRepository(session).append(
        AccessRecord(
            tenant=tenant,
            booking_id=access_subject(case_id),
            document_id=attachment_id,
            actor=clerk.subject,
            actor_roles=" ".join(sorted(clerk.roles)),
            action=action,
            purpose=(purpose or "").strip() or RECEIVED_CASE_PURPOSE,
        )
    )


class CaseReceiver:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        blobs: BlobStore,
        ring: KeyRing,
        scanner: Scanner,
        outbox: Outbox,
        settings: DocumentsSettings,
    ) -> None:
        self.sessions = sessions
        self.scanner = scanner
        self.blobs = blobs
        self.ring = ring
        self.outbox = outbox
        self.settings = settings

    # -- reading what we hold ---------------------------------------------------------------

    def manifest_of(self, case: ReceivedCase) -> Manifest:
        assert case.manifest_sealed is not None
        assert case.kek_id is not None
        plaintext = self.ring.unwrap(
            WrappedKey(case.kek_id, case.manifest_sealed), manifest_binding(case.tenant, case.id)
        )
        return Manifest.model_validate_json(plaintext)

    async def received(self, tenant: str) -> Sequence[ReceivedCase]:
        async with self.sessions() as session:
            return await ReceivedCaseRepository(session).of(tenant)

    async def one(
        self, tenant: str, case_id: str, clerk: Principal, purpose: str | None = None
    ) -> tuple[ReceivedCase, Manifest | None, Sequence[ReceivedAttachment]]:
        """A case of ours with its manifest (while we keep it) and attachments; the read is in
        the access log, as a clerk's read of a document's metadata is."""
        async with self.sessions() as session, session.begin():
            cases = ReceivedCaseRepository(session)
            case = await cases.get((tenant, case_id))
            if case is None:
                raise CaseNotFound()
            attachments = await cases.attachments(tenant, case_id)
            await _audit(session, tenant, case_id, None, clerk, "metadata", purpose)
        manifest = self.manifest_of(case) if case.manifest_sealed is not None else None
        return case, manifest, attachments

    async def content(
        self,
        tenant: str,
        case_id: str,
        attachment_id: str,
        clerk: Principal,
        purpose: str | None = None,
    ) -> tuple[ReceivedAttachment, AsyncGenerator[bytes, None]]:
        """A received attachment's bytes, decrypted as they stream (received cases only); the
        read is in the access log before a byte goes out."""
        async with self.sessions() as session, session.begin():
            cases = ReceivedCaseRepository(session)
            case = await cases.get((tenant, case_id))
            attachment = await cases.attachment(tenant, case_id, attachment_id)
            if case is None or case.status != CaseStatus.RECEIVED or attachment is None:
                raise CaseNotFound()
            await _audit(session, tenant, case_id, attachment_id, clerk, "download", purpose)
        key = self.ring.unwrap(
            WrappedKey(attachment.kek_id, attachment.wrapped_key),
            attachment_binding(tenant, case_id, attachment_id),
        )
        return attachment, decrypt_stream(key, self.blobs.read(attachment.blob_id))

    async def _case(self, tenant: str, case_id: str, client: str) -> ReceivedCase | None:
        async with self.sessions() as session:
            case = await ReceivedCaseRepository(session).get((tenant, case_id))
        if case is not None and case.client_id != client:
            raise CaseNotFound()  # another partner's case: as if there were none
        return case

    # -- the manifest -----------------------------------------------------------------------

    async def deliver_manifest(
        self, tenant: str, case_id: str, partner: Principal, body: bytes
    ) -> Delivery:
        async with self.sessions() as session:
            keys = await CaseKeys(CaseKeyRepository(session), self.ring).decryption_keys()
        try:
            plaintext = jose_safe.decrypt(body, keys, max_bytes=MAX_MANIFEST_BYTES)
        except jose_safe.DecryptionFailed as failed:
            raise CaseUndecryptable(str(failed)) from failed
        try:
            manifest = Manifest.model_validate_json(plaintext)
        except ValidationError as invalid:
            raise ManifestInvalid(f"{invalid.error_count()} fields are not valid.") from invalid
        if manifest.case_id != case_id or manifest.to_ags != tenant:
            raise ManifestInvalid("The manifest is for another case or municipality.")
        if len({a.id for a in manifest.attachments}) != len(manifest.attachments):
            raise ManifestInvalid("Two attachments have the same id.")
        digest = hashlib.sha256(plaintext).hexdigest()
        existing = await self._case(tenant, case_id, partner.subject)
        if existing is None:
            sealed = self.ring.wrap(plaintext, manifest_binding(tenant, case_id))
            case = ReceivedCase(
                tenant=tenant,
                id=case_id,
                from_ags=manifest.from_ags,
                client_id=partner.subject,
                status=CaseStatus.RECEIVING,
                leika=manifest.leika,
                manifest_sha256=digest,
                kek_id=sealed.kek_id,
                manifest_sealed=sealed.wrapped,
            )
            async with self.sessions() as session, session.begin():
                if not await ReceivedCaseRepository(session).add_if_possible(case):
                    existing = await ReceivedCaseRepository(session).get((tenant, case_id))
            if existing is None:
                if not manifest.attachments:
                    return await self._complete(tenant, case_id)
                return Delivery(case_id, "receiving", [a.id for a in manifest.attachments], None)
        if existing.manifest_sha256 != digest:
            raise CaseDecided("This case id was delivered with another manifest.")
        return await self._where(existing)

    async def _where(self, case: ReceivedCase) -> Delivery:
        if case.status == CaseStatus.REJECTED:
            raise CaseRejected(case.reason, rejection=case.receipt)
        if case.status == CaseStatus.RECEIVED:
            return Delivery(case.id, "received", [], case.receipt)
        async with self.sessions() as session:
            have = {
                a.id
                for a in await ReceivedCaseRepository(session).attachments(case.tenant, case.id)
            }
        missing = [a.id for a in self.manifest_of(case).attachments if a.id not in have]
        if not missing:
            return await self._complete(case.tenant, case.id)
        return Delivery(case.id, "receiving", missing, None)

    # -- an attachment ----------------------------------------------------------------------

    async def deliver_attachment(
        self,
        tenant: str,
        case_id: str,
        attachment_id: str,
        partner: Principal,
        body: AsyncIterable[bytes],
    ) -> Delivery:
        case = await self._case(tenant, case_id, partner.subject)
        if case is None:
            raise CaseNotFound("Deliver the case's manifest first.")
        if case.status != CaseStatus.RECEIVING:
            return await self._where(case)  # delivered before: nothing is read, nothing kept
        manifest = self.manifest_of(case)
        entry = next((a for a in manifest.attachments if a.id == attachment_id), None)
        if entry is None:
            raise CaseNotFound(f"The manifest announces no attachment {attachment_id}.")
        async with self.sessions() as session:
            keys = await CaseKeys(CaseKeyRepository(session), self.ring).decryption_keys()
        data_key = new_data_key()
        blob_id = secrets.token_urlsafe(24)
        intake = Intake(
            limit=min(entry.size_bytes, self.settings.upload_limit(tenant)),
            data_key=data_key,
            chunk_size=self.settings.encryption_chunk_size,
            filename=lambda: entry.name,
        )
        try:
            async with contextlib.aclosing(intake.encrypt(open_pieces(body, keys))) as sealed:
                await self.blobs.write(blob_id, sealed)
        except PieceRefused as refused:
            await self._reject(case, manifest, f"attachment {attachment_id}: {refused}")
        except IntakeRefused as refused:
            await self._reject(case, manifest, f"attachment {attachment_id}: {refused}")
        if intake.sha256 != entry.sha256 or intake.size != entry.size_bytes:
            await self.blobs.delete(blob_id)
            await self._reject(
                case, manifest, f"attachment {attachment_id}: its SHA-256 is not the manifest's"
            )
        await self._scan(case, manifest, attachment_id, data_key, blob_id)
        assert intake.file_type is not None
        wrapped = self.ring.wrap(data_key, attachment_binding(tenant, case_id, attachment_id))
        attachment = ReceivedAttachment(
            tenant=tenant,
            case_id=case_id,
            id=attachment_id,
            blob_id=blob_id,
            display_name=intake.display_name(),
            media_type=intake.file_type.media_type,
            size_bytes=intake.size,
            sha256=intake.sha256,
            kek_id=wrapped.kek_id,
            wrapped_key=wrapped.wrapped,
        )
        replaced: str | None = None
        try:
            async with self.sessions() as session, session.begin():
                cases = ReceivedCaseRepository(session)
                current = await cases.get((tenant, case_id))
                if current is None or current.status != CaseStatus.RECEIVING:
                    raise CaseDecided("The case was decided while this attachment arrived.")
                previous = await cases.attachment(tenant, case_id, attachment_id)
                if previous is not None:  # delivered again while receiving: the newer counts
                    replaced = previous.blob_id
                    await cases.drop_attachment(previous)
                await cases.add_attachment(attachment)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self.blobs.delete(blob_id)
            raise
        if replaced is not None:
            await self.blobs.delete(replaced)
        return await self._where(case)

    async def _scan(
        self, case: ReceivedCase, manifest: Manifest, attachment_id: str, key: bytes, blob_id: str
    ) -> None:
        """Our scanner's verdict on a stored attachment, before it counts: malware rejects the
        case; no verdict (the scanner is away) refuses this delivery with 503, to be repeated,
        and keeps nothing of it."""
        try:
            async with contextlib.aclosing(decrypt_stream(key, self.blobs.read(blob_id))) as plain:
                result = await self.scanner.scan(plain)
        except ScannerUnavailable as unavailable:
            await self.blobs.delete(blob_id)
            raise ScannerUnavailableProblem(headers={"Retry-After": "60"}) from unavailable
        if result.verdict == ScanVerdict.INFECTED:
            await self.blobs.delete(blob_id)
            await self._reject(case, manifest, f"attachment {attachment_id}: malware found")

    # -- deciding ---------------------------------------------------------------------------

    async def _sign(self, session: AsyncSession, claims: dict[str, object]) -> str:
        key = await CaseKeys(CaseKeyRepository(session), self.ring).receipt_key()
        return jose_safe.sign(claims, key, token_type=RECEIPT_TYPE)

    async def _complete(self, tenant: str, case_id: str) -> Delivery:
        now = utcnow()
        async with self.sessions() as session, session.begin():
            cases = ReceivedCaseRepository(session)
            case = await cases.locked(tenant, case_id)
            if case is None:
                raise CaseNotFound()
            if case.status != CaseStatus.RECEIVING:
                return await self._decided(case)
            manifest = self.manifest_of(case)
            have = {a.id: a.sha256 for a in await cases.attachments(tenant, case_id)}
            if set(have) != {a.id for a in manifest.attachments}:
                return Delivery(
                    case_id,
                    "receiving",
                    [a.id for a in manifest.attachments if a.id not in have],
                    None,
                )
            claims = receipt_claims(
                receiver=tenant,
                sender=case.from_ags,
                case_id=case_id,
                at=now,
                jti=secrets.token_hex(16),
                status="received",
                manifest_sha256=case.manifest_sha256,
                attachments=have,
            )
            case.receipt = await self._sign(session, claims)
            case.status, case.decided_at = CaseStatus.RECEIVED, now
            case.delete_after = now + timedelta(days=self.settings.retention_days_for(tenant))
            self._tell(session, case, CASE_RECEIVED, len(have))
        return Delivery(case_id, "received", [], case.receipt)

    async def _decided(self, case: ReceivedCase) -> Delivery:
        if case.status == CaseStatus.REJECTED:
            raise CaseRejected(case.reason, rejection=case.receipt)
        return Delivery(case.id, "received", [], case.receipt)

    async def _reject(self, case: ReceivedCase, manifest: Manifest, reason: str) -> NoReturn:
        """Refuse the case: delete what arrived of it, sign the rejection, raise it."""
        now = utcnow()
        reason = reason[:500]
        with anyio.CancelScope(shield=True):
            async with self.sessions() as session, session.begin():
                cases = ReceivedCaseRepository(session)
                current = await cases.locked(case.tenant, case.id)
                if current is None or current.status != CaseStatus.RECEIVING:
                    raise CaseDecided("The case was decided while this attachment arrived.")
                blob_ids = await cases.drop_attachments(case.tenant, case.id)
                claims = receipt_claims(
                    receiver=case.tenant,
                    sender=case.from_ags,
                    case_id=case.id,
                    at=now,
                    jti=secrets.token_hex(16),
                    status="rejected",
                    reason=reason,
                    manifest_sha256=case.manifest_sha256,
                )
                current.receipt = rejection = await self._sign(session, claims)
                current.status, current.reason, current.decided_at = (
                    CaseStatus.REJECTED,
                    reason,
                    now,
                )
                # Nothing of a rejected case is kept but the record that it was refused.
                current.manifest_sealed = None
                current.delete_after = now + timedelta(
                    days=self.settings.retention_days_for(case.tenant)
                )
                self._tell(session, current, CASE_REJECTED, len(manifest.attachments))
            for blob_id in blob_ids:
                await self.blobs.delete(blob_id)
        log.info("rejected a handed-over case: %s", reason)
        raise CaseRejected(reason, rejection=rejection)

    def _tell(
        self, session: AsyncSession, case: ReceivedCase, event: str, attachments: int
    ) -> None:
        if not self.outbox.wanted(event):
            return
        data = CaseChanged(
            case_id=case.id,
            direction="incoming",
            partner_ags=case.from_ags,
            status="received" if event == CASE_RECEIVED else "rejected",
            reason=case.reason,
            attachments=attachments,
            receipt=case.receipt,
        )
        self.outbox.emit(
            session, event, data.model_dump(mode="json"), subject=case.id, tenant=case.tenant
        )
