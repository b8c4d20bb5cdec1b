"""Addresses a mail goes to: checked strictly, since each one ends up in a header and in the
SMTP envelope, and shown masked wherever an operator reads them."""

from __future__ import annotations

import re
from email.errors import HeaderParseError
from email.headerregistry import Address
from typing import Annotated

from pydantic import AfterValidator, Field

from servicekit.mail.errors import HeaderInjection, InvalidAddress

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$", re.IGNORECASE)
_LOCAL_PART = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}$")


def refuse_line_breaks(name: str, value: str) -> str:
    """``value`` unchanged, or HeaderInjection when it holds a line break."""
    if "\r" in value or "\n" in value:
        raise HeaderInjection(f"{name}: a line break in a header value")
    return value


def checked_address(value: str) -> str:
    """``value`` as an address a mail may be sent to, or InvalidAddress (HeaderInjection for
    a line break). Stricter than RFC 5322 on purpose: a dot-atom local part of ASCII
    characters and a domain name with a dot (internationalised domains as IDNA), no quoted
    local parts, no address literals, no display names, at most 254 characters."""
    refuse_line_breaks("address", value)
    if len(value) > 254 or value.count("@") != 1:
        raise InvalidAddress(f"not a mail address: {value[:60]!r}")
    local, domain = value.split("@")
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise InvalidAddress(f"not a mail domain: {domain[:60]!r}") from None
    labels = ascii_domain.split(".")
    if (
        not _LOCAL_PART.match(local)
        or local.startswith(".")
        or local.endswith(".")
        or ".." in local
        or len(labels) < 2
        or not all(_LABEL.match(label) for label in labels)
        or labels[-1].isdigit()
    ):
        raise InvalidAddress(f"not a mail address: {value[:60]!r}")
    try:
        parsed = Address(addr_spec=f"{local}@{ascii_domain}")
    except (HeaderParseError, ValueError):
        raise InvalidAddress(f"not a mail address: {value[:60]!r}") from None
    return parsed.addr_spec


def masked(address: str) -> str:
    """``e***@example.org``: enough for an operator to tell mails apart, not to read who."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


MailAddress = Annotated[
    str,
    AfterValidator(checked_address),
    Field(max_length=254, examples=["erika.mustermann@example.org"]),
]
"""An address in a request body: refused with 422 unless a mail can be sent to it."""
