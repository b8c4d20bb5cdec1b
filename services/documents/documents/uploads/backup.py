"""The blob store in a backup (servicekit.backup): every blob as it is stored, encrypted.

Each blob is copied byte for byte into ``blobs/`` of the backup; the data keys stay wrapped in
the database dump, and the key-encryption keys that unwrap them stay in the deployment's
secrets. The manifest names those keys by id, and a restore refuses before writing anything
where this deployment's ``DOCUMENTS_KEKS`` lacks one.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
from fastapi import FastAPI

from documents.crypto.keys import KeyRing
from documents.storage.base import BlobStore
from documents.uploads.repository import DocumentRepository
from servicekit.backup import BackupError
from servicekit.db import Database

_FOLDER = "blobs"
_BLOB_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_CHUNK = 1 << 20


class BlobBackup:
    """The documents service's :class:`~servicekit.backup.BackupPart`."""

    async def save(self, app: FastAPI, directory: Path) -> dict[str, Any]:
        blobs: BlobStore = app.state.blob_store
        database: Database = app.state.database
        async with database.sessionmaker() as session:
            keks = sorted(await DocumentRepository(session).kek_ids())
        folder = directory / _FOLDER
        folder.mkdir()
        ids = await blobs.list_ids()
        size = 0
        for blob_id in ids:
            async with await anyio.open_file(folder / blob_id, "wb") as file:
                async for chunk in blobs.read(blob_id):
                    size += len(chunk)
                    await file.write(chunk)
        return {"blobs": len(ids), "bytes": size, "key_encryption_keys": keks}

    async def check(self, app: FastAPI, recorded: dict[str, Any]) -> None:
        keys: KeyRing = app.state.key_ring
        missing = sorted(set(recorded["key_encryption_keys"]) - keys.ids)
        if missing:
            raise BackupError(
                f"the documents need the key-encryption keys {', '.join(missing)}, which "
                "DOCUMENTS_KEKS does not hold: restore with the keys of the backed-up deployment"
            )
        blobs: BlobStore = app.state.blob_store
        if await blobs.list_ids():
            raise BackupError("the blob store is not empty: restore into a fresh one")

    async def restore(self, app: FastAPI, directory: Path, recorded: dict[str, Any]) -> str:
        blobs: BlobStore = app.state.blob_store
        files = sorted((directory / _FOLDER).iterdir())
        if any(not _BLOB_ID.match(file.name) for file in files):
            raise BackupError(f"{directory / _FOLDER} holds a file that is no blob")
        for file in files:
            await blobs.write(file.name, _chunks(file))
        return f"{len(files)} blobs"


async def _chunks(path: Path) -> AsyncIterator[bytes]:
    async with await anyio.open_file(path, "rb") as file:
        while chunk := await file.read(_CHUNK):
            yield chunk
