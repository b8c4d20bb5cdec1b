from __future__ import annotations

import uuid
from datetime import date

from booking.hours.errors import ClosureNotFound, HolidayNotFound
from booking.hours.models import Closure, Holiday, OpeningRule
from booking.hours.public_holidays import public_holidays
from booking.hours.repository import HoursRepository
from booking.hours.schemas import (
    ClosureIn,
    ClosureOut,
    HolidayOut,
    OpeningHoursIn,
    OpeningHoursOut,
    OpeningRuleOut,
)
from booking.offices.models import Office
from servicekit.db import utcnow


class OpeningHours:
    def __init__(self, hours: HoursRepository) -> None:
        self.hours = hours

    async def describe(self, office: Office) -> OpeningHoursOut:
        rules = await self.hours.rules([office.id])
        closures = await self.hours.upcoming_closures(office.id, utcnow())
        return OpeningHoursOut(
            office_id=office.id,
            time_zone=office.time_zone,
            rules=[OpeningRuleOut.of(rule) for rule in rules],
            closures=[ClosureOut.of(closure) for closure in closures],
        )

    async def replace(self, office: Office, data: OpeningHoursIn) -> OpeningHoursOut:
        rules = [
            OpeningRule(
                id=uuid.uuid4(),
                office_id=office.id,
                weekday=item.weekday,
                opens=item.opens,
                closes=item.closes,
                breaks=[
                    {"start": b.start.isoformat("minutes"), "end": b.end.isoformat("minutes")}
                    for b in item.breaks
                ],
                valid_from=item.valid_from,
                valid_until=item.valid_until,
            )
            for item in data.rules
        ]
        await self.hours.replace_rules(office.id, rules)
        return await self.describe(office)

    async def add_closure(self, office: Office, data: ClosureIn) -> Closure:
        return await self.hours.add_closure(
            Closure(
                office_id=office.id,
                starts_at=data.starts_at,
                ends_at=data.ends_at,
                reason=data.reason,
            )
        )

    async def delete_closure(self, office: Office, closure_id: uuid.UUID) -> Closure:
        """Remove the closure; the closure removed."""
        closure = await self.hours.closure(office.id, closure_id)
        if closure is None or not await self.hours.delete_closure(office.id, closure_id):
            raise ClosureNotFound(f"Office {office.id} has no closure {closure_id}.")
        return closure

    async def holidays(self, tenant: str, year: int) -> list[HolidayOut]:
        """The municipality's own holidays of a year and its Land's (see ``public_holidays``)."""
        declared = await self.hours.holidays(tenant, date(year, 1, 1), date(year + 1, 1, 1))
        by_day = {
            day: HolidayOut(day=day, name=name, source="land")
            for day, name in public_holidays(tenant, [year]).items()
        }
        by_day.update({holiday.day: HolidayOut.of(holiday) for holiday in declared})
        return sorted(by_day.values(), key=lambda holiday: holiday.day)

    async def set_holiday(self, tenant: str, day: date, name: str) -> Holiday:
        holiday = await self.hours.holiday(tenant, day)
        if holiday is None:
            return await self.hours.add_holiday(Holiday(tenant=tenant, day=day, name=name))
        holiday.name = name
        await self.hours.flush()
        return holiday

    async def delete_holiday(self, tenant: str, day: date) -> None:
        if not await self.hours.delete_holiday(tenant, day):
            if day in public_holidays(tenant, [day.year]):
                raise HolidayNotFound(
                    f"{day.isoformat()} is a public holiday of the Land, not one declared here: "
                    "an office opens on it with opens_on_public_holidays."
                )
            raise HolidayNotFound(f"{day.isoformat()} is not a holiday here.")
