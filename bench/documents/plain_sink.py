"""The baseline: a bare ASGI app that streams a request body to a file and back, no checks.

Run by run.py as its own process under uvicorn, so its figures compare with the service's.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import uvicorn

DIRECTORY = Path(sys.argv[2])
READ_SIZE = 256 * 1024


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["path"] == "/livez":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    name = scope["path"].rsplit("/", 1)[-1]
    path = DIRECTORY / name
    if scope["method"] == "PUT":
        with open(path, "wb") as handle:  # noqa: ASYNC230 - the plainest possible write
            while True:
                message = await receive()
                handle.write(message.get("body", b""))
                if not message.get("more_body"):
                    break
            handle.flush()
            os.fsync(handle.fileno())
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    size = path.stat().st_size
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-length", str(size).encode())],
        }
    )
    with open(path, "rb") as handle:  # noqa: ASYNC230 - the plainest possible read
        while chunk := handle.read(READ_SIZE):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
