"""Real servers for the gateway's tests: test upstreams (threads or killable processes) and
gateways on loopback ports, configured per test."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import Message, Receive, Scope, Send

from gateway.asgi import Gateway
from gateway.main import create_gateway
from gateway.settings import Bucket, GatewaySettings, RouteClass
from servicekit.server import uvicorn_options
from servicekit.settings import Environment, ServiceSettings
from servicekit.testing import LiveServer, run_live_server
from servicekit.testing.live import free_port
from servicekit.testing.tokens import TokenFactory

UPSTREAM_SCRIPT = Path(__file__).resolve().parent / "upstream_app.py"

_spec = importlib.util.spec_from_file_location("gateway_test_upstream", UPSTREAM_SCRIPT)
assert _spec is not None
assert _spec.loader is not None
_upstream = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_upstream)
build_upstream: Callable[[str], FastAPI] = _upstream.build_app

GENEROUS = RouteClass(name="default", per_ip=Bucket(burst=100_000, per_s=100_000))


@pytest.fixture(scope="session")
def alpha() -> Iterator[LiveServer]:
    server = run_live_server(build_upstream("alpha"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def beta() -> Iterator[LiveServer]:
    server = run_live_server(build_upstream("beta"))
    yield server
    server.stop()


class UpstreamProcess:
    """A test upstream in its own process, so that a test can kill it outright."""

    def __init__(self, name: str, port: int | None = None) -> None:
        self.name = name
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(UPSTREAM_SCRIPT), self.name, str(self.port)]
        )
        # Generous: on a loaded machine (the suite's workers, a CI runner) a new Python
        # process importing FastAPI can take many seconds; a healthy start returns at once.
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"upstream process exited with {self.process.returncode}")
            try:
                if httpx.get(f"{self.url}/livez", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.05)
        self.kill()
        raise RuntimeError("upstream process did not start within 90 s")

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def upstream_process() -> Iterator[Callable[[str], UpstreamProcess]]:
    started: list[UpstreamProcess] = []

    def start(name: str) -> UpstreamProcess:
        process = UpstreamProcess(name)
        started.append(process)  # killed afterwards even if it fails to start
        process.start()
        return process

    yield start
    for process in started:
        process.kill()


GatewayFactory = Callable[..., LiveServer]


@dataclass
class CountingUpstream:
    """A test upstream behind an ASGI wrapper that records every request that reaches it."""

    server: LiveServer
    seen: list[tuple[str, str, int]]
    """(method, path with query, body bytes) of each request, in order."""

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture
def counting_upstream() -> Iterator[CountingUpstream]:
    app = build_upstream("alpha")
    seen: list[tuple[str, str, int]] = []

    async def counting(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        size = 0
        record = [scope["method"], scope["path"] + "?" + scope["query_string"].decode(), 0]
        seen_at = len(seen)
        seen.append((record[0], record[1], 0))

        async def counted() -> Message:
            nonlocal size
            message = await receive()
            size += len(message.get("body", b""))
            seen[seen_at] = (str(record[0]), str(record[1]), size)
            return message

        await app(scope, counted, send)

    server = run_live_server(counting)
    yield CountingUpstream(server, seen)
    server.stop()


@pytest.fixture
def start_service() -> Iterator[Callable[..., LiveServer]]:
    """A test upstream served as a service is (``servicekit.server``): ``start_service(name,
    **settings)``."""
    servers: list[LiveServer] = []

    def start(name: str, **overrides: Any) -> LiveServer:
        settings = ServiceSettings(service_name=name, environment=Environment.TEST, **overrides)
        server = run_live_server(build_upstream(name), **uvicorn_options(settings))
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def _serve_like_the_cli(app: Gateway, settings: GatewaySettings) -> LiveServer:
    """Like run_live_server, with the server settings of ``rathaus-gateway serve``."""
    options = {**uvicorn_options(settings), "proxy_headers": False}
    return run_live_server(app, loop="uvloop", **options)


@pytest.fixture
def start_gateway(tokens: TokenFactory) -> Iterator[GatewayFactory]:
    """Starts a gateway on a loopback port: ``start_gateway(services={...}, **settings)``."""
    servers: list[LiveServer] = []

    def start(**overrides: Any) -> LiveServer:
        values: dict[str, Any] = {
            "environment": Environment.TEST,
            "health_interval_s": 0,
            "route_classes": (GENEROUS,),
            "access_log": False,
        }
        values.update(overrides)
        settings = GatewaySettings(**values)
        gateway = create_gateway(settings)
        tokens.trust(gateway.app)  # type: ignore[arg-type]
        server = _serve_like_the_cli(gateway, settings)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client
