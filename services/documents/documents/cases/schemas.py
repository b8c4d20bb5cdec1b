from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from documents.cases.envelope import AttachmentEntry
from servicekit.tenancy import Ags

CaseStatusName = Literal["sending", "receiving", "received", "rejected"]


class HandoverIn(BaseModel):
    """To whom a booking's case goes: a partner municipality registered at booking."""

    model_config = ConfigDict(extra="forbid")

    to: Ags = Field(description="The AGS of the partner municipality responsible for the case")


class SentCaseOut(BaseModel):
    """A hand-over as the sending municipality sees it."""

    model_config = ConfigDict(from_attributes=True)

    id: str = Field(description="The case id, the same on both sides")
    booking_id: str
    to_ags: str
    to_name: str
    status: CaseStatusName
    reason: str | None = Field(description="Why the partner rejected it, or why it is stuck")
    attachments: int
    size_bytes: int
    receipt: str | None = Field(
        description="The partner's signed receipt or rejection (a JWS, verified against its "
        "hand-over JWKS)"
    )
    sent_by: str
    created_at: AwareDatetime
    updated_at: AwareDatetime


class SentCasesOut(BaseModel):
    items: list[SentCaseOut]


class DeliveryOut(BaseModel):
    """Where a delivery left the case, for the sending Rathaus."""

    case_id: str
    status: Literal["receiving", "received"]
    missing: list[str] = Field(description="The announced attachments still to deliver")
    receipt: str | None = Field(description="Our signed receipt (a JWS), once received")


class ReceivedAttachmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    display_name: str
    media_type: str
    size_bytes: int
    sha256: str


class ReceivedCaseOut(BaseModel):
    """A case a partner municipality handed to us."""

    id: str
    from_ags: str
    status: CaseStatusName
    reason: str | None
    leika: str | None
    receipt: str | None
    created_at: AwareDatetime
    decided_at: AwareDatetime | None
    booking: dict[str, Any] | None = Field(
        default=None, description="The booking as the sender described it (one case only)"
    )
    checklist: list[dict[str, Any]] | None = None
    announced: list[AttachmentEntry] | None = None
    attachments: list[ReceivedAttachmentOut] | None = None


class ReceivedCasesOut(BaseModel):
    items: list[ReceivedCaseOut]


class CaseJwks(BaseModel):
    """RFC 7517 key set: the key partners encrypt cases to (``use: enc``, RSA-OAEP-256, 4096
    bits) and the keys that sign our receipts (``use: sig``)."""

    keys: list[dict[str, Any]]
