"""Baseline for the benchmark: the foundation's design, FastAPI + one shared httpx.AsyncClient.

``python bench/gateway/httpx_proxy.py PORT UPSTREAM_URL`` proxies every path to the upstream,
streamed both ways, as gateway/routing.py did before the raw proxy path replaced it.
"""

from __future__ import annotations

import sys

import httpx
import uvicorn
from fastapi import FastAPI, Request
from starlette.background import BackgroundTask
from starlette.responses import StreamingResponse

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "upgrade", "host", "content-length"}


def build(upstream: str) -> FastAPI:
    app = FastAPI()
    client = httpx.AsyncClient(
        base_url=upstream,
        limits=httpx.Limits(max_connections=200, max_keepalive_connections=100),
    )

    @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def proxy(request: Request, path: str) -> StreamingResponse:
        outgoing = client.build_request(
            request.method,
            httpx.URL(path=request.url.path, query=request.url.query.encode()),
            headers=[(k, v) for k, v in request.headers.items() if k not in HOP_BY_HOP],
            content=request.stream() if request.method in {"POST", "PUT", "PATCH"} else None,
        )
        response = await client.send(outgoing, stream=True)
        headers = {k: v for k, v in response.headers.items() if k not in HOP_BY_HOP}
        return StreamingResponse(
            response.aiter_raw(),
            status_code=response.status_code,
            headers=headers,
            background=BackgroundTask(response.aclose),
        )

    return app


if __name__ == "__main__":
    uvicorn.run(build(sys.argv[2]), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
