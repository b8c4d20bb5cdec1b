"""Deliveries of events as a publisher's dispatcher sends them, for a consumer's tests."""

from __future__ import annotations

import json
import uuid
from typing import Any

from servicekit.events.signing import signed_headers


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
    return body, signed_headers(secret, body)
