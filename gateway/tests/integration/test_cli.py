"""The real command: ``rathaus-gateway serve`` (uvloop, httptools) and ``openapi``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from servicekit.testing import LiveServer
from servicekit.testing.live import free_port

BIN = Path(sys.executable).parent


def test_serve_proxies_and_finishes_requests_in_flight_on_sigterm(alpha: LiveServer) -> None:
    port = free_port()
    env = {
        **os.environ,
        "GATEWAY_PORT": str(port),
        "GATEWAY_SERVICES": json.dumps({"alpha": [alpha.url]}),
        "GATEWAY_HEALTH_INTERVAL_S": "0",
        "GATEWAY_LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen([str(BIN / "rathaus-gateway"), "serve"], env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/alpha/v1/echo", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.1)
        with ThreadPoolExecutor(1) as pool:
            in_flight = pool.submit(
                httpx.get, f"http://127.0.0.1:{port}/alpha/v1/slow?seconds=1", timeout=10
            )
            time.sleep(0.3)
            process.send_signal(signal.SIGTERM)
            late = in_flight.result()
        code = process.wait(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert response.status_code == 200
    assert response.json()["service"] == "alpha"
    assert late.status_code == 200
    # uvicorn re-raises the signal once it has shut down gracefully.
    assert code in (0, -signal.SIGTERM)


def test_openapi_command_prints_the_merged_document() -> None:
    result = subprocess.run(
        [str(BIN / "rathaus-gateway"), "openapi"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "GATEWAY_LOG_LEVEL": "WARNING"},
    )

    assert "/booking/v1/bookings:" in result.stdout
    assert "gateway.ProblemDetails" in result.stdout
