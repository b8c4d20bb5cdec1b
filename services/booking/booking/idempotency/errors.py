from __future__ import annotations

from servicekit.problems import Conflict, ValidationFailed


class IdempotencyKeyReused(ValidationFailed):
    type_slug = "idempotency-key-reused"
    title = "This Idempotency-Key was used for a different request"


class IdempotentRequestInProgress(Conflict):
    type_slug = "idempotent-request-in-progress"
    title = "A request with this Idempotency-Key is still being processed"
