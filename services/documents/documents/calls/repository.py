from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update

from documents.calls.models import LiveKitRoom
from servicekit.db import insert_ignoring_conflicts
from servicekit.repository import Repository


class LiveKitRoomRepository(Repository[LiveKitRoom]):
    model = LiveKitRoom

    async def opened(self, name: str, tenant: str, booking_id: str, closes_at: datetime) -> None:
        """The room is to close at ``closes_at`` (a token was given for it; the window may
        have moved with the appointment, and a closed room of a moved one opens again)."""
        await self.session.execute(
            insert_ignoring_conflicts(self.session, LiveKitRoom).values(
                name=name, tenant=tenant, booking_id=booking_id, closes_at=closes_at
            )
        )
        await self.session.execute(
            update(LiveKitRoom)
            .where(LiveKitRoom.name == name)
            .values(closes_at=closes_at, closed_at=None)
            .execution_options(synchronize_session=False)
        )

    async def due(self, now: datetime, limit: int) -> Sequence[LiveKitRoom]:
        """Rooms whose window is over and that are not closed yet, the oldest first (claimed:
        another replica's round passes them over)."""
        result = await self.session.scalars(
            select(LiveKitRoom)
            .where(LiveKitRoom.closed_at.is_(None), LiveKitRoom.closes_at <= now)
            .order_by(LiveKitRoom.closes_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return result.all()

    async def closed(self, names: Sequence[str], at: datetime) -> None:
        await self.session.execute(
            update(LiveKitRoom)
            .where(LiveKitRoom.name.in_(names), LiveKitRoom.closes_at <= at)
            .values(closed_at=at)
            .execution_options(synchronize_session=False)
        )
