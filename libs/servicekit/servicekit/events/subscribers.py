"""Who receives a service's events: the webhooks its settings name.

Kept apart from the outbox and the dispatcher so that the settings, which are read before
anything else, do not import the machinery that sends events.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class Subscriber(BaseModel):
    """A webhook that receives some of a service's events (configured per service)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")
    url: str = Field(pattern=r"^https?://", max_length=2000)
    secret: SecretStr = Field(min_length=32, description="Shared with the receiver; HMAC key")
    types: frozenset[str] = Field(
        default=frozenset(), description="The event types it wants; empty: every type"
    )

    def wants(self, event_type: str) -> bool:
        return not self.types or event_type in self.types
