"""The reference web frontend (``web/``, built to ``web/dist``) at the gateway's root.

The portal speaks only the public API, from the same origin, so it needs no CORS. Its pages
are one HTML document (``index.html``) that routes in the browser; the gateway answers it for
the page paths the frontend knows (and the booking mails link to: ``/bookings/<id>``,
``/bookings/<id>/opt-in``, ``/bookings/<id>/room``, ``/book``, ``/waitlist/...``; the manage
page's QR code to ``/bookings/<id>/check-in``). Any other path stays a 404
problem. Built files carry a content hash in their names (``/assets/``), so they are cached
for good; the document itself is revalidated each time.

The pages get their own Content-Security-Policy: scripts, styles and API calls from this
origin only, nothing inline, no frames.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import FileResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles

PAGES = ("services", "book", "bookings", "waitlist", "desk", "display", "demo")
"""First path segments of the frontend's pages besides ``/`` (web/src/router.ts)."""
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
_DOCUMENT_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "cache-control": "no-cache",
}


class _Assets(StaticFiles):
    """The hashed build output: cached for good."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["cache-control"] = "public, max-age=31536000, immutable"
        response.headers["content-security-policy"] = CONTENT_SECURITY_POLICY
        return response


def install_portal(app: FastAPI, directory: Path) -> None:
    """Serve the built frontend in ``directory`` (nothing when it was not built)."""
    document = directory / "index.html"
    if not document.is_file():
        return

    async def page() -> FileResponse:
        return FileResponse(document, media_type="text/html", headers=_DOCUMENT_HEADERS)

    paths = ["/", *(f"/{segment}" for segment in PAGES), *(f"/{s}/{{rest:path}}" for s in PAGES)]
    for path in paths:
        app.add_api_route(path, page, methods=["GET", "HEAD"], include_in_schema=False)
    if (directory / "assets").is_dir():
        app.mount("/assets", _Assets(directory=directory / "assets"), name="portal-assets")
