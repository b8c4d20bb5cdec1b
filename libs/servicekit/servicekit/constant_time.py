"""Comparing a presented secret with the expected one without telling by the time taken how
much of it matched.

``hmac.compare_digest`` refuses two ``str`` unless both are ASCII (a ``TypeError``, which a
route turns into a 500): a presented token, code or signature is whatever the caller sent, so
both sides are compared as their UTF-8 bytes.
"""

from __future__ import annotations

import hmac


def same_secret(presented: str, expected: str) -> bool:
    """True when ``presented`` equals ``expected``, in time independent of where they differ."""
    return hmac.compare_digest(
        presented.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )
