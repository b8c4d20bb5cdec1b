"""What can be wrong with a mail before it is queued.

Both are ``ValueError``\\ s, so a pydantic validator that raises them (``MailAddress`` in a
request schema) answers 422 at the API; raised while a service builds a mail, a service maps
:class:`InvalidMail` to a 422 problem of its own.
"""

from __future__ import annotations


class InvalidMail(ValueError):
    """A mail that must not be sent as asked."""


class InvalidAddress(InvalidMail):
    """Not an address a mail can be sent to (or from)."""


class HeaderInjection(InvalidMail):
    """A header value (a name, a subject, an address) with a line break in it: it would
    start headers of its own (``Bcc:``) in the mail."""
