"""The service the benchmark measures: a kit-built app (same middleware as every service).

``python bench/gateway/upstream.py PORT`` serves /bench/v1/ping (a small JSON answer) and
/bench/v1/blob?size=N (N bytes, streamed in 64 KiB chunks) under uvicorn, as services run.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from servicekit.app import create_service_app
from servicekit.server import serve
from servicekit.settings import ServiceSettings

router = APIRouter()


class Ping(BaseModel):
    status: str
    service: str


@router.get("/bench/v1/ping", response_model=Ping)
async def ping() -> Ping:
    return Ping(status="ok", service="bench")


@router.get("/bench/v1/blob")
async def blob(size: int) -> StreamingResponse:
    chunk = b"x" * 65536

    async def body() -> AsyncIterator[bytes]:
        left = size
        while left > 0:
            piece = chunk if left >= len(chunk) else chunk[:left]
            left -= len(piece)
            yield piece

    return StreamingResponse(
        body(), media_type="application/octet-stream", headers={"content-length": str(size)}
    )


def main() -> None:
    settings = ServiceSettings(
        service_name="bench", port=int(sys.argv[1]), log_level="WARNING", log_json=True
    )
    app = create_service_app(
        settings,
        title="bench",
        version="1",
        description="bench",
        routers=[router],
        with_database=False,
    )
    serve(app, settings)


if __name__ == "__main__":
    main()
