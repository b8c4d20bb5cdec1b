from __future__ import annotations

import uuid
from collections.abc import Sequence

from booking.catalogue.errors import LeikaTaken, ServiceNotFound, UnknownRequiredDocument
from booking.catalogue.models import RequiredDocument, Service
from booking.catalogue.repository import ServiceRepository
from booking.catalogue.schemas import RequiredDocumentIn, ServiceIn


class CatalogueService:
    def __init__(self, services: ServiceRepository) -> None:
        self.services = services

    async def get(self, tenant: str, service_id: uuid.UUID) -> Service:
        service = await self.services.get_in_tenant(tenant, service_id)
        if service is None:
            raise ServiceNotFound(f"Service {service_id} is not in the catalogue.")
        return service

    async def list(self, tenant: str, leika: str | None = None) -> Sequence[Service]:
        return await self.services.list(tenant, leika)

    async def create(self, tenant: str, data: ServiceIn) -> Service:
        if await self.services.get_by_leika(tenant, data.leika) is not None:
            raise LeikaTaken(f"A service with Leistungsschlüssel {data.leika} exists already.")
        if any(item.id is not None for item in data.required_documents):
            raise UnknownRequiredDocument("A new service has no required documents to refer to.")
        service = Service(tenant=tenant)
        self._apply(service, data)
        service.documents = [
            self._new_document(item, position)
            for position, item in enumerate(data.required_documents)
        ]
        return await self.services.add(service)

    async def replace(self, tenant: str, service_id: uuid.UUID, data: ServiceIn) -> Service:
        service = await self.get(tenant, service_id)
        if data.leika != service.leika:
            other = await self.services.get_by_leika(tenant, data.leika)
            if other is not None:
                raise LeikaTaken(f"A service with Leistungsschlüssel {data.leika} exists already.")
        self._apply(service, data)
        existing = {document.id: document for document in service.documents}
        documents: list[RequiredDocument] = []
        for position, item in enumerate(data.required_documents):
            if item.id is None:
                documents.append(self._new_document(item, position))
                continue
            document = existing.get(item.id)
            if document is None:
                raise UnknownRequiredDocument(
                    f"Required document {item.id} is not of this service."
                )
            self._apply_document(document, item, position)
            documents.append(document)
        service.documents = documents
        await self.services.flush()
        return service

    @staticmethod
    def _apply(service: Service, data: ServiceIn) -> None:
        service.leika = data.leika
        service.name_de, service.name_en = data.name.de, data.name.en
        service.description_de = data.description.de if data.description else ""
        service.description_en = data.description.en if data.description else ""
        service.duration_minutes = data.duration_minutes
        service.fee_cents = data.fee_cents
        service.online_hint_de = data.online_hint.de if data.online_hint else None
        service.online_hint_en = data.online_hint.en if data.online_hint else None
        service.online_url = data.online_url

    @classmethod
    def _new_document(cls, item: RequiredDocumentIn, position: int) -> RequiredDocument:
        document = RequiredDocument(id=uuid.uuid4())
        cls._apply_document(document, item, position)
        return document

    @staticmethod
    def _apply_document(
        document: RequiredDocument, item: RequiredDocumentIn, position: int
    ) -> None:
        document.position = position
        document.name_de, document.name_en = item.name.de, item.name.en
        document.description_de = item.description.de if item.description else ""
        document.description_en = item.description.en if item.description else ""
        document.mandatory = item.mandatory
        document.accepted_formats = list(item.accepted_formats)
