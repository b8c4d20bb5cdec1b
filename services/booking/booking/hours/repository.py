from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import date, datetime

from sqlalchemy import delete, select

from booking.hours.models import Closure, Holiday, OpeningRule
from servicekit.repository import SessionRepository


class HoursRepository(SessionRepository):
    """Opening rules, closures and holidays: what the opening hours of an office are made of."""

    async def rules(self, office_ids: Iterable[uuid.UUID]) -> Sequence[OpeningRule]:
        result = await self.session.scalars(
            select(OpeningRule)
            .where(OpeningRule.office_id.in_(list(office_ids)))
            .order_by(OpeningRule.weekday, OpeningRule.opens, OpeningRule.valid_from)
        )
        return result.all()

    async def replace_rules(self, office_id: uuid.UUID, rules: Sequence[OpeningRule]) -> None:
        await self.session.execute(delete(OpeningRule).where(OpeningRule.office_id == office_id))
        self.session.add_all(rules)
        await self.session.flush()

    async def closures(
        self, office_ids: Iterable[uuid.UUID], start: datetime, end: datetime
    ) -> Sequence[Closure]:
        """Closures overlapping ``[start, end)``."""
        result = await self.session.scalars(
            select(Closure)
            .where(
                Closure.office_id.in_(list(office_ids)),
                Closure.starts_at < end,
                Closure.ends_at > start,
            )
            .order_by(Closure.starts_at)
        )
        return result.all()

    async def closures_after(
        self, office_ids: Iterable[uuid.UUID], after: datetime
    ) -> Sequence[Closure]:
        result = await self.session.scalars(
            select(Closure)
            .where(Closure.office_id.in_(list(office_ids)), Closure.ends_at > after)
            .order_by(Closure.starts_at)
        )
        return result.all()

    async def upcoming_closures(self, office_id: uuid.UUID, now: datetime) -> Sequence[Closure]:
        result = await self.session.scalars(
            select(Closure)
            .where(Closure.office_id == office_id, Closure.ends_at > now)
            .order_by(Closure.starts_at)
        )
        return result.all()

    async def add_closure(self, closure: Closure) -> Closure:
        self.session.add(closure)
        await self.session.flush()
        return closure

    async def closure(self, office_id: uuid.UUID, closure_id: uuid.UUID) -> Closure | None:
        result = await self.session.scalars(
            select(Closure).where(Closure.office_id == office_id, Closure.id == closure_id)
        )
        return result.one_or_none()

    async def delete_closure(self, office_id: uuid.UUID, closure_id: uuid.UUID) -> bool:
        result = await self.session.execute(
            delete(Closure).where(Closure.office_id == office_id, Closure.id == closure_id)
        )
        return bool(getattr(result, "rowcount", 0))

    async def holidays(self, tenant: str, start: date, end: date) -> Sequence[Holiday]:
        """Holidays on days in ``[start, end)``."""
        result = await self.session.scalars(
            select(Holiday)
            .where(Holiday.tenant == tenant, Holiday.day >= start, Holiday.day < end)
            .order_by(Holiday.day)
        )
        return result.all()

    async def holidays_from(self, tenant: str, start: date) -> Sequence[Holiday]:
        result = await self.session.scalars(
            select(Holiday).where(Holiday.tenant == tenant, Holiday.day >= start)
        )
        return result.all()

    async def holiday(self, tenant: str, day: date) -> Holiday | None:
        result = await self.session.scalars(
            select(Holiday).where(Holiday.tenant == tenant, Holiday.day == day)
        )
        return result.one_or_none()

    async def add_holiday(self, holiday: Holiday) -> Holiday:
        self.session.add(holiday)
        await self.session.flush()
        return holiday

    async def delete_holiday(self, tenant: str, day: date) -> bool:
        result = await self.session.execute(
            delete(Holiday).where(Holiday.tenant == tenant, Holiday.day == day)
        )
        return bool(getattr(result, "rowcount", 0))
