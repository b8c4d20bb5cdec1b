"""Upload/download throughput and memory of the documents service, encrypted, vs a plain sink.

    .venv/bin/python bench/documents/run.py [--sizes 1,20,200] [--repeat 3]

Starts, on loopback: a stand-in for booking and identity's JWKS (in this process), the real
documents service (``rathaus-documents serve``, its own process, SQLite, local blob directory,
upload limit raised), and a bare ASGI sink (``plain_sink.py``, its own process) that streams
the same bytes to a file with no checks. Each size is uploaded and downloaded ``--repeat`` times
through each; the best run counts. RSS of the server process is sampled every 5 ms.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psutil
from fastapi import FastAPI

from servicekit.migrations import upgrade
from servicekit.testing.live import free_port, run_live_server
from servicekit.testing.tokens import TokenFactory

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
MIB = 1024 * 1024
BLOCK = os.urandom(MIB)
T = TypeVar("T")


def payload(size: int) -> Iterator[bytes]:
    """``size`` bytes of a PDF-looking file, produced as they are sent (never all in memory)."""
    head = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
    yield head
    left = size - len(head)
    while left > 0:
        piece = BLOCK[: min(MIB, left)]
        left -= len(piece)
        yield piece


class RssSampler:
    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.005)

    def __enter__(self) -> RssSampler:
        self.baseline = self.process.memory_info().rss
        self.peak = self.baseline
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)


@dataclass
class Measured:
    seconds: float
    baseline_rss: int
    peak_rss: int


def measure(pid: int, action: Callable[..., T], *args: Any) -> tuple[Measured, T]:
    with RssSampler(pid) as sampler:
        start = time.perf_counter()
        result = action(*args)
        seconds = time.perf_counter() - start
    return Measured(seconds, sampler.baseline, sampler.peak), result


@dataclass
class SizeBench:
    """Upload and download one size through the service and through the plain sink."""

    http: httpx.Client
    base: str
    plain_base: str
    headers: dict[str, str]
    size: int
    plain_dir: Path

    def upload(self) -> str:
        response = self.http.post(
            f"{self.base}/documents/v1/bookings/bk-1/items/passport/documents",
            content=payload(self.size),
            headers=self.headers,
        )
        response.raise_for_status()
        document_id: str = response.json()["id"]
        return document_id

    def _read(self, url: str, headers: dict[str, str] | None = None) -> None:
        with self.http.stream("GET", url, headers=headers) as response:
            response.raise_for_status()
            received = sum(len(c) for c in response.iter_raw(MIB))
        assert received == self.size, received

    def download(self, document_id: str) -> None:
        self._read(f"{self.base}/documents/v1/documents/{document_id}/content", self.headers)

    def plain_upload(self, name: str) -> None:
        self.http.put(f"{self.plain_base}/{name}", content=payload(self.size)).raise_for_status()

    def plain_download(self, name: str) -> None:
        self._read(f"{self.plain_base}/{name}")

    def run(self, repeat: int, service_pid: int, plain_pid: int) -> dict[str, Any]:
        best: dict[str, Measured] = {}

        def keep(kind: str, measured: tuple[Measured, Any]) -> Any:
            if kind not in best or measured[0].seconds < best[kind].seconds:
                best[kind] = measured[0]
            return measured[1]

        for attempt in range(repeat):
            name = f"f{self.size}-{attempt}"
            document_id = keep("upload", measure(service_pid, self.upload))
            keep("download", measure(service_pid, self.download, document_id))
            keep("plain_upload", measure(plain_pid, self.plain_upload, name))
            keep("plain_download", measure(plain_pid, self.plain_download, name))
            self.http.delete(
                f"{self.base}/documents/v1/documents/{document_id}", headers=self.headers
            )
            (self.plain_dir / name).unlink()

        def mib_s(kind: str) -> float:
            return self.size / MIB / best[kind].seconds

        return {
            "size_mib": self.size // MIB,
            "upload_mib_s": round(mib_s("upload"), 1),
            "download_mib_s": round(mib_s("download"), 1),
            "plain_upload_mib_s": round(mib_s("plain_upload"), 1),
            "plain_download_mib_s": round(mib_s("plain_download"), 1),
            "upload_ratio": round(mib_s("upload") / mib_s("plain_upload"), 2),
            "download_ratio": round(mib_s("download") / mib_s("plain_download"), 2),
            "service_peak_rss_mib": round(
                max(best["upload"].peak_rss, best["download"].peak_rss) / MIB, 1
            ),
            "upload_rss_growth_mib": round(
                (best["upload"].peak_rss - best["upload"].baseline_rss) / MIB, 1
            ),
            "download_rss_growth_mib": round(
                (best["download"].peak_rss - best["download"].baseline_rss) / MIB, 1
            ),
        }


def stand_ins(tokens: TokenFactory) -> FastAPI:
    app = FastAPI()
    starts = (datetime.now(UTC) + timedelta(days=2)).isoformat()

    @app.get("/jwks")
    def jwks() -> dict[str, Any]:
        return tokens.public_jwks()

    @app.get("/booking/v1/bookings/{booking_id}/checklist")
    def checklist(booking_id: str) -> dict[str, Any]:
        return {
            "booking_id": booking_id,
            "tenant": "06999001",
            "office_id": "office-1",
            "status": "confirmed",
            "starts_at": starts,
            "items": [{"id": "passport", "name": "Reisepass", "mandatory": True}],
        }

    return app


def wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1,20,200", help="MiB, comma separated")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--output", type=Path, default=Path(__file__).with_name("results.json"))
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    work = Path(tempfile.mkdtemp(prefix="documents-bench-"))
    database_url = f"sqlite+aiosqlite:///{work / 'documents.db'}"
    upgrade(ROOT / "services" / "documents", database_url)
    tokens = TokenFactory()
    helpers = run_live_server(stand_ins(tokens))
    port, plain_port = free_port(), free_port()
    (work / "plain").mkdir()
    env = {
        **os.environ,
        "DOCUMENTS_ENVIRONMENT": "test",
        "DOCUMENTS_PORT": str(port),
        "DOCUMENTS_DATABASE_URL": database_url,
        "DOCUMENTS_BLOB_DIR": str(work / "blobs"),
        "DOCUMENTS_KEKS": json.dumps({"bench": base64.b64encode(os.urandom(32)).decode()}),
        "DOCUMENTS_ACTIVE_KEK_ID": "bench",
        "DOCUMENTS_MAX_UPLOAD_BYTES": str((max(sizes) + 1) * MIB),
        "DOCUMENTS_BOOKING_URL": helpers.url,
        "DOCUMENTS_AUTH_JWKS_URL": f"{helpers.url}/jwks",
        "DOCUMENTS_LOG_LEVEL": "WARNING",
    }
    service = subprocess.Popen([str(VENV_BIN / "rathaus-documents"), "serve"], env=env)
    plain = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).with_name("plain_sink.py")),
            str(plain_port),
            str(work / "plain"),
        ]
    )
    rows: list[dict[str, Any]] = []
    try:
        base = f"http://127.0.0.1:{port}"
        plain_base = f"http://127.0.0.1:{plain_port}"
        wait_until_up(f"{base}/livez", service)
        time.sleep(1.0)  # the sink has no health route; uvicorn is up well within this
        headers = tokens.headers(sub="citizen-1", tenant="06999001", roles=["citizen"])
        with httpx.Client(timeout=600) as http:
            # Warm up: the first request fetches the JWKS and opens the connection pools.
            warm = http.post(
                f"{base}/documents/v1/bookings/bk-1/items/passport/documents",
                content=b"%PDF-1.7 warm-up",
                headers=headers,
            )
            warm.raise_for_status()
            http.put(f"{plain_base}/warm-up", content=b"x").raise_for_status()
            for size_mib in sizes:
                bench = SizeBench(
                    http=http,
                    base=base,
                    plain_base=plain_base,
                    headers=headers,
                    size=size_mib * MIB,
                    plain_dir=work / "plain",
                )
                row = bench.run(args.repeat, service.pid, plain.pid)
                rows.append(row)
                print(json.dumps(row))
    finally:
        for process in (service, plain):
            process.terminate()
            process.wait(timeout=30)
        helpers.stop()
        shutil.rmtree(work, ignore_errors=True)
    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "repeat": args.repeat,
        "rows": rows,
    }
    args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print_table(rows)


def print_table(rows: list[dict[str, Any]]) -> None:
    print(
        "| size | upload MiB/s | plain | ratio | download MiB/s | plain | ratio "
        "| peak RSS MiB | RSS growth up/down MiB |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['size_mib']} MiB | {r['upload_mib_s']} | {r['plain_upload_mib_s']} "
            f"| {r['upload_ratio']} | {r['download_mib_s']} | {r['plain_download_mib_s']} "
            f"| {r['download_ratio']} | {r['service_peak_rss_mib']} "
            f"| {r['upload_rss_growth_mib']} / {r['download_rss_growth_mib']} |"
        )


if __name__ == "__main__":
    main()
