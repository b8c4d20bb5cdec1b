"""Deleting documents once their tenant's retention period after the appointment has passed,
and cases handed to us once theirs after the case was decided has (``delete_after``).

Safe to run concurrently and again: each batch deletes rows (destroying their keys) in its own
transaction, and only rows this run actually deleted have their blobs removed after the commit.
A second runner finds the rows gone and does nothing; blob deletion is idempotent anyway.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from documents.cases.repository import ReceivedCaseRepository
from documents.rooms.repository import RoomRepository
from documents.settings import DocumentsSettings
from documents.storage.base import BlobStore
from documents.uploads.repository import DocumentRepository

BATCH = 200
ORPHAN_GRACE = timedelta(hours=1)
"""A blob is written just before its row commits; one older than this without a row is an
orphan (its upload's commit failed, or a purge died between its commit and the blob delete)."""


Batch = Callable[[DocumentRepository], Awaitable[Sequence[tuple[str, str]]]]
"""The next (id, blob id) pairs to delete, read through the batch's repository."""


class Retention:
    """Deletes documents and consultation rooms: when their time is up, and on erasure.

    Works in transactions of its own (``sessionmaker``), never in a request's session.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        blobs: BlobStore,
        settings: DocumentsSettings,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.blobs = blobs
        self.settings = settings

    async def purge_expired(self, *, now: datetime, tenant: str | None = None) -> int:
        """Delete every expired document and consultation room event (of ``tenant``, or of
        all tenants); how many documents this run deleted.

        A run over all tenants also sweeps orphaned blobs.
        """
        async with self.sessionmaker() as session:
            tenants = (
                [tenant]
                if tenant
                else sorted(
                    {
                        *await DocumentRepository(session).tenants(),
                        *await RoomRepository(session).tenants(),
                    }
                )
            )
        purged = 0
        for current in tenants:
            cutoff = now - timedelta(days=self.settings.retention_days_for(current))
            purged += await self._delete_in_batches(_expired(current, cutoff))
            await self._delete_room_events(_expired_events(current, cutoff))
        await self._delete_received_cases(now, tenant)
        if tenant is None:
            await self.sweep_orphans(now=now)
        return purged

    async def erase_bookings(self, *, tenant: str, booking_ids: Sequence[str]) -> int:
        """On a citizen's request (Art. 17 DSGVO): delete every document of these bookings of
        ``tenant`` (their rows and keys, then their blobs) and their consultation rooms; how
        many documents this run deleted."""
        deleted = await self._delete_in_batches(
            lambda documents: documents.of_bookings(tenant, booking_ids, BATCH)
        )
        await self._delete_room_events(
            lambda rooms: rooms.delete_of_bookings(tenant, booking_ids, BATCH)
        )
        return deleted

    async def sweep_orphans(self, *, now: datetime) -> int:
        """Delete blobs no document refers to (never readable: their keys are gone or never
        kept)."""
        candidates = await self.blobs.list_older_than(now - ORPHAN_GRACE)
        swept = 0
        for start in range(0, len(candidates), BATCH):
            batch = candidates[start : start + BATCH]
            async with self.sessionmaker() as session:
                known = await DocumentRepository(session).known_blobs(batch)
                known |= await ReceivedCaseRepository(session).known_blobs(batch)
            for blob_id in batch:
                if blob_id not in known:
                    await self.blobs.delete(blob_id)
                    swept += 1
        return swept

    async def _delete_in_batches(self, batch: Batch) -> int:
        """Delete the documents ``batch`` names, batch by batch until it names none: each
        batch's rows (with their keys) in one transaction, then the blobs of the rows this run
        deleted."""
        deleted = 0
        while True:
            blobs: list[str] = []
            async with self.sessionmaker() as session:
                documents = DocumentRepository(session)
                doomed = await batch(documents)
                if not doomed:
                    return deleted
                for document_id, blob_id in doomed:
                    if await documents.delete_by_id(document_id):
                        blobs.append(blob_id)
                await session.commit()
            for blob_id in blobs:
                await self.blobs.delete(blob_id)
            deleted += len(blobs)

    async def _delete_received_cases(self, now: datetime, tenant: str | None) -> None:
        """Delete received cases past their ``delete_after`` (rows and keys in one
        transaction per batch, then the blobs)."""
        while True:
            blobs: list[str] = []
            async with self.sessionmaker() as session:
                cases = ReceivedCaseRepository(session)
                doomed = await cases.expired(now, tenant, BATCH)
                if not doomed:
                    return
                for case in doomed:
                    blobs += await cases.delete_case(case)
                await session.commit()
            for blob_id in blobs:
                await self.blobs.delete(blob_id)

    async def _delete_room_events(self, batch: Callable[[RoomRepository], Awaitable[int]]) -> None:
        """Delete room events batch by batch (each in its own transaction) until none is
        left."""
        while True:
            async with self.sessionmaker() as session:
                deleted = await batch(RoomRepository(session))
                await session.commit()
            if not deleted:
                return


def _expired(tenant: str, cutoff: datetime) -> Batch:
    return lambda documents: documents.expired(tenant, cutoff, BATCH)


def _expired_events(tenant: str, cutoff: datetime) -> Callable[[RoomRepository], Awaitable[int]]:
    return lambda rooms: rooms.delete_expired(tenant, cutoff, BATCH)
