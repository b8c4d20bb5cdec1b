"""Deleting documents once their tenant's retention period after the appointment has passed.

Safe to run concurrently and again: each batch deletes rows (destroying their keys) in its own
transaction, and only rows this run actually deleted have their blobs removed after the commit.
A second runner finds the rows gone and does nothing; blob deletion is idempotent anyway.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from documents.components import Components
from documents.uploads.repository import DocumentRepository

BATCH = 200


async def purge_expired(
    sessionmaker: async_sessionmaker[AsyncSession],
    components: Components,
    *,
    now: datetime,
    tenant: str | None = None,
) -> int:
    """Delete every expired document (of ``tenant``, or of all tenants); how many this run did."""
    async with sessionmaker() as session:
        tenants = [tenant] if tenant else list(await DocumentRepository(session).tenants())
    purged = 0
    for current in tenants:
        cutoff = now - timedelta(days=components.settings.retention_days_for(current))
        while True:
            blobs: list[str] = []
            async with sessionmaker() as session:
                documents = DocumentRepository(session)
                expired = await documents.expired(current, cutoff, BATCH)
                if not expired:
                    break
                for document_id, blob_id in expired:
                    if await documents.delete(document_id):
                        blobs.append(blob_id)
                await session.commit()
            for blob_id in blobs:
                await components.blobs.delete(blob_id)
            purged += len(blobs)
    return purged
