"""X-Request-ID and W3C Trace Context at the edge.

A well-formed incoming ``X-Request-ID`` is kept, otherwise one is made. An incoming valid
``traceparent`` keeps its trace id and flags and gets the gateway's own span as parent for the
service; otherwise a new trace starts (sampled). The service sees both headers, and the client
gets them back.

With tracing off (the default: ``servicekit.tracing``) that is all, and costs a random number:
the gateway's span is only an id. With tracing on, :class:`gateway.spans.EdgeSpans` makes the
gateway's spans real and exported.
"""

from __future__ import annotations

import re
from random import getrandbits

_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")
_TRACEPARENT = re.compile(rb"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$")
_ZERO_TRACE = b"0" * 32
_ZERO_SPAN = b"0" * 16


def request_id(incoming: bytes | None) -> bytes:
    if incoming is not None and _REQUEST_ID.match(incoming):
        return incoming
    return b"%032x" % getrandbits(128)


def traceparent(incoming: bytes | None) -> bytes:
    """The traceparent to send on: same trace, the gateway's span as the parent."""
    # Random, not secret: Python's PRNG is enough and a syscall cheaper than os.urandom.
    span = b"%016x" % (getrandbits(64) or 1)
    if incoming is not None:
        match = _TRACEPARENT.match(incoming.strip().lower())
        if match is not None:
            version, trace, parent, flags, rest = match.groups()
            # Version ff is invalid; a future version may carry more fields after ours.
            if version != b"ff" and trace != _ZERO_TRACE and parent != _ZERO_SPAN:
                if version == b"00" and rest:
                    pass
                else:
                    return b"00-" + trace + b"-" + span + b"-" + flags
    return b"00-" + b"%032x" % (getrandbits(128) or 1) + b"-" + span + b"-01"
