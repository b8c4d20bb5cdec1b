"""Reads the sign-in page as a browser does: the form's action and its fields."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Form:
    action: str = ""
    fields: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    """The ``for`` of each label: every visible field must have one."""
    visible: list[str] = field(default_factory=list)
    buttons: dict[str, list[str]] = field(default_factory=dict)


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.form = Form()
        self._label: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.form.action = values.get("action", "")
        elif tag == "input":
            name = values.get("name", "")
            self.form.fields[name] = values.get("value", "")
            if values.get("type") != "hidden":
                self.form.visible.append(values.get("id", ""))
        elif tag == "label":
            self._label = values.get("for", "")
            self.form.labels[self._label] = ""
        elif tag == "button" and "name" in values:
            self.form.buttons.setdefault(values["name"], []).append(values.get("value", ""))

    def handle_data(self, data: str) -> None:
        if self._label is not None:
            self.form.labels[self._label] += data.strip()

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self._label = None


def read_form(html: str) -> Form:
    parser = _Parser()
    parser.feed(html)
    return parser.form


def pkce_pair() -> tuple[str, str]:
    """A code verifier and its S256 challenge (RFC 7636 appendix B)."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
