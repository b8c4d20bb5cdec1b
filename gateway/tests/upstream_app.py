"""A small real service for the gateway's tests; ``python upstream_app.py NAME PORT`` serves it.

Routes under ``/<name>/v1``: echo (what arrived), upload (size and digest of a streamed body),
blob (a streamed download), slow (answers late), count (how often it was called), ws (echo).
"""

from __future__ import annotations

import asyncio
import hashlib
import sys
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, FastAPI, Request, WebSocket
from fastapi.responses import JSONResponse, StreamingResponse

from servicekit.app import create_service_app
from servicekit.settings import Environment, ServiceSettings


def build_app(name: str) -> FastAPI:
    router = APIRouter(prefix=f"/{name}/v1")
    calls: dict[str, int] = {}

    # Left out of the contract: one operation id cannot name four methods.
    @router.api_route("/echo", methods=["GET", "POST", "PUT", "DELETE"], include_in_schema=False)
    async def echo(request: Request) -> dict[str, Any]:
        body = await request.body()
        return {
            "service": name,
            "method": request.method,
            "path": request.url.path,
            "query": request.url.query,
            "headers": dict(request.headers),
            "body_size": len(body),
        }

    @router.post("/upload")
    async def upload(request: Request) -> dict[str, Any]:
        digest = hashlib.sha256()
        size = 0
        async for chunk in request.stream():
            digest.update(chunk)
            size += len(chunk)
        return {"size": size, "sha256": digest.hexdigest()}

    @router.get("/blob")
    async def blob(size: int) -> StreamingResponse:
        async def body() -> AsyncIterator[bytes]:
            left = size
            block = bytes(range(256)) * 256
            while left > 0:
                piece = block[: min(left, len(block))]
                left -= len(piece)
                yield piece

        return StreamingResponse(body(), headers={"content-length": str(size)})

    @router.get("/stream")
    async def stream(parts: int) -> StreamingResponse:
        async def body() -> AsyncIterator[bytes]:
            for index in range(parts):
                yield f"part {index}\n".encode()
                await asyncio.sleep(0)

        return StreamingResponse(body(), media_type="text/plain")

    @router.get("/slow")
    async def slow(seconds: float) -> dict[str, str]:
        await asyncio.sleep(seconds)
        return {"status": "late"}

    @router.api_route("/count/{key}", methods=["GET", "POST"], include_in_schema=False)
    async def count(key: str, request: Request) -> dict[str, int]:
        if request.method == "POST":
            calls[key] = calls.get(key, 0) + 1
        return {"calls": calls.get(key, 0)}

    @router.get("/status/{code}")
    async def status(code: int) -> JSONResponse:
        return JSONResponse({"status": code}, status_code=code)

    @router.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        offered = websocket.scope.get("subprotocols") or [None]
        await websocket.accept(subprotocol=offered[0])
        await websocket.send_text(f"hello from {name}; id={websocket.headers.get('x-request-id')}")
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("text") == "bye":
                await websocket.close(code=4000)
                return
            if message.get("text") is not None:
                await websocket.send_text("echo:" + message["text"])
            elif message.get("bytes") is not None:
                await websocket.send_bytes(message["bytes"])

    settings = ServiceSettings(service_name=name, environment=Environment.TEST)
    return create_service_app(
        settings,
        title=name,
        version="1",
        description="test upstream",
        routers=[router],
        with_database=False,
    )


if __name__ == "__main__":
    import uvicorn

    app = build_app(sys.argv[1])
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
