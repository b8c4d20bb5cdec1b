"""Addresses a mail goes to: checked strictly, since each one ends up in a header and in the
SMTP envelope, and shown masked wherever an operator reads them."""

from __future__ import annotations

import re
import unicodedata
from email.errors import HeaderParseError
from email.headerregistry import Address
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field

from servicekit.mail.errors import HeaderInjection, InvalidAddress

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$", re.IGNORECASE)
_LOCAL_PART = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}$")


def refuse_line_breaks(name: str, value: str) -> str:
    """``value`` unchanged, or HeaderInjection when it holds a line break."""
    if "\r" in value or "\n" in value:
        raise HeaderInjection(f"{name}: a line break in a header value")
    return value


_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
"""Unicode categories no address may hold: controls (NUL, TAB, DEL, ...), format characters
(zero-width spaces and joiners, bidi overrides), surrogates, private-use and unassigned code
points, line and paragraph separators. IDNA would silently drop some of them from a domain,
so an address that looks like one mailbox would be stored as another."""


def refuse_control_characters(value: object) -> object:
    """``value`` unchanged, or InvalidAddress when a string holds a control or invisible
    character (HeaderInjection for a line break); runs before any stripping, so a control
    character at either end is refused too, not trimmed away."""
    if isinstance(value, str):
        refuse_line_breaks("address", value)
        for char in value:
            if unicodedata.category(char) in _INVISIBLE:
                raise InvalidAddress(
                    f"a control or invisible character (U+{ord(char):04X}) in an address"
                )
    return value


def checked_address(value: str) -> str:
    """``value`` as an address a mail may be sent to, or InvalidAddress (HeaderInjection for
    a line break). Stricter than RFC 5322 on purpose: a dot-atom local part of ASCII
    characters and a domain name with a dot (internationalised domains as IDNA), no quoted
    local parts, no address literals, no display names, at most 254 characters, and no
    control or invisible character anywhere (:func:`refuse_control_characters`)."""
    refuse_control_characters(value)
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
    BeforeValidator(refuse_control_characters),
    AfterValidator(checked_address),
    Field(max_length=254, examples=["erika.mustermann@example.org"]),
]
"""An address in a request body: refused with 422 unless a mail can be sent to it."""
