"""A directory on the local disk: the embedded default."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterable, AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

import anyio
import anyio.to_thread

from documents.storage.base import BlobNotFound, BlobStore

_BLOB_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_WRITE_BUFFER = 1024 * 1024
_READ_SIZE = 1024 * 1024
_READ_SLACK = 64 * 1024
_IOV_MAX = 1024


def _check_id(blob_id: str) -> str:
    # Ids are ours (random), never the client's; the check keeps paths inside the directory.
    if not _BLOB_ID.match(blob_id):
        raise ValueError("invalid blob id")
    return blob_id


class _PartialFile:
    """A blob being written under ``<id>.part``, renamed into place once complete.

    Its methods run in a worker thread, one trip each: the file is created by the first
    write, and the last pieces are written together with the fsync and the rename, so that a
    blob of a MiB or less costs a single trip (the worker thread needs the GIL back after
    each, which a busy event loop makes wait).
    """

    def __init__(self, partial: Path, path: Path) -> None:
        self.partial = partial
        self.path = path
        self.handle: BinaryIO | None = None
        self.renamed = False

    def _opened(self) -> BinaryIO:
        if self.handle is None:
            self.partial.parent.mkdir(parents=True, exist_ok=True)
            self.handle = open(self.partial, "xb", buffering=0)
        return self.handle

    def write(self, pieces: list[bytes]) -> None:
        _write_all(self._opened(), pieces)

    def complete(self, pieces: list[bytes]) -> None:
        handle = self._opened()
        _write_all(handle, pieces)
        os.fsync(handle.fileno())
        handle.close()
        # From here on a failure (a cancelled request) must take the renamed blob away too.
        self.renamed = True
        os.replace(self.partial, self.path)

    def discard(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.partial.unlink(missing_ok=True)
        if self.renamed:
            self.path.unlink(missing_ok=True)


def _write_all(handle: BinaryIO, pieces: list[bytes]) -> None:
    """All of ``pieces``, with as few system calls as the kernel allows (one per MiB, usually)."""
    views = [memoryview(piece) for piece in pieces if piece]
    first = 0
    while first < len(views):
        written = os.writev(handle.fileno(), views[first : first + _IOV_MAX])
        while first < len(views) and written >= len(views[first]):
            written -= len(views[first])
            first += 1
        if written:
            views[first] = views[first][written:]


def _read_size(left: int) -> int:
    """A MiB, or all that is left when that is little more (no trip for a small remainder)."""
    return left if left <= _READ_SIZE + _READ_SLACK else _READ_SIZE


def _open_and_read(path: Path) -> tuple[BinaryIO, bytes, int]:
    """The open file, its first piece, and how many bytes are left after it."""
    handle = open(path, "rb")
    try:
        size = os.fstat(handle.fileno()).st_size
        data = handle.read(_read_size(size))
        return handle, data, size - len(data)
    except BaseException:
        handle.close()
        raise


class LocalBlobStore(BlobStore):
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, blob_id: str) -> Path:
        blob_id = _check_id(blob_id)
        return self.directory / blob_id[:2] / blob_id

    async def write(self, blob_id: str, chunks: AsyncIterable[bytes]) -> int:
        path = self._path(blob_id)
        blob = _PartialFile(path.with_name(path.name + ".part"), path)
        written = 0
        pending: list[bytes] = []
        pending_bytes = 0
        try:
            async for chunk in chunks:
                # Small pieces are gathered, so that a worker thread writes a MiB at once; a
                # full MiB waits for the next piece, because the last one goes with the fsync.
                if pending_bytes >= _WRITE_BUFFER:
                    await anyio.to_thread.run_sync(blob.write, pending)
                    written += pending_bytes
                    pending = []
                    pending_bytes = 0
                pending.append(chunk)
                pending_bytes += len(chunk)
            # Cancelled while this runs, the write still completes: then the blob goes too.
            await anyio.to_thread.run_sync(blob.complete, pending)
            written += pending_bytes
        except BaseException:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(blob.discard)
            raise
        return written

    async def read(self, blob_id: str) -> AsyncIterator[bytes]:
        path = self._path(blob_id)
        try:
            handle, data, left = await anyio.to_thread.run_sync(_open_and_read, path)
        except FileNotFoundError as exc:
            raise BlobNotFound(blob_id) from exc
        try:
            while data:
                yield data
                if left <= 0:  # the size it had when opened: no trip for an empty read
                    break
                data = await anyio.to_thread.run_sync(handle.read, _read_size(left))
                left -= len(data)
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

        def older(path: Path) -> bool:
            try:
                return path.stat().st_mtime < cutoff
            except FileNotFoundError:  # deleted since the listing (a concurrent purge)
                return False

        def scan() -> list[str]:
            if not self.directory.exists():
                return []
            return sorted(
                p.name
                for p in self.directory.glob("*/*")
                if _BLOB_ID.match(p.name) and p.is_file() and older(p)
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
