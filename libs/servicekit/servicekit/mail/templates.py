"""Mail templates: plain files a municipality can read and edit, rendered with Jinja2.

A mail named ``confirmation`` is three files per language, in a service's template folder::

    de/confirmation.subject.txt    one line
    de/confirmation.txt            the plain-text part
    de/confirmation.html           the HTML part (autoescaped: a citizen's name is text)
    en/...

A municipality's own wording lies in a folder of its own (``MAIL_TEMPLATES_DIR``) searched
first, per municipality under its AGS (``06999001/de/confirmation.txt``) or for all of them
(``de/confirmation.txt``); a file missing there comes from the service. The kit's folder comes
last, with the footer every mail may include (``{% include "de/_footer.txt" %}``): the
sender, the Impressum and the privacy notice of the :class:`Letterhead`.

Templates see what the service passes, plus ``letterhead``, ``locale`` and ``time_zone``, and
these filters (Babel, in the mail's language and time zone)::

    {{ starts_at|datetime }}   Montag, 7. Dezember 2026, 09:30
    {{ starts_at|date }}       Montag, 7. Dezember 2026
    {{ starts_at|time }}       09:30
    {{ fee|money }}            12,50 €

A variable the service did not pass is an error when the mail is rendered (not a gap in a
citizen's mail), and templates run sandboxed.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from babel.numbers import format_currency
from jinja2 import FileSystemLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

from servicekit.mail.message import Letterhead

KIT_TEMPLATES = Path(__file__).resolve().parent / "templates"
LOCALES: tuple[str, ...] = ("de", "en")
DEFAULT_TIME_ZONE = "Europe/Berlin"


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str
    locale: str


def choose_locale(
    preferred: str | None, available: Sequence[str] = LOCALES, default: str | None = None
) -> str:
    """The language to write in: ``preferred`` is a language tag (a booking's ``en``) or an
    Accept-Language header (``en-GB,en;q=0.9,de;q=0.5``); the first available language it
    names by preference, else ``default`` (the first available)."""
    fallback = default or available[0]
    if not preferred:
        return fallback
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate(preferred.split(",")):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        language = tag.strip().split("-")[0].split("_")[0].lower()
        if quality > 0 and language in available:
            ranked.append((-quality, position, language))
    return min(ranked)[2] if ranked else fallback


class MailTemplates:
    """Renders a service's mails from its template folders (see the module's docstring)."""

    def __init__(self, folders: Sequence[Path], *, locales: Sequence[str] = LOCALES) -> None:
        self.locales = tuple(locales)
        self.environment = SandboxedEnvironment(
            loader=FileSystemLoader([*folders, KIT_TEMPLATES]),
            autoescape=select_autoescape(enabled_extensions=("html",), default=False),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
            auto_reload=False,
        )
        self.environment.filters.update(datetime=_datetime, date=_date, time=_time, money=_money)

    @classmethod
    def of_package(
        cls, package: str, folder: str = "mail_templates", *, override: Path | None = None
    ) -> MailTemplates:
        """The templates in ``folder`` of a service's package, below a municipality's own
        folder ``override`` when there is one."""
        own = Path(str(importlib.resources.files(package).joinpath(folder)))
        return cls([override, own] if override is not None else [own])

    def choose_locale(self, preferred: str | None) -> str:
        return choose_locale(preferred, self.locales)

    def render(
        self,
        name: str,
        context: Mapping[str, Any],
        *,
        letterhead: Letterhead,
        locale: str,
        tenant: str | None = None,
        time_zone: str = DEFAULT_TIME_ZONE,
    ) -> RenderedMail:
        """Mail ``name`` in ``locale`` (one of the available languages), with the
        municipality ``tenant``'s own templates where it has them."""
        if locale not in self.locales:
            raise ValueError(f"no templates in {locale!r}; available: {self.locales}")
        values = {
            **context,
            "letterhead": letterhead,
            "locale": locale,
            "time_zone": time_zone,
        }

        def part(suffix: str) -> str:
            names = [f"{locale}/{name}{suffix}"]
            if tenant is not None:
                names.insert(0, f"{tenant}/{locale}/{name}{suffix}")
            return self.environment.select_template(names).render(values)

        return RenderedMail(
            subject=part(".subject.txt").strip(),
            text=part(".txt"),
            html=part(".html"),
            locale=locale,
        )


def _local(context: Context, value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetimes are not shown: pass a timezone-aware value")
    return value.astimezone(ZoneInfo(context["time_zone"]))


@pass_context
def _date(context: Context, value: datetime) -> str:
    return format_date(_local(context, value).date(), format="full", locale=context["locale"])


@pass_context
def _time(context: Context, value: datetime) -> str:
    return format_time(_local(context, value), format="short", locale=context["locale"])


@pass_context
def _datetime(context: Context, value: datetime) -> str:
    return f"{_date(context, value)}, {_time(context, value)}"


@pass_context
def _money(context: Context, value: Decimal | float | int, currency: str = "EUR") -> str:
    return format_currency(value, currency, locale=context["locale"])
