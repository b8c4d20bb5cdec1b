"""The long-lived parts of the app that requests share: blob store, keys, scanner, booking."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import BackgroundTasks, Depends, Request

from documents.clients.booking import BookingClient
from documents.crypto.keys import KeyRing
from documents.rooms.bell import RoomBell
from documents.scanning.scanner import Scanner
from documents.settings import DocumentsSettings
from documents.storage.base import BlobStore
from servicekit.events import Outbox


@dataclass
class Components:
    settings: DocumentsSettings
    blobs: BlobStore
    keys: KeyRing
    scanner: Scanner
    booking: BookingClient
    bell: RoomBell
    outbox: Outbox


async def _components(request: Request) -> Components:
    # A coroutine, so FastAPI does not hand it to a worker thread.
    components: Components = request.app.state.components
    return components


ComponentsDep = Annotated[Components, Depends(_components)]


def ring_after_commit(background: BackgroundTasks, components: Components, booking_id: str) -> None:
    """Wake the booking's consultation room streams once the response (and so the request's
    commit) is done: a stream woken earlier would not see the new events yet."""
    background.add_task(components.bell.ring, booking_id)
