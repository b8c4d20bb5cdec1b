"""The problems the token check answers with."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from servicekit.problems import Forbidden, ServiceUnavailable, Unauthorized


class InvalidToken(Unauthorized):
    """401 for a missing or unacceptable access token (RFC 6750 ``WWW-Authenticate``)."""

    type_slug = "invalid-token"
    title = "Missing or invalid access token"

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        token_present: bool = True,
        **extensions: Any,
    ) -> None:
        challenge = 'Bearer error="invalid_token"' if token_present else "Bearer"
        super().__init__(
            detail, headers={"WWW-Authenticate": challenge, **(headers or {})}, **extensions
        )


class InsufficientRole(Forbidden):
    type_slug = "insufficient-role"
    title = "Your role does not allow this"


class InsufficientScope(Forbidden):
    type_slug = "insufficient-scope"
    title = "The token lacks a required scope"

    def __init__(self, detail: str | None = None, **extensions: Any) -> None:
        super().__init__(
            detail, headers={"WWW-Authenticate": 'Bearer error="insufficient_scope"'}, **extensions
        )


class TokenKeysUnavailable(ServiceUnavailable):
    type_slug = "token-keys-unavailable"
    title = "The signing keys of the identity service cannot be fetched"
