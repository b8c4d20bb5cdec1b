from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from booking.catalogue.models import RequiredDocument, Service
from booking.language import Language
from booking.schemas import LocalizedText

LEIKA_PATTERN = r"^[0-9]{14}$"

Leika = Annotated[
    str,
    StringConstraints(pattern=LEIKA_PATTERN),
    Field(description="LeiKa/FIM Leistungsschlüssel: 14 digits", examples=["99102013001000"]),
]
ShortName = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Format = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class LocalizedName(BaseModel):
    model_config = ConfigDict(extra="forbid")

    de: ShortName
    en: ShortName


class RequiredDocumentIn(BaseModel):
    """An item of the pre-information. Give ``id`` to keep an existing item (and its id)."""

    model_config = ConfigDict(extra="forbid")

    id: uuid.UUID | None = None
    name: LocalizedName
    description: LocalizedText | None = None
    mandatory: bool = True
    accepted_formats: list[Format] = Field(
        default_factory=list,
        max_length=20,
        description="How it is accepted, e.g. original, copy, application/pdf, image/jpeg",
    )


class ServiceIn(BaseModel):
    """A catalogue entry as an administrator writes it (both languages)."""

    model_config = ConfigDict(extra="forbid")

    leika: Leika
    name: LocalizedName
    description: LocalizedText | None = None
    duration_minutes: int = Field(ge=5, le=480, description="Usual length of the appointment")
    fee_cents: int | None = Field(
        # The column is a 32-bit integer: a larger fee overflowed it on PostgreSQL.
        default=None,
        ge=0,
        le=2**31 - 1,
        description="Fee in euro cents, if any",
    )
    online_hint: LocalizedText | None = Field(
        default=None, description="Hint that (part of) the service can be done online"
    )
    online_url: Annotated[str, StringConstraints(max_length=500)] | None = None
    required_documents: list[RequiredDocumentIn] = Field(default_factory=list, max_length=50)


class RequiredDocumentOut(BaseModel):
    """What to bring: one item of the pre-information, in the negotiated language."""

    id: uuid.UUID
    name: str
    description: str
    mandatory: bool
    accepted_formats: list[str]

    @classmethod
    def of(cls, document: RequiredDocument, language: Language) -> RequiredDocumentOut:
        return cls(
            id=document.id,
            name=document.name_en if language == "en" else document.name_de,
            description=document.description_en if language == "en" else document.description_de,
            mandatory=document.mandatory,
            accepted_formats=list(document.accepted_formats),
        )


class ServiceOut(BaseModel):
    """A catalogue entry in the negotiated language, with its pre-information."""

    id: uuid.UUID
    tenant: str
    leika: Leika
    language: Language
    name: str
    description: str
    duration_minutes: int
    fee_cents: int | None
    online_hint: str | None
    online_url: str | None
    required_documents: list[RequiredDocumentOut]

    @classmethod
    def of(cls, service: Service, language: Language) -> ServiceOut:
        english = language == "en"
        return cls(
            id=service.id,
            tenant=service.tenant,
            leika=service.leika,
            language=language,
            name=service.name_en if english else service.name_de,
            description=service.description_en if english else service.description_de,
            duration_minutes=service.duration_minutes,
            fee_cents=service.fee_cents,
            online_hint=service.online_hint_en if english else service.online_hint_de,
            online_url=service.online_url,
            required_documents=[RequiredDocumentOut.of(d, language) for d in service.documents],
        )


class ServiceList(BaseModel):
    items: list[ServiceOut]
