"""Real parallelism: a uvicorn server and concurrent clients, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib
import os

import httpx
from fastapi import FastAPI

from servicekit.testing.live import LiveServer
from servicekit.testing.tokens import TokenFactory

PARALLEL = 8


async def test_parallel_uploads_and_downloads_each_get_their_own_bytes(
    live_documents: tuple[LiveServer, FastAPI], tokens: TokenFactory
) -> None:
    server, app = live_documents
    headers = tokens.headers(sub="citizen-1", tenant="06999001", roles=["citizen"])
    bodies = [b"%PDF-1.7\n" + os.urandom(100_000 + i) for i in range(PARALLEL)]
    limits = httpx.Limits(max_connections=PARALLEL)

    async with httpx.AsyncClient(base_url=server.url, timeout=60, limits=limits) as client:

        async def round_trip(body: bytes) -> bytes:
            created = await client.post(
                "/documents/v1/bookings/bk-1/items/passport/documents",
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
                    "/documents/v1/bookings/bk-1/items/passport/documents",
                    content=b"%PDF-1.7\n" + b"0" * (300 * 1024),
                    headers=headers,
                )
                for _ in range(PARALLEL)
            )
        )
        listed = await client.get("/documents/v1/bookings/bk-1/documents", headers=headers)

    assert results == bodies
    assert {r.status_code for r in too_big} == {413}
    assert len(listed.json()["items"][0]["documents"]) == PARALLEL
    assert len(await app.state.components.blobs.list_ids()) == PARALLEL
    assert await app.state.components.blobs.list_partials() == []
