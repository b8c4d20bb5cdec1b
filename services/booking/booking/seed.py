"""Demo data for ``make run``: idempotent, so a second run neither fails nor duplicates.

The demo municipality (AGS 06999001, as identity seeds it) gets a small catalogue with
pre-information, two offices and weekday opening hours with a lunch break. Its AGS puts it in
Hessen: the offices are closed on Hessen's public holidays (25 and 26 December among them).
"""

from __future__ import annotations

from datetime import date, time, timedelta

from fastapi import FastAPI

from booking.catalogue.repository import ServiceRepository
from booking.catalogue.schemas import LocalizedName, RequiredDocumentIn, ServiceIn
from booking.catalogue.service import CatalogueService
from booking.hours.public_holidays import land_of, public_holidays
from booking.hours.repository import HoursRepository
from booking.hours.schemas import Break, OpeningHoursIn, OpeningRuleIn
from booking.hours.service import OpeningHours
from booking.offices.repository import OfficeRepository
from booking.offices.schemas import Address, GeoPoint, OfferedService, OfficeIn
from booking.offices.service import OfficeDirectory
from booking.schemas import LocalizedText
from servicekit.db import utcnow

DEMO_TENANT_AGS = "06999001"


def _doc(
    de: str, en: str, *, mandatory: bool = True, formats: tuple[str, ...] = ("original",)
) -> RequiredDocumentIn:
    return RequiredDocumentIn(
        name=LocalizedName(de=de, en=en), mandatory=mandatory, accepted_formats=list(formats)
    )


# Demo entries: the keys have the LeiKa shape (14 digits); check real ones against the FIM portal.
DEMO_SERVICES = [
    ServiceIn(
        leika="99115001001000",
        name=LocalizedName(de="Personalausweis beantragen", en="Apply for an identity card"),
        description=LocalizedText(
            de="Antrag auf einen neuen Personalausweis.", en="Application for a new ID card."
        ),
        duration_minutes=20,
        fee_cents=3700,
        online_hint=LocalizedText(
            de="Die Abholung ist ohne Termin möglich.", en="Collection needs no appointment."
        ),
        required_documents=[
            _doc("Biometrisches Lichtbild", "Biometric photo", formats=("original", "image/jpeg")),
            _doc("Bisheriger Ausweis oder Reisepass", "Current ID card or passport"),
            _doc(
                "Geburtsurkunde",
                "Birth certificate",
                mandatory=False,
                formats=("original", "application/pdf"),
            ),
        ],
    ),
    ServiceIn(
        leika="99102013001000",
        name=LocalizedName(de="Reisepass beantragen", en="Apply for a passport"),
        duration_minutes=20,
        fee_cents=7000,
        required_documents=[
            _doc("Biometrisches Lichtbild", "Biometric photo", formats=("original", "image/jpeg")),
            _doc("Personalausweis", "Identity card"),
        ],
    ),
    ServiceIn(
        leika="99115005001000",
        name=LocalizedName(de="Wohnsitz anmelden", en="Register your residence"),
        duration_minutes=15,
        required_documents=[
            _doc("Personalausweis oder Reisepass", "Identity card or passport"),
            _doc(
                "Wohnungsgeberbestätigung",
                "Landlord's confirmation",
                formats=("original", "application/pdf"),
            ),
        ],
    ),
    ServiceIn(
        leika="99113001001000",
        name=LocalizedName(
            de="Führungszeugnis beantragen", en="Apply for a certificate of good conduct"
        ),
        duration_minutes=10,
        fee_cents=1300,
        online_hint=LocalizedText(
            de="Auch online mit der eID-Funktion beantragbar.",
            en="Also online with the eID function.",
        ),
        online_url="https://www.fuehrungszeugnis.bund.de/",
        required_documents=[_doc("Personalausweis oder Reisepass", "Identity card or passport")],
    ),
]

DEMO_OFFICES = [
    ("Bürgerbüro Mitte", "Marktplatz 1", 49.8728, 8.6512, 4),
    ("Bürgerbüro Nord", "Frankfurter Straße 50", 49.8901, 8.6547, 2),
]


def _weekday_hours() -> OpeningHoursIn:
    rules = [
        OpeningRuleIn(
            weekday=weekday,
            opens=time(8),
            closes=time(18) if weekday == 4 else time(16),
            breaks=[Break(start=time(12), end=time(13))],
            valid_from=date(2024, 1, 1),
        )
        for weekday in range(1, 6)
    ]
    rules.append(
        OpeningRuleIn(weekday=6, opens=time(9), closes=time(12), valid_from=date(2024, 1, 1))
    )
    return OpeningHoursIn(rules=rules)


async def seed_demo(app: FastAPI) -> None:
    async with app.state.database.sessionmaker() as session, session.begin():
        catalogue = CatalogueService(ServiceRepository(session))
        offices = OfficeDirectory(OfficeRepository(session))
        hours_repository = HoursRepository(session)
        hours = OpeningHours(hours_repository)
        service_ids = []
        for data in DEMO_SERVICES:
            existing = await catalogue.services.get_by_leika(DEMO_TENANT_AGS, data.leika)
            service = existing or await catalogue.create(DEMO_TENANT_AGS, data)
            service_ids.append(service.id)
        known = {office.name: office for office in await offices.search(DEMO_TENANT_AGS)}
        for name, street, latitude, longitude, counters in DEMO_OFFICES:
            office = known.get(name)
            if office is None:
                office = await offices.create(
                    DEMO_TENANT_AGS,
                    OfficeIn(
                        name=name,
                        address=Address(street=street, postal_code="64283", city="Musterstadt"),
                        location=GeoPoint(latitude=latitude, longitude=longitude),
                        counters=counters,
                        slot_minutes=10,
                        services=[OfferedService(service_id=i) for i in service_ids],
                    ),
                )
            if not await hours_repository.rules([office.id]):
                await hours.replace(office, _weekday_hours())
    today = utcnow().date()
    coming = [
        f"{day.isoformat()} {name}"
        for day, name in public_holidays(DEMO_TENANT_AGS, [today.year, today.year + 1]).items()
        if today <= day < today + timedelta(days=60)
    ]
    print(  # noqa: T201 - seed output
        f"booking demo: {len(DEMO_SERVICES)} services, {len(DEMO_OFFICES)} offices "
        f"for AGS {DEMO_TENANT_AGS}, closed on the public holidays of "
        f"{land_of(DEMO_TENANT_AGS)} ({', '.join(coming) or 'none in the next 60 days'})"
    )
