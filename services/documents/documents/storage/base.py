"""Blob stores hold encrypted blobs under random ids; they never see plaintext.

A write takes an async stream of bytes and either stores all of it or nothing: a failed or
cancelled write (a body over the size limit, a client that went away) leaves no object behind.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from datetime import datetime


class BlobNotFound(Exception):
    """No blob with this id."""


class BlobStore:
    """What every blob store does (:mod:`.local`, :mod:`.s3`). A base class, not a protocol,
    so that :mod:`.dependencies` can check that what the app holds is one."""

    async def write(self, blob_id: str, chunks: AsyncIterable[bytes]) -> int:
        """Store the stream under ``blob_id``; the number of bytes written. All or nothing."""
        raise NotImplementedError

    def read(self, blob_id: str) -> AsyncIterator[bytes]:
        """The stored bytes, streamed; raises :class:`BlobNotFound`."""
        raise NotImplementedError

    async def delete(self, blob_id: str) -> None:
        """Remove the blob; deleting a missing blob is not an error (idempotent)."""
        raise NotImplementedError

    async def exists(self, blob_id: str) -> bool:
        raise NotImplementedError

    async def list_ids(self) -> list[str]:
        """Every stored blob id (for tests and operators)."""
        raise NotImplementedError

    async def list_older_than(self, moment: datetime) -> list[str]:
        """Ids of blobs last written before ``moment`` (for sweeping orphans)."""
        raise NotImplementedError

    async def check(self) -> None:
        """Raise when the store cannot be reached (readiness)."""
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError
