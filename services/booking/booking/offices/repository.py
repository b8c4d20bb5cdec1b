from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.orm import selectinload

from booking.catalogue.models import Service
from booking.offices.models import Office, OfficeService, OfficeStaff
from servicekit.repository import Repository


class OfficeRepository(Repository[Office]):
    model = Office

    async def get_in_tenant(self, tenant: str, office_id: uuid.UUID) -> Office | None:
        """The tenant's office with the services it offers."""
        result = await self.session.scalars(
            select(Office)
            .where(Office.tenant == tenant, Office.id == office_id)
            .options(selectinload(Office.services))
        )
        return result.one_or_none()

    async def get_many(self, office_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Office]:
        ids = list(set(office_ids))
        if not ids:
            return {}
        result = await self.session.scalars(select(Office).where(Office.id.in_(ids)))
        return {office.id: office for office in result.all()}

    async def list(
        self,
        tenant: str,
        *,
        offering: Iterable[uuid.UUID] = (),
        office_ids: Iterable[uuid.UUID] = (),
    ) -> Sequence[Office]:
        """Offices of the tenant, optionally only those offering every service in ``offering``."""
        query = select(Office).where(Office.tenant == tenant)
        wanted = list(dict.fromkeys(offering))
        if wanted:
            offering_all = (
                select(OfficeService.office_id)
                .where(OfficeService.service_id.in_(wanted))
                .group_by(OfficeService.office_id)
                .having(func.count() == len(wanted))
            )
            query = query.where(Office.id.in_(offering_all))
        ids = list(office_ids)
        if ids:
            query = query.where(Office.id.in_(ids))
        result = await self.session.scalars(
            query.options(selectinload(Office.services)).order_by(Office.name, Office.id)
        )
        return result.all()

    async def default_durations(self, service_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, int]:
        ids = list(set(service_ids))
        if not ids:
            return {}
        rows = await self.session.execute(
            select(Service.id, Service.duration_minutes).where(Service.id.in_(ids))
        )
        return {row[0]: row[1] for row in rows}

    async def existing_services(
        self, tenant: str, service_ids: Iterable[uuid.UUID]
    ) -> set[uuid.UUID]:
        ids = list(set(service_ids))
        if not ids:
            return set()
        result = await self.session.scalars(
            select(Service.id).where(Service.tenant == tenant, Service.id.in_(ids))
        )
        return set(result.all())

    async def is_staff(self, office_id: uuid.UUID, subject: str) -> bool:
        found = await self.session.get(OfficeStaff, (office_id, subject))
        return found is not None

    async def add_staff(self, office_id: uuid.UUID, subject: str) -> None:
        if not await self.is_staff(office_id, subject):
            self.session.add(OfficeStaff(office_id=office_id, subject=subject))
            await self.session.flush()

    async def remove_staff(self, office_id: uuid.UUID, subject: str) -> None:
        await self.session.execute(
            delete(OfficeStaff).where(
                OfficeStaff.office_id == office_id, OfficeStaff.subject == subject
            )
        )

    async def staff_of(self, office_id: uuid.UUID) -> Sequence[str]:
        result = await self.session.scalars(
            select(OfficeStaff.subject)
            .where(OfficeStaff.office_id == office_id)
            .order_by(OfficeStaff.subject)
        )
        return result.all()
