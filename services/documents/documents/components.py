"""The long-lived parts of the app that requests share: blob store, keys, scanner, booking."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from documents.clients.booking import BookingClient
from documents.crypto.keys import KeyRing
from documents.scanning.scanner import Scanner
from documents.settings import DocumentsSettings
from documents.storage.base import BlobStore


@dataclass
class Components:
    settings: DocumentsSettings
    blobs: BlobStore
    keys: KeyRing
    scanner: Scanner
    booking: BookingClient


async def _components(request: Request) -> Components:
    # A coroutine, so FastAPI does not hand it to a worker thread.
    components: Components = request.app.state.components
    return components


ComponentsDep = Annotated[Components, Depends(_components)]
