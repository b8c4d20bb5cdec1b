from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field


class PurgeOut(BaseModel):
    purged: int = Field(description="Documents deleted by this run")


class ErasureIn(BaseModel):
    """The bookings of a citizen who asked to be erased (booking's erasure answers them)."""

    model_config = ConfigDict(extra="forbid")

    booking_ids: list[uuid.UUID] = Field(min_length=1, max_length=1000)


class ErasureOut(BaseModel):
    deleted: int = Field(description="Documents deleted by this run")
