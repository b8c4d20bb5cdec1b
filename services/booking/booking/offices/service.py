from __future__ import annotations

import uuid
from collections.abc import Sequence

from booking.offices.errors import OfficeNotFound, UnknownOfficeService
from booking.offices.models import Office, OfficeService
from booking.offices.repository import OfficeRepository
from booking.offices.schemas import OfficeIn, OfficeOut
from servicekit.auth import Principal


class OfficeDirectory:
    def __init__(self, offices: OfficeRepository) -> None:
        self.offices = offices

    async def get(self, tenant: str, office_id: uuid.UUID) -> Office:
        office = await self.offices.get_in_tenant(tenant, office_id)
        if office is None:
            raise OfficeNotFound(f"Office {office_id} does not exist in this municipality.")
        return office

    async def search(self, tenant: str, offering: Sequence[uuid.UUID] = ()) -> Sequence[Office]:
        return await self.offices.list(tenant, offering=offering)

    async def describe(self, offices: Sequence[Office]) -> list[OfficeOut]:
        durations = await self.offices.default_durations(
            offered.service_id for office in offices for offered in office.services
        )
        return [OfficeOut.of(office, durations) for office in offices]

    async def create(self, tenant: str, data: OfficeIn) -> Office:
        office = Office(tenant=tenant, services=[])
        await self._apply(office, data)
        return await self.offices.add(office)

    async def replace(self, tenant: str, office_id: uuid.UUID, data: OfficeIn) -> Office:
        office = await self.get(tenant, office_id)
        await self._apply(office, data)
        await self.offices.flush()
        return office

    async def _apply(self, office: Office, data: OfficeIn) -> None:
        wanted = {s.service_id for s in data.services}
        known = await self.offices.existing_services(office.tenant, wanted)
        if wanted - known:
            missing = ", ".join(sorted(str(i) for i in wanted - known))
            raise UnknownOfficeService(f"Not in the catalogue: {missing}.")
        office.name = data.name
        office.street = data.address.street
        office.postal_code = data.address.postal_code
        office.city = data.address.city
        office.latitude = data.location.latitude if data.location else None
        office.longitude = data.location.longitude if data.location else None
        office.time_zone = data.time_zone
        office.counters = data.counters
        office.slot_minutes = data.slot_minutes
        office.bookable_from_days = data.bookable_from_days
        office.bookable_until_days = data.bookable_until_days
        office.opens_on_public_holidays = data.opens_on_public_holidays
        existing = {offered.service_id: offered for offered in office.services}
        offered_now: list[OfficeService] = []
        for item in data.services:
            offered = existing.get(item.service_id) or OfficeService(service_id=item.service_id)
            offered.duration_minutes = item.duration_minutes
            offered.mode = item.mode
            offered_now.append(offered)
        office.services = offered_now

    async def add_staff(self, tenant: str, office_id: uuid.UUID, subject: str) -> None:
        await self.get(tenant, office_id)
        await self.offices.add_staff(office_id, subject)

    async def remove_staff(self, tenant: str, office_id: uuid.UUID, subject: str) -> None:
        await self.get(tenant, office_id)
        await self.offices.remove_staff(office_id, subject)

    async def staff(self, tenant: str, office_id: uuid.UUID) -> Sequence[str]:
        await self.get(tenant, office_id)
        return await self.offices.staff_of(office_id)

    async def works_at(self, principal: Principal, office: Office) -> bool:
        """Administrators of the tenant see every office; clerks the offices they work at."""
        if principal.tenant != office.tenant:
            return False
        if principal.has_role("admin"):
            return True
        return principal.has_role("clerk") and await self.offices.is_staff(
            office.id, principal.subject
        )
