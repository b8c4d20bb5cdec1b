"""Benchmark data, written straight into the booking database with the service's own code.

* office "Bench Mitte": 10 counters, 5 services, Monday-Saturday 08:00-18:00 with a lunch
  break, a 60-day window, about a third of its seats already booked;
* office "Bench Engpass": 3 counters, one 10-minute service, open every day 08:00-18:00: the
  slots the contended-booking clients race for.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import uuid
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import insert

from booking import models  # noqa: F401 - registers every table
from booking.availability.service import OfficePlan
from booking.bookings.models import Booking, BookingItem, BookingStatus, SlotClaim
from booking.bookings.secrets import hash_token, new_code
from booking.catalogue.repository import ServiceRepository
from booking.catalogue.schemas import LocalizedName, RequiredDocumentIn, ServiceIn
from booking.catalogue.service import CatalogueService
from booking.hours.calendar import WeeklyRule
from booking.hours.repository import HoursRepository
from booking.hours.schemas import Break, OpeningHoursIn, OpeningRuleIn
from booking.hours.service import OpeningHours
from booking.offices.repository import OfficeRepository
from booking.offices.schemas import Address, OfferedService, OfficeIn
from booking.offices.service import OfficeDirectory
from servicekit.db import Database

TENANT = "06999001"
BERLIN = ZoneInfo("Europe/Berlin")


def _service(leika: str, name: str, minutes: int) -> ServiceIn:
    return ServiceIn(
        leika=leika,
        name=LocalizedName(de=name, en=name),
        duration_minutes=minutes,
        required_documents=[
            RequiredDocumentIn(name=LocalizedName(de="Ausweis", en="ID card")),
            RequiredDocumentIn(name=LocalizedName(de="Foto", en="Photo"), mandatory=False),
        ],
    )


def _rules(weekdays: range, with_break: bool) -> OpeningHoursIn:
    breaks = [Break(start=time(12), end=time(13))] if with_break else []
    return OpeningHoursIn(
        rules=[
            OpeningRuleIn(
                weekday=d,
                opens=time(8),
                closes=time(18),
                breaks=breaks,
                valid_from=date(2024, 1, 1),
            )
            for d in weekdays
        ]
    )


async def populate(url: str) -> dict[str, object]:
    database = Database(url)
    rng = random.Random(42)
    try:
        async with database.sessionmaker() as session, session.begin():
            catalogue = CatalogueService(ServiceRepository(session))
            offices = OfficeDirectory(OfficeRepository(session))
            hours = OpeningHours(HoursRepository(session))
            services = [
                await catalogue.create(TENANT, _service(f"9900000000000{n}", f"Leistung {n}", m))
                for n, m in enumerate((10, 15, 20, 30, 45))
            ]
            quick = await catalogue.create(TENANT, _service("99000000000099", "Schnell", 10))
            address = Address(street="Markt 1", postal_code="64283", city="Musterstadt")
            mitte = await offices.create(
                TENANT,
                OfficeIn(
                    name="Bench Mitte",
                    address=address,
                    counters=10,
                    slot_minutes=5,
                    bookable_until_days=60,
                    services=[OfferedService(service_id=s.id) for s in services],
                ),
            )
            engpass = await offices.create(
                TENANT,
                OfficeIn(
                    name="Bench Engpass",
                    address=address,
                    counters=3,
                    slot_minutes=10,
                    bookable_until_days=60,
                    # The races book days counted from today, whatever the Land's calendar says.
                    opens_on_public_holidays=True,
                    services=[OfferedService(service_id=quick.id)],
                ),
            )
            await hours.replace(mitte, _rules(range(1, 7), with_break=True))
            await hours.replace(engpass, _rules(range(1, 8), with_break=False))

            # Book about a third of Mitte's seats (20-minute appointments, random counters).
            plan = OfficePlan(
                office=mitte,
                zone=BERLIN,
                length=timedelta(minutes=20),
                step=timedelta(minutes=5),
                rules=[
                    WeeklyRule(
                        d, time(8), time(18), ((time(12), time(13)),), date(2024, 1, 1), None
                    )
                    for d in range(1, 7)
                ],
            )
            now = datetime.now(UTC)
            today = now.astimezone(BERLIN).date()
            bookings: list[dict[str, object]] = []
            items: list[dict[str, object]] = []
            claims: list[dict[str, object]] = []
            for offset in range(60):
                day = today + timedelta(days=offset)
                starts = plan.starts(day, now)
                for seat in range(10):
                    for start in starts[::4]:  # back-to-back 20-minute appointments
                        if rng.random() > 0.33:
                            continue
                        booking_id = uuid.uuid4()
                        bookings.append(
                            {
                                "id": booking_id,
                                "tenant": TENANT,
                                "office_id": mitte.id,
                                "code": new_code(),
                                "status": BookingStatus.CONFIRMED.value,
                                "starts_at": start,
                                "ends_at": start + plan.length,
                                "manage_token_hash": hash_token(str(booking_id)),
                                "language": "de",
                                "name": "Bench",
                                "email": f"{booking_id}@bench.example",
                                "created_at": now,
                            }
                        )
                        items.append(
                            {
                                "booking_id": booking_id,
                                "position": 0,
                                "service_id": services[2].id,
                                "duration_minutes": 20,
                            }
                        )
                        claims.extend(
                            {
                                "office_id": mitte.id,
                                "unit_start": unit,
                                "seat": seat,
                                "booking_id": booking_id,
                                "expires_at": None,
                            }
                            for unit in plan.units(start)
                        )
            for chunk in range(0, len(bookings), 2000):
                await session.execute(insert(Booking), bookings[chunk : chunk + 2000])
                await session.execute(insert(BookingItem), items[chunk : chunk + 2000])
            for chunk in range(0, len(claims), 4000):
                await session.execute(insert(SlotClaim), claims[chunk : chunk + 4000])
            return {
                "tenant": TENANT,
                "mitte": str(mitte.id),
                "services": [str(s.id) for s in services],
                "engpass": str(engpass.id),
                "quick": str(quick.id),
                "prebooked": len(bookings),
            }
    finally:
        await database.dispose()


if __name__ == "__main__":
    print(json.dumps(asyncio.run(populate(sys.argv[1]))))
