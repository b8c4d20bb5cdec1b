"""A directory on the local disk: the embedded default."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterable, AsyncIterator
from datetime import datetime
from pathlib import Path

import anyio
import anyio.to_thread

from documents.storage.base import BlobNotFound

_BLOB_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_WRITE_BUFFER = 1024 * 1024
_READ_SIZE = 256 * 1024


def _check_id(blob_id: str) -> str:
    # Ids are ours (random), never the client's; the check keeps paths inside the directory.
    if not _BLOB_ID.match(blob_id):
        raise ValueError("invalid blob id")
    return blob_id


class LocalBlobStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, blob_id: str) -> Path:
        blob_id = _check_id(blob_id)
        return self.directory / blob_id[:2] / blob_id

    async def write(self, blob_id: str, chunks: AsyncIterable[bytes]) -> int:
        path = self._path(blob_id)
        partial = path.with_name(path.name + ".part")
        await anyio.to_thread.run_sync(lambda: path.parent.mkdir(parents=True, exist_ok=True))
        handle = await anyio.to_thread.run_sync(lambda: open(partial, "xb"))
        written = 0
        buffer = bytearray()
        try:
            try:
                async for chunk in chunks:
                    buffer += chunk
                    if len(buffer) >= _WRITE_BUFFER:
                        data = bytes(buffer)
                        buffer.clear()
                        await anyio.to_thread.run_sync(handle.write, data)
                        written += len(data)
                if buffer:
                    data = bytes(buffer)
                    await anyio.to_thread.run_sync(handle.write, data)
                    written += len(data)
                await anyio.to_thread.run_sync(handle.flush)
                await anyio.to_thread.run_sync(os.fsync, handle.fileno())
            finally:
                await anyio.to_thread.run_sync(handle.close)
            await anyio.to_thread.run_sync(os.replace, partial, path)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(lambda: partial.unlink(missing_ok=True))
            raise
        return written

    async def read(self, blob_id: str) -> AsyncIterator[bytes]:
        path = self._path(blob_id)
        try:
            handle = await anyio.to_thread.run_sync(lambda: open(path, "rb"))
        except FileNotFoundError as exc:
            raise BlobNotFound(blob_id) from exc
        try:
            while True:
                data = await anyio.to_thread.run_sync(handle.read, _READ_SIZE)
                if not data:
                    return
                yield data
        finally:
            handle.close()

    async def delete(self, blob_id: str) -> None:
        path = self._path(blob_id)
        await anyio.to_thread.run_sync(lambda: path.unlink(missing_ok=True))

    async def exists(self, blob_id: str) -> bool:
        path = self._path(blob_id)
        return await anyio.to_thread.run_sync(path.exists)

    async def list_ids(self) -> list[str]:
        def scan() -> list[str]:
            if not self.directory.exists():
                return []
            return sorted(
                p.name for p in self.directory.glob("*/*") if p.is_file() and _BLOB_ID.match(p.name)
            )

        return await anyio.to_thread.run_sync(scan)

    async def list_older_than(self, moment: datetime) -> list[str]:
        cutoff = moment.timestamp()

        def scan() -> list[str]:
            if not self.directory.exists():
                return []
            return sorted(
                p.name
                for p in self.directory.glob("*/*")
                if p.is_file() and _BLOB_ID.match(p.name) and p.stat().st_mtime < cutoff
            )

        return await anyio.to_thread.run_sync(scan)

    async def list_partials(self) -> list[Path]:
        """Leftover ``.part`` files (there should be none after any request)."""

        def scan() -> list[Path]:
            if not self.directory.exists():
                return []
            return sorted(self.directory.glob("*/*.part"))

        return await anyio.to_thread.run_sync(scan)

    async def check(self) -> None:
        def probe() -> None:
            self.directory.mkdir(parents=True, exist_ok=True)
            if not os.access(self.directory, os.W_OK):
                raise OSError(f"blob directory {self.directory} is not writable")

        await anyio.to_thread.run_sync(probe)

    async def close(self) -> None:
        return None
