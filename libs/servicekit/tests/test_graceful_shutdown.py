"""SIGTERM lets in-flight requests finish before the process exits."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import httpx

from servicekit.testing.live import free_port

APP = textwrap.dedent(
    """
    import asyncio, sys
    from fastapi import APIRouter
    from servicekit.app import create_service_app
    from servicekit.server import serve
    from servicekit.settings import ServiceSettings

    router = APIRouter()

    @router.get("/slow")
    async def slow() -> dict[str, str]:
        await asyncio.sleep(1.5)
        return {"done": "yes"}

    settings = ServiceSettings(service_name="slow", port=int(sys.argv[1]), log_json=True)
    app = create_service_app(
        settings, title="slow", version="1", description="", routers=[router], with_database=False
    )
    serve(app, settings)
    """
)


def test_sigterm_finishes_the_request_in_flight(tmp_path: Path) -> None:
    script = tmp_path / "slow_app.py"
    script.write_text(APP)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(script), str(port)], stderr=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/livez", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.1)
        result: dict[str, httpx.Response] = {}
        request = threading.Thread(
            target=lambda: result.update(
                response=httpx.get(f"http://127.0.0.1:{port}/slow", timeout=10)
            )
        )
        request.start()
        time.sleep(0.5)

        process.send_signal(signal.SIGTERM)
        request.join(timeout=10)

        assert result["response"].status_code == 200
        assert result["response"].json() == {"done": "yes"}
        # uvicorn re-raises the signal once shutdown is complete, as a well-behaved process does.
        assert process.wait(timeout=10) in {0, -signal.SIGTERM}
    finally:
        if process.poll() is None:
            process.kill()
        _, stderr = process.communicate()
    assert b"Application shutdown complete" in stderr
