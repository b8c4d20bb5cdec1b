"""The service the benchmark measures: a kit-built app (same middleware as every service).

``python bench/gateway/upstream.py PORT [JWKS_FILE]`` serves /bench/v1/ping (a small JSON
answer), /bench/v1/blob?size=N (N bytes, streamed in 64 KiB chunks) and, given a file,
/bench/v1/jwks (the keys the gateway checks the benchmark's tokens with) under uvicorn, as
services run.
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

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


def jwks_router(path: Path) -> APIRouter:
    keys = json.loads(path.read_text(encoding="utf-8"))
    jwks = APIRouter()

    @jwks.get("/bench/v1/jwks")
    async def published_keys() -> dict[str, Any]:
        return dict(keys)

    return jwks


def main() -> None:
    settings = ServiceSettings(
        service_name="bench", port=int(sys.argv[1]), log_level="WARNING", log_json=True
    )
    app = create_service_app(
        settings,
        title="bench",
        version="1",
        description="bench",
        routers=[router, *([jwks_router(Path(sys.argv[2]))] if len(sys.argv) > 2 else [])],
        with_database=False,
    )
    serve(app, settings)


if __name__ == "__main__":
    main()
