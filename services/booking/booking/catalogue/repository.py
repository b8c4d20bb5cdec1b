from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from booking.catalogue.models import RequiredDocument, Service
from servicekit.repository import Repository


class ServiceRepository(Repository[Service]):
    model = Service

    async def get_in_tenant(self, tenant: str, service_id: uuid.UUID) -> Service | None:
        """The tenant's service with its required documents."""
        result = await self.session.scalars(
            select(Service)
            .where(Service.tenant == tenant, Service.id == service_id)
            .options(selectinload(Service.documents))
        )
        return result.one_or_none()

    async def get_many(self, tenant: str, service_ids: Iterable[uuid.UUID]) -> Sequence[Service]:
        result = await self.session.scalars(
            select(Service)
            .where(Service.tenant == tenant, Service.id.in_(list(service_ids)))
            .options(selectinload(Service.documents))
        )
        return result.all()

    async def get_by_leika(self, tenant: str, leika: str) -> Service | None:
        result = await self.session.scalars(
            select(Service)
            .where(Service.tenant == tenant, Service.leika == leika)
            .options(selectinload(Service.documents))
        )
        return result.one_or_none()

    async def list(self, tenant: str, leika: str | None = None) -> Sequence[Service]:
        query = select(Service).where(Service.tenant == tenant)
        if leika is not None:
            query = query.where(Service.leika == leika)
        result = await self.session.scalars(
            query.options(selectinload(Service.documents)).order_by(Service.name_de, Service.id)
        )
        return result.all()

    async def documents_of(self, service_ids: Iterable[uuid.UUID]) -> Sequence[RequiredDocument]:
        result = await self.session.scalars(
            select(RequiredDocument)
            .where(RequiredDocument.service_id.in_(list(service_ids)))
            .order_by(RequiredDocument.service_id, RequiredDocument.position)
        )
        return result.all()
