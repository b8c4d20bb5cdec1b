from __future__ import annotations

from servicekit.problems import Forbidden


class EmailNotVerified(Forbidden):
    """Answered only to someone who gave the right password: it tells nobody else whether
    an account exists."""

    type_slug = "email-not-verified"
    title = "Confirm your e-mail address first"
