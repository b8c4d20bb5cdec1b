"""Deliveries of events as a publisher's dispatcher sends them, for a consumer's tests."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from servicekit.events import EVENT_MEDIA_TYPE, SIGNATURE_HEADER, TIMESTAMP_HEADER, signature


def signature_headers(body: bytes, secret: str, *, at: float | None = None) -> dict[str, str]:
    """The headers that sign ``body`` with ``secret`` at ``at`` (default: now)."""
    timestamp = str(int(time.time() if at is None else at))
    return {
        "content-type": EVENT_MEDIA_TYPE,
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: signature(secret, timestamp, body),
    }


def signed_delivery(
    *,
    source: str,
    event_type: str,
    data: dict[str, Any],
    secret: str,
    tenant: str | None = None,
    event_id: str | None = None,
) -> tuple[bytes, dict[str, str]]:
    """A structured CloudEvent of ``source`` and the headers that sign it."""
    document: dict[str, Any] = {
        "specversion": "1.0",
        "id": event_id or str(uuid.uuid4()),
        "source": source,
        "type": event_type,
        "datacontenttype": "application/json",
        "data": data,
    }
    if tenant is not None:
        document["tenant"] = tenant
    body = json.dumps(document).encode()
    return body, signature_headers(body, secret)
