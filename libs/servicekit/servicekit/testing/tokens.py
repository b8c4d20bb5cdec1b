"""Real access tokens for tests, signed by a key set of the test run's own.

The plugin's ``tokens`` fixture is a :class:`TokenFactory`, and its ``app`` fixture makes the app
trust it, so a test runs the real verification path::

    headers = tokens.headers(sub="citizen-1", tenant="06999001", roles=["citizen"])
    await client.get("/booking/v1/...", headers=headers)

``tokens.issue(...)`` gives the raw JWT; overrides such as ``expires_in=-60``,
``audience="other"``, ``issuer=...``, ``not_before=...``, ``kid=...`` or ``claims={...}`` make
negative tests. Tokens carry the default ``auth_issuer``/``auth_audience`` of
:class:`ServiceSettings`; an app configured with others needs ``issuer=``/``audience=``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import FastAPI

from servicekit.auth.jose_safe import generate_private_jwk, public_jwk, sign
from servicekit.auth.keys import StaticKeys
from servicekit.auth.verifier import TokenVerifier
from servicekit.settings import ServiceSettings

DEFAULT_ISSUER: str = ServiceSettings.model_fields["auth_issuer"].default
DEFAULT_AUDIENCE: str = ServiceSettings.model_fields["auth_audience"].default


class TokenFactory:
    """Issues access tokens like identity does, from keys of its own."""

    def __init__(
        self,
        *,
        issuer: str = DEFAULT_ISSUER,
        audience: str = DEFAULT_AUDIENCE,
        algorithm: str = "RS256",
        rsa_bits: int = 2048,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self._rsa_bits = rsa_bits
        self._keys: dict[str, dict[str, Any]] = {}
        self._retired: set[str] = set()
        self.active_kid = self.add_key(algorithm)

    def add_key(self, algorithm: str = "RS256", *, activate: bool = False) -> str:
        """A new published key (passive unless ``activate``); returns its kid."""
        private = generate_private_jwk(algorithm, rsa_bits=self._rsa_bits)
        self._keys[private["kid"]] = private
        if activate:
            self.active_kid = private["kid"]
        return str(private["kid"])

    def retire(self, kid: str) -> None:
        """Stop publishing ``kid``: tokens it signed no longer verify."""
        self._retired.add(kid)

    def private_jwk(self, kid: str | None = None) -> dict[str, Any]:
        return dict(self._keys[kid or self.active_kid])

    def public_jwks(self) -> dict[str, Any]:
        return {
            "keys": [
                public_jwk(private)
                for kid, private in self._keys.items()
                if kid not in self._retired
            ]
        }

    def key_source(self) -> StaticKeys:
        return StaticKeys(self.public_jwks)

    def verifier(self) -> TokenVerifier:
        return TokenVerifier(
            issuer=self.issuer, audience=self.audience, sources=[self.key_source()]
        )

    def trust(self, app: FastAPI) -> None:
        """Make ``app`` accept this factory's tokens (and fetch no remote keys)."""
        current: TokenVerifier | None = getattr(app.state, "token_verifier", None)
        app.state.token_verifier = (
            current.trusting(self.key_source()) if current is not None else self.verifier()
        )

    def claims(
        self,
        *,
        sub: str = "user-1",
        tenant: str = "06999001",
        roles: Iterable[str] = ("citizen",),
        scopes: Iterable[str] | str = (),
        client_id: str | None = None,
        expires_in: int = 300,
        issued_at: float | None = None,
        not_before: float | None = None,
        audience: str | None = None,
        issuer: str | None = None,
        jti: str | None = None,
        claims: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        now = int(time.time()) if issued_at is None else int(issued_at)
        body: dict[str, Any] = {
            "iss": issuer or self.issuer,
            "sub": sub,
            "aud": audience or self.audience,
            "iat": now,
            "exp": now + expires_in,
            "jti": jti or uuid.uuid4().hex,
            "tenant": tenant,
            "roles": list(roles),
            "scope": scopes if isinstance(scopes, str) else " ".join(scopes),
        }
        if client_id is not None:
            body["client_id"] = client_id
        if not_before is not None:
            body["nbf"] = int(not_before)
        body.update(claims or {})
        return body

    def issue(self, *, kid: str | None = None, **overrides: Any) -> str:
        """A signed access token; see :meth:`claims` for the overrides."""
        return sign(self.claims(**overrides), self._keys[kid or self.active_kid])

    def headers(self, **overrides: Any) -> dict[str, str]:
        """``Authorization: Bearer ...`` for a token made with these overrides."""
        return {"Authorization": f"Bearer {self.issue(**overrides)}"}
