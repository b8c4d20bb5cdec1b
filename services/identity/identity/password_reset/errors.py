"""A reset code that does not set a password: 404 for one never mailed, 410 Gone for one that
was good once (used, or past its life; using one ends every other one of the account)."""

from __future__ import annotations

from servicekit.problems import NotFound, Problem


class UnknownResetCode(NotFound):
    type_slug = "unknown-reset-code"
    title = "No such password-reset code"


class ResetCodeSpent(Problem):
    status = 410
    type_slug = "reset-code-spent"
    title = "This password-reset code was used or has expired"
