"""Path routing: ``/<service>/v<N>/...`` goes to that service, streamed both ways."""

from __future__ import annotations

import logging

import httpx
from fastapi import APIRouter, Request
from starlette.background import BackgroundTask
from starlette.responses import StreamingResponse

from gateway.errors import UnknownService, UpstreamTimeout, UpstreamUnavailable
from gateway.upstreams import Upstreams
from servicekit.requestid import REQUEST_ID_HEADER

logger = logging.getLogger("gateway.routing")

# RFC 9110 section 7.6.1: connection-specific fields are not forwarded by a proxy.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
# Set by the gateway's own server on the way out.
RESPONSE_OWN = frozenset({"date", "server", REQUEST_ID_HEADER})

router = APIRouter()


def _forward_headers(request: Request) -> list[tuple[str, str]]:
    headers = [(k, v) for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP]
    headers = [(k, v) for k, v in headers if k.lower() != REQUEST_ID_HEADER]
    headers.append((REQUEST_ID_HEADER, request.state.request_id))
    return headers


@router.api_route(
    "/{service}/{version}/{path:path}",
    methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
    include_in_schema=False,
)
async def proxy(request: Request, service: str, version: str, path: str) -> StreamingResponse:
    upstreams: Upstreams = request.app.state.upstreams
    upstream = upstreams.get(service)
    if upstream is None or not version.startswith("v"):
        raise UnknownService()
    url = httpx.URL(
        f"{upstream.base_url}{request.url.path}",
        query=request.url.query.encode("latin-1"),
    )
    has_body = request.method not in {"GET", "HEAD", "OPTIONS"}
    outgoing = upstreams.client.build_request(
        request.method,
        url,
        headers=_forward_headers(request),
        content=request.stream() if has_body else None,
    )
    try:
        response = await upstreams.client.send(outgoing, stream=True)
    except httpx.TimeoutException as exc:
        raise UpstreamTimeout() from exc
    except httpx.TransportError as exc:
        logger.warning("upstream unreachable", extra={"upstream": upstream.name})
        raise UpstreamUnavailable() from exc
    headers = {
        k: v
        for k, v in response.headers.items()
        if k.lower() not in HOP_BY_HOP and k.lower() not in RESPONSE_OWN
    }
    return StreamingResponse(
        response.aiter_raw(),
        status_code=response.status_code,
        headers=headers,
        background=BackgroundTask(response.aclose),
    )
