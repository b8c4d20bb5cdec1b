"""Content negotiation between German and English (``Accept-Language``, RFC 9110)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Header, Response

Language = Literal["de", "en"]
SUPPORTED: tuple[Language, ...] = ("de", "en")
DEFAULT: Language = "de"


def negotiate(accept_language: str | None) -> Language:
    """The supported language the client prefers most; German when it names neither."""
    if not accept_language:
        return DEFAULT
    best: tuple[float, int, Language] | None = None
    for index, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-", 1)[0]
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality <= 0:
            continue
        if primary == "*":
            candidate: Language | None = DEFAULT
        else:
            candidate = next((lang for lang in SUPPORTED if lang == primary), None)
        if candidate is None:
            continue
        # Higher quality wins; among equals the earlier entry does.
        if best is None or (quality, -index) > (best[0], -best[1]):
            best = (quality, index, candidate)
    return best[2] if best else DEFAULT


async def _language(
    response: Response,
    accept_language: Annotated[
        str | None,
        Header(description="de or en (RFC 9110 language preferences); German by default"),
    ] = None,
) -> Language:
    language = negotiate(accept_language)
    response.headers["Content-Language"] = language
    response.headers["Vary"] = "Accept-Language"
    return language


LanguageDep = Annotated[Language, Depends(_language)]
