"""Gateway benchmark: direct vs. through the gateway vs. through nginx, in one run.

    .venv/bin/python bench/gateway/run.py [--duration 5] [--rounds 3] [--gateway-workers 1]
                                          [--no-write]

Installs wrk and nginx with apt-get when they are missing (nginx is skipped if it cannot be
installed). Starts, on loopback: the benchmark service (bench/gateway/upstream.py, one uvicorn
worker, built with the kit like every service), the gateway in front of it, and nginx in front
of it (keep-alive upstream). Measures with wrk (one thread):

* 32 connections: req/s, p50, p99 for direct, gateway, nginx and a FastAPI + httpx proxy (the
  foundation's design, as a baseline); throughput ratio gateway/direct;
* 1 connection: p50 for each; added p50 = gateway p50 - direct p50;
* each in ``--rounds`` interleaved rounds, the median round reported;
* a 200 MB download through the gateway by a client reading at about 100 MB/s: the gateway's
  peak RSS growth (VmRSS sampled every 20 ms while the download runs, minus before).

Then writes the figures between the markers in bench/gateway/README.md. Every process it
started is stopped at the end; only loopback addresses are used.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from servicekit.testing.otlp import OtlpReceiver
from servicekit.testing.tokens import TokenFactory

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PYTHON = ROOT / ".venv" / "bin" / "python"
GATEWAY = ROOT / ".venv" / "bin" / "rathaus-gateway"
README = HERE / "README.md"
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
DOWNLOAD_BYTES = 200 * 1024 * 1024


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ensure_tools() -> bool:
    """wrk is required; nginx is optional. Returns whether nginx is available."""
    missing = [tool for tool in ("wrk", "nginx") if shutil.which(tool) is None]
    if missing and os.geteuid() == 0:
        subprocess.run(["apt-get", "update", "-qq"], check=False)
        for tool in missing:
            subprocess.run(["apt-get", "install", "-y", "-qq", tool], check=False)
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed (apt-get install wrk)")
    return shutil.which("nginx") is not None


def wait_ready(url: str, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


@dataclass
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def _ms(text: str) -> float:
    match = re.match(r"([\d.]+)(us|ms|s)", text)
    assert match, text
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def wrk(url: str, connections: int, duration_s: int, token: str | None = None) -> WrkResult:
    auth = ["-H", f"Authorization: Bearer {token}"] if token else []
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration_s}s", "--latency", *auth, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    errors = 0
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        errors += int(non2xx.group(1))
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if sock:
        errors += sum(int(g) for g in sock.groups())
    return WrkResult(rps=rps, p50_ms=p50, p99_ms=p99, errors=errors)


def median(runs: list[WrkResult], key: str) -> WrkResult:
    """The run with the median value of ``key``, errors summed over all runs."""
    ordered = sorted(runs, key=lambda run: float(getattr(run, key)))
    chosen = ordered[len(ordered) // 2]
    return WrkResult(
        rps=chosen.rps,
        p50_ms=chosen.p50_ms,
        p99_ms=chosen.p99_ms,
        errors=sum(run.errors for run in runs),
    )


def rss_kib(pid: int) -> int:
    total = 0
    # The gateway's master plus its workers, when several.
    pids = [pid, *children(pid)]
    for each in pids:
        try:
            status = Path(f"/proc/{each}/status").read_text()
        except OSError:
            continue
        match = re.search(r"VmRSS:\s+(\d+) kB", status)
        if match:
            total += int(match.group(1))
    return total


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def download_rss_growth(url: str, pid: int) -> tuple[int, int, float]:
    """(bytes received, peak RSS growth in KiB, seconds)."""
    before = rss_kib(pid)
    peak = before
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_kib(pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    started = time.monotonic()
    received = 0
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            # A client slower than loopback (about 100 MB/s), so that the gateway would have
            # to buffer if it read from the service faster than the client takes the bytes.
            while chunk := response.read(256 * 1024):
                received += len(chunk)
                time.sleep(0.0025)
    finally:
        done.set()
        sampler.join()
    return received, peak - before, time.monotonic() - started


NGINX_CONF = """
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/body;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi;
  scgi_temp_path {tmp}/scgi;
  upstream service {{ server 127.0.0.1:{upstream}; keepalive 64; }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://service;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }}
  }}
}}
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--gateway-workers", type=int, default=1)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    have_nginx = ensure_tools()

    processes: list[subprocess.Popen[bytes]] = []
    tmp = Path(tempfile.mkdtemp(prefix="gateway-bench-"))
    upstream_port, gateway_port, nginx_port = free_port(), free_port(), free_port()
    httpx_port, traced_port = free_port(), free_port()
    # The traced gateway's collector: counts what arrives (decoded, not kept).
    collector = OtlpReceiver(keep=False)
    env = {
        **os.environ,
        "GATEWAY_PORT": str(gateway_port),
        "GATEWAY_WORKERS": str(args.gateway_workers),
        "GATEWAY_SERVICES": json.dumps({"bench": [f"http://127.0.0.1:{upstream_port}"]}),
        # One route class with the limiter on but a budget the benchmark cannot exhaust.
        "GATEWAY_ROUTE_CLASSES": json.dumps(
            [{"name": "default", "per_ip": {"burst": 10**9, "per_s": 10**9}}]
        ),
        "GATEWAY_HEALTH_INTERVAL_S": "0",
        "GATEWAY_LOG_LEVEL": "WARNING",
    }
    # Tokens as identity issues them, and their keys published by the benchmark service, so
    # that the "gateway+token" target runs the edge token check on every request.
    factory = TokenFactory()
    token = factory.issue(sub="bench-user", expires_in=3600)
    jwks_file = tmp / "jwks.json"
    jwks_file.write_text(json.dumps(factory.public_jwks()), encoding="utf-8")
    env["GATEWAY_AUTH_JWKS_URL"] = f"http://127.0.0.1:{upstream_port}/bench/v1/jwks"
    try:
        processes.append(
            subprocess.Popen(
                [str(PYTHON), str(HERE / "upstream.py"), str(upstream_port), str(jwks_file)]
            )
        )
        gateway = subprocess.Popen([str(GATEWAY), "serve"], env=env)
        processes.append(gateway)
        # The same gateway with tracing on: every request sampled (two spans each), exported
        # over OTLP/HTTP; a queue large enough that no span is dropped at this rate.
        traced_env = {
            **env,
            "GATEWAY_PORT": str(traced_port),
            "OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint,
            "OTEL_BSP_MAX_QUEUE_SIZE": "200000",
            "OTEL_BSP_SCHEDULE_DELAY": "1000",
            "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "4096",
        }
        processes.append(subprocess.Popen([str(GATEWAY), "serve"], env=traced_env))
        processes.append(
            subprocess.Popen(
                [
                    str(PYTHON),
                    str(HERE / "httpx_proxy.py"),
                    str(httpx_port),
                    f"http://127.0.0.1:{upstream_port}",
                ]
            )
        )
        if have_nginx:
            for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
                (tmp / sub).mkdir()
            conf = tmp / "nginx.conf"
            conf.write_text(NGINX_CONF.format(tmp=tmp, upstream=upstream_port, port=nginx_port))
            processes.append(
                subprocess.Popen(["nginx", "-c", str(conf), "-e", str(tmp / "nginx-error.log")])
            )
        path = "/bench/v1/ping"
        targets = {"direct": f"http://127.0.0.1:{upstream_port}{path}"}
        targets["gateway"] = f"http://127.0.0.1:{gateway_port}{path}"
        targets["gateway+traces"] = f"http://127.0.0.1:{traced_port}{path}"
        if have_nginx:
            targets["nginx"] = f"http://127.0.0.1:{nginx_port}{path}"
        targets["httpx-proxy"] = f"http://127.0.0.1:{httpx_port}{path}"
        for url in targets.values():
            wait_ready(url)
        tokens = {name: None for name in targets} | {"gateway+token": token}
        targets["gateway+token"] = targets["gateway"]
        for name, url in targets.items():
            wrk(url, 32, 2, tokens[name])  # warm-up
        # Interleaved rounds, median per target: other load on the machine drifts over
        # minutes, and interleaving spreads it evenly over the targets.
        wide_runs: dict[str, list[WrkResult]] = {name: [] for name in targets}
        narrow_runs: dict[str, list[WrkResult]] = {name: [] for name in targets}
        for _ in range(args.rounds):
            for name, url in targets.items():
                wide_runs[name].append(wrk(url, 32, args.duration, tokens[name]))
            for name, url in targets.items():
                narrow_runs[name].append(wrk(url, 1, args.duration, tokens[name]))
        wide = {name: median(runs, "rps") for name, runs in wide_runs.items()}
        narrow = {name: median(runs, "p50_ms") for name, runs in narrow_runs.items()}
        load = os.getloadavg()[0]
        received, growth_kib, seconds = download_rss_growth(
            f"http://127.0.0.1:{gateway_port}/bench/v1/blob?size={DOWNLOAD_BYTES}", gateway.pid
        )
    finally:
        for process in reversed(processes):
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        collector.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    ratio = wide["gateway"].rps / wide["direct"].rps
    added = narrow["gateway"].p50_ms - narrow["direct"].p50_ms
    lines = [
        f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {os.cpu_count()} cores, "
        f"wrk -t1, {args.rounds} interleaved rounds of {args.duration} s per measurement "
        f"(median shown), gateway workers: {args.gateway_workers}, service: 1 uvicorn worker; "
        f"1-min load average at the end: {load:.1f}.",
        "",
        "| target | req/s @32 | p50 @32 (ms) | p99 @32 (ms) | p50 @1 (ms) | p99 @1 (ms) | errors |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name in targets:
        w, n = wide[name], narrow[name]
        lines.append(
            f"| {name} | {w.rps:.0f} | {w.p50_ms:.3f} | {w.p99_ms:.3f} | {n.p50_ms:.3f} | "
            f"{n.p99_ms:.3f} | {w.errors + n.errors} |"
        )
    lines += [
        "",
        f"- throughput ratio gateway/direct @32: **{ratio:.2f}** (target >= 0.60: "
        f"{'met' if ratio >= 0.60 else 'NOT met'})",
        f"- added p50 @1: **{added:.3f} ms** (target <= 0.3 ms: "
        f"{'met' if added <= 0.3 else 'NOT met'})",
    ]
    if "nginx" in wide:
        lines.append(
            f"- nginx/direct @32: {wide['nginx'].rps / wide['direct'].rps:.2f}; "
            f"nginx added p50 @1: {narrow['nginx'].p50_ms - narrow['direct'].p50_ms:.3f} ms"
        )
    lines.append(
        f"- gateway with a bearer token on every request (verified at the edge, remembered "
        f"until it expires)/direct @32: {wide['gateway+token'].rps / wide['direct'].rps:.2f}; "
        f"added p50 @1: {narrow['gateway+token'].p50_ms - narrow['direct'].p50_ms:.3f} ms"
    )
    lines.append(
        f"- gateway with traces on (each request sampled: a server and a client span, sent over "
        f"OTLP/HTTP to a local collector)/direct @32: "
        f"{wide['gateway+traces'].rps / wide['direct'].rps:.2f}; added p50 @1: "
        f"{narrow['gateway+traces'].p50_ms - narrow['direct'].p50_ms:.3f} ms; "
        f"spans received: {collector.count} in {collector.requests} exports"
    )
    lines.append(
        f"- baseline FastAPI + shared httpx.AsyncClient (the foundation's design)/direct @32: "
        f"{wide['httpx-proxy'].rps / wide['direct'].rps:.2f}; added p50 @1: "
        f"{narrow['httpx-proxy'].p50_ms - narrow['direct'].p50_ms:.3f} ms"
    )
    lines.append(
        f"- 200 MB download through the gateway: {received / 1024 / 1024:.0f} MiB in "
        f"{seconds:.1f} s, gateway RSS growth **{growth_kib / 1024:.1f} MiB** (target <= 16 MB: "
        f"{'met' if growth_kib * 1024 <= 16 * 1000 * 1000 else 'NOT met'})"
    )
    report = "\n".join(lines)
    print(report)
    if not args.no_write and README.exists():
        text = README.read_text(encoding="utf-8")
        if BEGIN in text and END in text:
            head, rest = text.split(BEGIN, 1)
            _, tail = rest.split(END, 1)
            README.write_text(f"{head}{BEGIN}\n{report}\n{END}{tail}", encoding="utf-8")


if __name__ == "__main__":
    main()
