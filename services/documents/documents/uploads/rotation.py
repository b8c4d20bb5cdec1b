"""Moving every document's wrapped key to the active KEK (after a rotation).

The data keys and blobs stay as they are: only the small wrapped keys change, so a rotation
is cheap. Safe to rerun and to run concurrently (compare-and-set on the old KEK id).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from documents.crypto.keys import KeyRing, WrappedKey
from documents.uploads.repository import DocumentRepository

BATCH = 200


async def rewrap_all(sessionmaker: async_sessionmaker[AsyncSession], keys: KeyRing) -> int:
    """Rewrap every document not yet under the active KEK; how many this run moved."""
    moved = 0
    skipped: set[str] = set()
    while True:
        async with sessionmaker() as session:
            documents = DocumentRepository(session)
            batch = [
                d
                for d in await documents.not_wrapped_by(keys.active_id, BATCH + len(skipped))
                if d.id not in skipped
            ]
            if not batch:
                return moved
            for document in batch:
                old = WrappedKey(kek_id=document.kek_id, wrapped=document.wrapped_key)
                new = keys.rewrap(old, document.id)
                if await documents.set_wrapped_key(
                    document.id, old_kek_id=old.kek_id, kek_id=new.kek_id, wrapped=new.wrapped
                ):
                    moved += 1
                else:
                    skipped.add(document.id)
            await session.commit()
