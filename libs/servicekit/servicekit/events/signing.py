"""How a delivery is signed, as FIT-Connect signs its callbacks.

A delivery carries ``callback-timestamp`` (Unix seconds) and ``callback-authentication``, the
hex HMAC-SHA512 of ``<timestamp>.<body>`` under the secret publisher and subscriber share.
The receiver recomputes it with the secret of the event's claimed source and refuses a
timestamp further than :data:`SIGNATURE_TOLERANCE_S` from its clock, so a recorded delivery
cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

from pydantic import SecretStr

from servicekit.constant_time import same_secret
from servicekit.problems import Unauthorized

EVENT_MEDIA_TYPE = "application/cloudevents+json"
TIMESTAMP_HEADER = "callback-timestamp"
SIGNATURE_HEADER = "callback-authentication"
SIGNATURE_TOLERANCE_S = 300
"""How far a signed timestamp may lie from the receiver's clock (either way)."""


class InvalidEventSignature(Unauthorized):
    type_slug = "invalid-event-signature"
    title = "The event's signature or timestamp is not valid"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The ``callback-authentication`` of ``body`` sent at ``timestamp``."""
    message = timestamp.encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha512).hexdigest()


def signed_headers(secret: str, body: bytes, *, at: float | None = None) -> dict[str, str]:
    """The headers a structured event ``body`` is delivered with, signed with ``secret`` at
    ``at`` (default: now)."""
    timestamp = str(int(time.time() if at is None else at))
    return {
        "content-type": EVENT_MEDIA_TYPE,
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: signature(secret, timestamp, body),
    }


def check_signature(
    headers: Mapping[str, str],
    body: bytes,
    secret: SecretStr | None,
    *,
    now: float,
    tolerance_s: float = SIGNATURE_TOLERANCE_S,
) -> None:
    """InvalidEventSignature (401) unless ``headers`` sign ``body`` with ``secret`` (None: a
    source without a shared secret) at a time within ``tolerance_s`` of ``now``."""
    timestamp = headers.get(TIMESTAMP_HEADER, "")
    given = headers.get(SIGNATURE_HEADER, "")
    if secret is None or not timestamp.isdigit() or not given:
        raise InvalidEventSignature()
    if abs(now - int(timestamp)) > tolerance_s:
        raise InvalidEventSignature("The timestamp is too far from now.")
    expected = signature(secret.get_secret_value(), timestamp, body)
    if not same_secret(given.lower(), expected):
        raise InvalidEventSignature()
