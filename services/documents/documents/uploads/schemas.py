from __future__ import annotations

from datetime import datetime
from typing import Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

DOCUMENT_ID_PATTERN = r"^[0-9a-f]{32}$"

ItemStatus = Literal["missing", "pending_scan", "submitted", "accepted", "needs_replacement"]


class DocumentOut(BaseModel):
    """An uploaded document's metadata (never its content)."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "2756b6682a3e4e4e8f347d288b3aed4e",
                    "booking_id": "d00d8aab-0182-4e98-8796-ff07df212e8e",
                    "checklist_item_id": "d6cad1cb-1a0d-410e-9c2d-aa4460623be8",
                    "display_name": "meldebescheinigung.pdf",
                    "media_type": "application/pdf",
                    "size_bytes": 48213,
                    "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                    "scan_status": "clean",
                    "review_status": "submitted",
                    "created_at": "2026-12-06T09:15:02Z",
                }
            ]
        },
    )

    id: str
    booking_id: str
    checklist_item_id: str
    display_name: str
    media_type: str = Field(examples=["application/pdf"])
    size_bytes: int
    sha256: str = Field(description="SHA-256 of the plaintext, hex")
    scan_status: Literal["pending", "clean", "infected"]
    review_status: Literal["submitted", "accepted", "needs_replacement"]
    review_reason: str | None = Field(
        default=None, description="Why the document needs replacing (shown to the citizen)"
    )
    reviewed_at: AwareDatetime | None = None
    created_at: AwareDatetime
    direction: Literal["to_office", "to_citizen"] = Field(
        default="to_office",
        description=(
            "to_office: handed in by the citizen for a checklist item; to_citizen: put into "
            "the consultation room by a clerk (checklist_item_id is empty)"
        ),
    )
    acknowledged_at: AwareDatetime | None = Field(
        default=None, description="When the citizen confirmed receiving a to_citizen document"
    )


class ChecklistItemOut(BaseModel):
    id: str
    title: str
    required: bool
    status: ItemStatus = Field(description="The state of the newest document for this item")
    documents: list[DocumentOut]


class BookingDocumentsOut(BaseModel):
    """A booking's checklist with the documents handed in so far."""

    booking_id: str
    complete: bool = Field(
        description="Every required item has a document that is clean and not rejected"
    )
    all_accepted: bool = Field(description="Every required item has an accepted document")
    appointment_at: datetime
    items: list[ChecklistItemOut]


class ReviewIn(BaseModel):
    """A clerk's decision on one document; ``needs_replacement`` needs a ``reason``."""

    model_config = ConfigDict(
        extra="forbid",
        # What the validator below enforces, said in the schema.
        json_schema_extra={
            "if": {
                "properties": {"decision": {"const": "needs_replacement"}},
                "required": ["decision"],
            },
            "then": {"properties": {"reason": {"type": "string"}}, "required": ["reason"]},
        },
    )

    decision: Literal["accepted", "needs_replacement"]
    reason: str | None = Field(
        default=None,
        min_length=1,
        max_length=1000,
        description="What the citizen should hand in instead (required for needs_replacement)",
    )

    @model_validator(mode="after")
    def _reason_for_replacement(self) -> Self:
        if self.decision == "needs_replacement" and not self.reason:
            raise ValueError("a reason is required when a document needs replacement")
        return self


class AccessRecordOut(BaseModel):
    """One clerk access to the booking's documents."""

    model_config = ConfigDict(from_attributes=True)

    at: AwareDatetime
    actor: str = Field(description="Subject of the clerk")
    action: Literal["list", "metadata", "download", "review"]
    purpose: str
    document_id: str | None


class AccessLogOut(BaseModel):
    items: list[AccessRecordOut]


class RoomDocumentsOut(BaseModel):
    """The documents the office put into a booking's consultation room, oldest first."""

    booking_id: str
    items: list[DocumentOut]
