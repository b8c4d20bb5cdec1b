from __future__ import annotations

from booking.db import Base
from servicekit.idempotency import IdempotencyColumns


class IdempotencyRecord(IdempotencyColumns, Base):
    """The first response to a request made with an ``Idempotency-Key``, per caller and key.

    ``key`` is the SHA-256 of the client's key; secrets in ``response`` are sealed with it.
    """
