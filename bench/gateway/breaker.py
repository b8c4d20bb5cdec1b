"""How a per-process circuit breaker behaves with several gateway workers (a measurement).

``.venv/bin/python bench/gateway/breaker.py [--workers 1 4]`` starts the gateway's test
upstream and ``rathaus-gateway serve`` with each number of workers, kills the upstream, and
counts how many of the next requests still tried the dead service (``upstream-unavailable``)
before every worker's breaker was open (``upstream-circuit-open``), and how many probes got
through in the first second after ``breaker_open_s``. Each request opens a new connection, so
the kernel spreads them over the workers as it spreads clients. Prints one line per run.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from servicekit.testing.live import free_port

ROOT = Path(__file__).resolve().parents[2]
UPSTREAM = ROOT / "gateway" / "tests" / "upstream_app.py"
BIN = Path(sys.executable).parent
FAILURES, OPEN_S = 5, 3.0


def _wait(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def _kinds(url: str, count: int) -> collections.Counter[str]:
    kinds: collections.Counter[str] = collections.Counter()
    for _ in range(count):
        # A new connection each time: requests spread over the workers.
        with httpx.Client(timeout=10) as client:
            answer = client.get(url)
        kinds[answer.json().get("type", str(answer.status_code)).rsplit(":", 1)[-1]] += 1
    return kinds


def measure(workers: int) -> str:
    upstream_port, gateway_port = free_port(), free_port()
    upstream = subprocess.Popen(
        [sys.executable, str(UPSTREAM), "alpha", str(upstream_port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    env = {
        **os.environ,
        "GATEWAY_PORT": str(gateway_port),
        "GATEWAY_WORKERS": str(workers),
        "GATEWAY_SERVICES": json.dumps({"alpha": [f"http://127.0.0.1:{upstream_port}"]}),
        "GATEWAY_HEALTH_INTERVAL_S": "0",
        "GATEWAY_BREAKER_FAILURES": str(FAILURES),
        "GATEWAY_BREAKER_OPEN_S": str(OPEN_S),
        "GATEWAY_LOG_LEVEL": "ERROR",
    }
    gateway = subprocess.Popen(
        [str(BIN / "rathaus-gateway"), "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{gateway_port}/alpha/v1/echo"
    try:
        _wait(f"http://127.0.0.1:{upstream_port}/livez", upstream)
        _wait(f"http://127.0.0.1:{gateway_port}/livez", gateway)
        _kinds(url, 4 * workers)  # every worker has served once
        upstream.kill()
        upstream.wait()
        opening = _kinds(url, 200)
        time.sleep(OPEN_S + 0.2)
        started = time.monotonic()
        probes: collections.Counter[str] = collections.Counter()
        while time.monotonic() - started < 1.0:
            probes += _kinds(url, 1)
    finally:
        for process in (gateway, upstream):
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=20)
    return (
        f"workers={workers}: of 200 requests after the kill, {opening['upstream-unavailable']} "
        f"tried the dead service, {opening['upstream-circuit-open']} were refused by an open "
        f"breaker; after {OPEN_S:g} s, {probes['upstream-unavailable']} probes of "
        f"{sum(probes.values())} requests in the next second"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 4])
    for workers in parser.parse_args().workers:
        print(measure(workers))


if __name__ == "__main__":
    main()
