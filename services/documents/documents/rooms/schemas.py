from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

MESSAGE_MAX_CHARS = 2000

EventKind = Literal[
    "message",
    "document_uploaded",
    "document_accepted",
    "document_needs_replacement",
    "document_withdrawn",
]


class RoomEventOut(BaseModel):
    """One event of a consultation room: a message, or what happened to a document."""

    model_config = ConfigDict(from_attributes=True)

    id: int = Field(description="Orders the room's events; resume after it with ?after=")
    at: AwareDatetime
    kind: EventKind
    actor_role: Literal["citizen", "clerk"]
    by_me: bool = Field(description="The caller caused this event")
    document_id: str | None = Field(default=None, description="The document it is about")
    text: str | None = Field(
        default=None, description="The message, or why a document needs replacement"
    )


class RoomEventsOut(BaseModel):
    booking_id: str
    items: list[RoomEventOut]
    next_after: int = Field(description="Pass as ?after= (or Last-Event-ID) to get newer events")


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MESSAGE_MAX_CHARS)
    ]


class TimelineEventOut(BaseModel):
    """One event of a consultation room's whole timeline: a message, what happened to a
    document (``document_sent``: a clerk put one into the room for the citizen,
    ``document_acknowledged``: the citizen confirmed receiving it), or to the video call
    (``call_waiting``: a citizen waits to be admitted,
    ``call_joined``: a clerk joined, ``call_admitted``, ``call_left``, ``call_ended``).
    New kinds may be added: a client shows what it knows and skips the rest."""

    id: int = Field(description="Orders the room's events; resume after it with ?after=")
    at: AwareDatetime
    kind: str = Field(
        description=(
            "message, document_uploaded, document_accepted, document_needs_replacement, "
            "document_withdrawn, document_sent, document_acknowledged, call_waiting, "
            "call_joined, call_admitted, call_left, call_ended, or a kind added later"
        ),
        examples=["call_admitted"],
    )
    actor_role: Literal["citizen", "clerk"]
    by_me: bool = Field(description="The caller caused this event")
    document_id: str | None = Field(default=None, description="The document it is about")
    text: str | None = Field(
        default=None, description="The message, or why a document needs replacement"
    )


class RoomTimelineOut(BaseModel):
    booking_id: str
    items: list[TimelineEventOut]
    next_after: int = Field(description="Pass as ?after= (or Last-Event-ID) to get newer events")
