"""Real parallelism: a uvicorn server and concurrent clients, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib
import os
import select
import socket
from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI

from servicekit.testing.live import LiveServer
from servicekit.testing.tokens import TokenFactory
from tests.documents_booking.live_booking import Appointment

from ..factories import citizen, pdf

PARALLEL = 8


async def test_parallel_uploads_and_downloads_each_get_their_own_bytes(
    live_documents: tuple[LiveServer, FastAPI], appointment: Appointment, tokens: TokenFactory
) -> None:
    server, app = live_documents
    headers = citizen(tokens)
    bodies = [pdf(100_000 + i, marker=os.urandom(8).hex().encode()) for i in range(PARALLEL)]
    limits = httpx.Limits(max_connections=PARALLEL)

    async with httpx.AsyncClient(base_url=server.url, timeout=60, limits=limits) as client:

        async def round_trip(body: bytes) -> bytes:
            created = await client.post(
                appointment.upload_path(),
                content=body,
                headers=headers,
            )
            assert created.status_code == 201, created.text
            assert created.json()["sha256"] == hashlib.sha256(body).hexdigest()
            downloaded = await client.get(
                f"/documents/v1/documents/{created.json()['id']}/content", headers=headers
            )
            assert downloaded.status_code == 200
            return downloaded.content

        results = await asyncio.gather(*(round_trip(body) for body in bodies))
        too_big = await asyncio.gather(
            *(
                client.post(
                    appointment.upload_path(),
                    content=b"%PDF-1.7\n" + b"0" * (300 * 1024),
                    headers=headers,
                )
                for _ in range(PARALLEL)
            )
        )
        listed = await client.get(appointment.documents_path, headers=headers)

    assert results == bodies
    assert {r.status_code for r in too_big} == {413}
    assert len(listed.json()["items"][0]["documents"]) == PARALLEL
    assert len(await app.state.blob_store.list_ids()) == PARALLEL
    assert await app.state.blob_store.list_partials() == []


def _send_endless_chunked_upload(url: str, path: str, token: str) -> tuple[bytes, int]:
    """Like a careful client (curl): keeps sending chunks while watching for an early answer.

    Returns what the server answered and how many body bytes went out before it did.
    """
    host, port = url.removeprefix("http://").split(":")
    chunk = b"0" * 65536
    sent = 0
    answer = b""
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\n".encode()
            + f"Host: {host}\r\nAuthorization: Bearer {token}\r\n".encode()
            + b"Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
            + b"9\r\n%PDF-1.7\n\r\n"
        )
        while sent < 1024 * 1024 * 1024:  # 1 GiB: far more than anyone should accept
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            try:
                sock.sendall(b"10000\r\n" + chunk + b"\r\n")
            except OSError:
                break
            sent += len(chunk)
        try:
            while data := sock.recv(65536):
                answer += data
        except OSError:
            pass
    return answer, sent


async def test_endless_chunked_body_is_cut_off_by_the_real_server_with_413(
    live_documents: tuple[LiveServer, FastAPI], appointment: Appointment, tokens: TokenFactory
) -> None:
    server, app = live_documents
    token = tokens.issue(sub="citizen-1", tenant="06999001", roles=["citizen"])

    answer, sent = await asyncio.to_thread(
        _send_endless_chunked_upload, server.url, appointment.upload_path(), token
    )

    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert b"content-type: application/problem+json" in head.lower()
    assert b"connection: close" in head.lower()
    assert b"urn:rathaus:problem:upload-too-large" in body
    assert sent < 64 * 1024 * 1024  # stopped near the 256 KiB limit, not at 1 GiB
    assert await app.state.blob_store.list_ids() == []
    assert await app.state.blob_store.list_partials() == []


async def test_a_stalled_upload_holds_no_database_lock_against_others(
    live_documents: tuple[LiveServer, FastAPI], appointment: Appointment, tokens: TokenFactory
) -> None:
    server, _app = live_documents
    headers = citizen(tokens)
    other_done = asyncio.Event()

    async def stalled_body() -> AsyncIterator[bytes]:
        data = pdf(40_000)
        yield data[:20_000]
        await other_done.wait()  # the upload hangs mid-body until the other one finished
        yield data[20_000:]

    async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
        url = appointment.upload_path()
        stalled = asyncio.create_task(client.post(url, content=stalled_body(), headers=headers))
        await asyncio.sleep(0.3)
        other = await client.post(url, content=pdf(marker=b"quick"), headers=headers)
        listed = await client.get(appointment.documents_path, headers=headers)
        other_done.set()
        first = await stalled

    assert other.status_code == 201
    assert listed.status_code == 200
    assert first.status_code == 201
