"""The least a download through our stack can cost, against the plain sink, for one size.

    .venv/bin/python bench/documents/floor.py [--size-mib 1] [--rounds 500] [--no-write]
        [--database postgresql://postgres@127.0.0.1:5432/postgres]

run.py measures the documents service against the plain sink. This measures what is left
when nearly everything is taken out of the service, to tell which target a service built on
the required stack (FastAPI, SQLAlchemy 2, uvicorn) can reach at all. Three servers, each in
its own process under the same uvicorn, asked in turn by one client over keep-alive:

- **sink**: ``plain_sink.py``, the baseline of run.py: a bare ASGI app streaming a file.
- **kit, memory**: an app built by ``servicekit.create_service_app`` (the middleware and
  routing of every Rathaus service) whose one route streams the size decrypted from memory
  with documents' own chunked AES-256-GCM. No token, no database, no file.
- **kit, one row**: the same, after reading one document row through the request's
  database session (``SessionDep``) and documents' own repository: the one statement no
  download can do without, since the row holds the document's wrapped key and blob id.
  Still no token check, no booking, no file read.

With a fifth argument (a directory), ``floor.py serve`` also takes ``PUT /row/{id}/{name}``:
the same one row, then the body streamed to a file with one fsync as the sink writes it. run.py
starts it so, and measures every upload of the service beside this floor's, in the same run.

Best and median of ``--rounds``; ratios are the sink's time over the server's (MiB/s ratio).
Writes the figures between the ``floor`` markers in README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import uvicorn
from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from documents import models  # noqa: F401 - registers every table
from documents.crypto.keys import new_data_key
from documents.crypto.stream import ChunkDecryptor, ChunkEncryptor
from documents.db import Base
from documents.uploads.models import Document, ReviewStatus, ScanStatus
from documents.uploads.repository import DocumentRepository
from servicekit.app import create_service_app
from servicekit.db import Database, SessionDep
from servicekit.settings import Environment, ServiceSettings
from servicekit.testing.live import free_port

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import write_readme  # the figures go where run.py puts its own

HERE = Path(__file__).resolve().parent
MIB = 1024 * 1024
DOCUMENT_ID = "f" * 32


def serve(port: int, database_url: str, size: int, directory: Path | None = None) -> None:
    """The floor app: the kit, documents' cipher and repository, nothing else; with a
    ``directory``, also the upload floor (run.py measures it beside the service's uploads)."""
    key = new_data_key()
    encryptor = ChunkEncryptor(key)
    blob = encryptor.update(os.urandom(size)) + encryptor.finish()

    async def plaintext() -> AsyncIterator[bytes]:
        decryptor = ChunkDecryptor(key)
        yield decryptor.update(blob)
        yield decryptor.finish()

    def answer() -> StreamingResponse:
        return StreamingResponse(plaintext(), headers={"Content-Length": str(size)})

    router = APIRouter()

    @router.get("/memory")
    async def memory() -> StreamingResponse:
        return answer()

    @router.get("/row/{document_id}")
    async def row(document_id: str, session: SessionDep) -> StreamingResponse:
        if await DocumentRepository(session).get(document_id) is None:
            raise LookupError(document_id)
        return answer()

    @router.put("/row/{document_id}/{name}", status_code=201)
    async def upload(
        document_id: str, name: str, request: Request, session: SessionDep
    ) -> Response:
        # The shape of an upload without the document work: the one row, then the body to a
        # file with one fsync, as the plain sink writes it (no sniffing, hashing, encryption,
        # booking, no second statement).
        if directory is None or await DocumentRepository(session).get(document_id) is None:
            raise LookupError(document_id)
        with open(directory / name, "wb") as handle:  # noqa: ASYNC230 - as plainly as the sink
            async for chunk in request.stream():
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        return Response(status_code=201)

    async def create_row() -> None:
        database = Database(database_url)
        async with database.engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        async with database.sessionmaker() as session:
            session.add(
                Document(
                    id=DOCUMENT_ID,
                    tenant="06999001",
                    booking_id=uuid.uuid4().hex,
                    checklist_item_id=uuid.uuid4().hex,
                    office_id=uuid.uuid4().hex,
                    appointment_at=datetime.now(UTC),
                    blob_id="floor",
                    display_name="floor.pdf",
                    media_type="application/pdf",
                    size_bytes=size,
                    sha256="0" * 64,
                    kek_id="floor",
                    wrapped_key=b"floor",
                    scan_status=ScanStatus.CLEAN,
                    review_status=ReviewStatus.SUBMITTED,
                    uploaded_by="floor",
                )
            )
            await session.commit()
        await database.dispose()

    asyncio.run(create_row())
    settings = ServiceSettings(
        service_name="floor", environment=Environment.TEST, database_url=database_url
    )
    app = create_service_app(
        settings, title="floor", version="1", description="floor", routers=[router]
    )
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def wait_until_up(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def measure(urls: dict[str, str], size: int, rounds: int) -> dict[str, list[float]]:
    seconds: dict[str, list[float]] = {name: [] for name in urls}
    with httpx.Client(timeout=60) as http:
        for attempt in range(rounds + rounds // 5):
            for name, url in urls.items():
                start = time.perf_counter()
                with http.stream("GET", url) as response:
                    response.raise_for_status()
                    received = sum(len(c) for c in response.iter_raw(MIB))
                elapsed = time.perf_counter() - start
                assert received == size, received
                if attempt >= rounds // 5:  # the first fifth warms up
                    seconds[name].append(elapsed)
    return seconds


def figures(seconds: dict[str, list[float]], label: str, size_mib: int, rounds: int) -> str:
    sink = seconds["sink"]
    lines = [
        f"Run {datetime.now(UTC).isoformat(timespec='seconds')} on {os.cpu_count()} CPUs "
        f"(load average {os.getloadavg()[0]:.2f} at the end), Python "
        f"{sys.version.split()[0]}, {label}, {size_mib} MiB download, {rounds} rounds.",
        "",
        "| server | best ms | median ms | ratio to the sink, best | median |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, times in seconds.items():
        best, median = min(times), statistics.median(times)
        lines.append(
            f"| {name} | {best * 1000:.2f} | {median * 1000:.2f} "
            f"| {min(sink) / best:.2f} | {statistics.median(sink) / median:.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) in (5, 6) and sys.argv[1] == "serve":
        directory = Path(sys.argv[5]) if len(sys.argv) == 6 else None
        serve(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), directory)
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=500)
    parser.add_argument(
        "--database", default=None, help="a PostgreSQL server for a throwaway database"
    )
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    size = args.size_mib * MIB

    work = Path(tempfile.mkdtemp(prefix="documents-floor-"))
    name = f"rathaus_bench_floor_{uuid.uuid4().hex[:8]}"
    if args.database:
        admin = args.database.replace("postgresql://", "postgresql+asyncpg://", 1)
        database_url = str(httpx.URL(admin).copy_with(path=f"/{name}"))
        _postgres(args.database, f'CREATE DATABASE "{name}"')
    else:
        database_url = f"sqlite+aiosqlite:///{work / 'floor.db'}"
    (work / "plain").mkdir()
    (work / "plain" / "file").write_bytes(os.urandom(size))
    sink_port, kit_port = free_port(), free_port()
    processes = [
        subprocess.Popen(
            [sys.executable, str(HERE / "plain_sink.py"), str(sink_port), str(work / "plain")]
        ),
        subprocess.Popen(
            [sys.executable, __file__, "serve", str(kit_port), database_url, str(size)]
        ),
    ]
    try:
        wait_until_up(f"http://127.0.0.1:{sink_port}/livez")
        wait_until_up(f"http://127.0.0.1:{kit_port}/livez")
        seconds = measure(
            {
                "sink": f"http://127.0.0.1:{sink_port}/file",
                "kit, memory": f"http://127.0.0.1:{kit_port}/memory",
                "kit, one row": f"http://127.0.0.1:{kit_port}/row/{DOCUMENT_ID}",
            },
            size,
            args.rounds,
        )
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
        if args.database:
            _postgres(args.database, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(work, ignore_errors=True)
    label = "PostgreSQL" if args.database else "SQLite"
    text = figures(seconds, label, args.size_mib, args.rounds)
    print(text)
    if not args.no_write:
        write_readme(text, label, section="floor")


def _postgres(dsn: str, statement: str) -> None:
    async def run() -> None:
        connection = await asyncpg.connect(dsn)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(run())


if __name__ == "__main__":
    main()
