"""The kit's uvicorn options for WebSockets: no per-message compression, whose zlib state would be
most of what an idle socket holds (bench/rooms measured about 46 KiB of 95 KiB per socket)."""

from __future__ import annotations

from fastapi import FastAPI, WebSocket
from websockets.asyncio.client import connect

from servicekit.server import uvicorn_options
from servicekit.settings import Environment, ServiceSettings
from servicekit.testing.live import run_live_server


def _echo_app() -> FastAPI:
    app = FastAPI()

    @app.websocket("/echo")
    async def echo(socket: WebSocket) -> None:
        await socket.accept()
        await socket.send_text(await socket.receive_text())
        await socket.close()

    return app


async def test_a_client_offering_permessage_deflate_gets_a_plain_socket() -> None:
    settings = ServiceSettings(service_name="kit", environment=Environment.TEST)
    options = uvicorn_options(settings)
    options.pop("http")  # the hardened HTTP protocol is tested on its own; this is about ws
    server = run_live_server(_echo_app(), **options)
    try:
        url = server.url.replace("http://", "ws://") + "/echo"
        # websockets offers permessage-deflate unless told not to, as browsers do.
        async with connect(url, compression="deflate") as socket:
            offered = socket.request.headers if socket.request is not None else {}
            assert "permessage-deflate" in offered.get("Sec-WebSocket-Extensions", "")
            answered = socket.response.headers if socket.response is not None else {}
            assert answered.get("Sec-WebSocket-Extensions") is None
            await socket.send("hallo")
            assert await socket.recv() == "hallo"
    finally:
        server.stop()
