from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import Select, delete, select, update

from documents.rooms.models import RoomEvent
from servicekit.repository import Repository


class RoomRepository(Repository[RoomEvent]):
    model = RoomEvent

    async def after(
        self,
        tenant: str,
        booking_id: str,
        after: int,
        limit: int,
        *,
        without: Collection[str] = (),
    ) -> Sequence[RoomEvent]:
        """The room's events with an id above ``after``, oldest first; none of the kinds in
        ``without``."""
        query = select(RoomEvent).where(
            RoomEvent.booking_id == booking_id,
            RoomEvent.tenant == tenant,
            RoomEvent.id > after,
        )
        if without:
            query = query.where(RoomEvent.kind.not_in(list(without)))
        result = await self.session.scalars(query.order_by(RoomEvent.id).limit(limit))
        return result.all()

    async def appointment_at(self, tenant: str, booking_id: str) -> datetime | None:
        """The appointment time the room's newest event keeps it by; None for an empty room."""
        return await self.session.scalar(
            select(RoomEvent.appointment_at)
            .where(RoomEvent.tenant == tenant, RoomEvent.booking_id == booking_id)
            .order_by(RoomEvent.id.desc())
            .limit(1)
        )

    async def newest_kind(
        self, tenant: str, booking_id: str, kinds: Collection[str], since: datetime
    ) -> str | None:
        """The kind of the room's newest event of ``kinds`` at or after ``since``, or None."""
        return await self.session.scalar(
            select(RoomEvent.kind)
            .where(
                RoomEvent.tenant == tenant,
                RoomEvent.booking_id == booking_id,
                RoomEvent.kind.in_(list(kinds)),
                RoomEvent.at >= since,
            )
            .order_by(RoomEvent.id.desc())
            .limit(1)
        )

    async def follow_reschedule(self, booking_id: str, appointment_at: datetime) -> None:
        await self.session.execute(
            update(RoomEvent)
            .where(RoomEvent.booking_id == booking_id, RoomEvent.appointment_at != appointment_at)
            .values(appointment_at=appointment_at)
            .execution_options(synchronize_session=False)
        )

    async def delete_expired(self, tenant: str, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` of the tenant's events whose appointment was before
        ``before``; how many went."""
        doomed = select(RoomEvent.id).where(
            RoomEvent.tenant == tenant, RoomEvent.appointment_at < before
        )
        return await self._delete(doomed, limit)

    async def delete_of_bookings(self, tenant: str, booking_ids: Sequence[str], limit: int) -> int:
        doomed = select(RoomEvent.id).where(
            RoomEvent.tenant == tenant, RoomEvent.booking_id.in_(booking_ids)
        )
        return await self._delete(doomed, limit)

    async def _delete(self, doomed: Select[int], limit: int) -> int:
        ids = list(await self.session.scalars(doomed.order_by(RoomEvent.id).limit(limit)))
        if not ids:
            return 0
        await self.session.execute(
            delete(RoomEvent)
            .where(RoomEvent.id.in_(ids))
            .execution_options(synchronize_session=False)
        )
        return len(ids)

    async def tenants(self) -> Sequence[str]:
        result = await self.session.scalars(select(RoomEvent.tenant).distinct())
        return result.all()
