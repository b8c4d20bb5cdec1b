from __future__ import annotations

from servicekit.problems import Unauthorized


class InvalidCredentials(Unauthorized):
    """Wrong password, unknown account and locked account all get exactly this answer."""

    type_slug = "invalid-credentials"
    title = "Wrong email or password"


class InvalidRefreshToken(Unauthorized):
    """Unknown, expired, revoked or already used: a reuse also revokes the whole family."""

    type_slug = "invalid-refresh-token"
    title = "The refresh token is not valid"
