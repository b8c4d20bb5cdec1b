"""A typed client for the part of booking's contract (contracts/booking/v1.yaml) we read.

Booking decides who may see a booking: we pass the caller's own credentials on (their bearer
token, or the secret of a manage link) and treat anything but a checklist as "not yours".

Booking's yes can be remembered for a few seconds (``remember_s``), per booking and per exact
credentials (only their SHA-256 is kept), for callers that ask with ``reuse=True``: reading
a document right after uploading it, or a clerk opening one document after another, then
costs no round trip. A no is never remembered, and a fresh no replaces a remembered yes.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import httpx
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from servicekit.tracing import Tracing


class BookingUnavailable(Exception):
    """Booking could not be asked; the caller must fail closed."""


class ChecklistItem(BaseModel):
    """A required document of a booked service (booking's ``ChecklistItem``)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    name: str
    mandatory: bool = True
    accepted_formats: list[str] = Field(default_factory=list)
    """How booking's catalogue accepts it: ways of bringing it (``original``, ``copy``) and,
    for an upload, media types (``image/jpeg``, ``image/*``)."""

    @property
    def accepted_media_types(self) -> list[str]:
        """The media types an upload for this item may have; empty: the item names none."""
        return [f.strip().lower() for f in self.accepted_formats if "/" in f]

    def accepts(self, media_type: str) -> bool:
        """Whether a file of ``media_type`` may be uploaded for this item: any file the
        service takes when the item names no media type, else only those it names."""
        accepted = self.accepted_media_types
        if not accepted:
            return True
        major = media_type.partition("/")[0]
        return media_type in accepted or f"{major}/*" in accepted


class BookingChecklist(BaseModel):
    """What booking tells us about one booking: whose, where, when, and what to bring."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    booking_id: str
    tenant: str
    office_id: str
    status: Literal["held", "expired", "confirmed", "cancelled"]
    starts_at: AwareDatetime
    items: list[ChecklistItem]

    @property
    def open_for_uploads(self) -> bool:
        return self.status in {"held", "confirmed"}

    def item(self, item_id: str) -> ChecklistItem | None:
        return next((item for item in self.items if item.id == item_id), None)

    @property
    def appointment_at(self) -> datetime:
        return self.starts_at


@dataclass(frozen=True)
class CallerCredentials:
    """The credentials the caller brought, passed on unchanged."""

    authorization: str | None = None
    manage_token: str | None = None

    def digest(self) -> bytes:
        return hashlib.sha256(
            b"authorization\0%s\0manage-token\0%s"
            % ((self.authorization or "").encode(), (self.manage_token or "").encode())
        ).digest()


MANAGE_TOKEN_HEADER = "X-Manage-Token"


class BookingClient:
    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
        remember_s: float = 0.0,
        max_remembered: int = 10_000,
        tracing: Tracing | None = None,
    ) -> None:
        # Traced, the call is a span of the request's trace and booking continues it.
        self._http = (tracing or Tracing()).instrument_client(
            httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout_s, transport=transport)
        )
        self._remember_s = remember_s
        self._max_remembered = max_remembered
        self._remembered: dict[tuple[str, bytes], tuple[float, BookingChecklist]] = {}

    async def checklist(
        self, booking_id: str, credentials: CallerCredentials, *, reuse: bool = False
    ) -> BookingChecklist | None:
        """The booking's checklist, or None when the caller may not see that booking.

        With ``reuse``, a yes booking gave these very credentials less than ``remember_s``
        seconds ago is the answer, without asking again.
        """
        headers: dict[str, str] = {"Accept": "application/json"}
        if credentials.authorization:
            headers["Authorization"] = credentials.authorization
        if credentials.manage_token:
            headers[MANAGE_TOKEN_HEADER] = credentials.manage_token
        if len(headers) == 1:
            return None
        key = (booking_id, credentials.digest())
        if reuse:
            remembered = self._remembered.get(key)
            if remembered is not None and remembered[0] > time.monotonic():
                return remembered[1]
        try:
            response = await self._http.get(
                f"/booking/v1/bookings/{booking_id}/checklist", headers=headers
            )
        except httpx.HTTPError as exc:
            raise BookingUnavailable(f"booking not reachable: {exc.__class__.__name__}") from exc
        if response.status_code in {401, 403, 404, 422}:
            self._remembered.pop(key, None)
            return None
        if response.status_code != 200:
            raise BookingUnavailable(f"booking answered {response.status_code}")
        try:
            checklist = BookingChecklist.model_validate_json(response.content)
        except ValidationError as exc:
            raise BookingUnavailable("booking answered outside its contract") from exc
        self._remember(key, checklist)
        return checklist

    def _remember(self, key: tuple[str, bytes], checklist: BookingChecklist) -> None:
        if self._remember_s <= 0:
            return
        now = time.monotonic()
        if len(self._remembered) >= self._max_remembered:
            self._remembered = {k: v for k, v in self._remembered.items() if v[0] > now}
            if len(self._remembered) >= self._max_remembered:
                self._remembered.clear()
        self._remembered[key] = (now + self._remember_s, checklist)

    async def aclose(self) -> None:
        await self._http.aclose()
