"""Retention purge (endpoint, idempotent, concurrent), KEK rotation and the S3 backend."""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from documents.cases.keys import CaseKeyRotationConflict, CaseKeys
from documents.cases.models import KeyUse
from documents.cases.repository import CaseKeyRepository
from documents.cli import _maintain
from documents.crypto.keys import KeyRing
from documents.retention.service import Retention
from documents.settings import DocumentsSettings, StorageBackend
from documents.storage.factory import blob_store_from
from documents.uploads.models import Document
from servicekit.db import Database
from servicekit.settings import Environment
from servicekit.testing.tokens import TokenFactory
from tests.documents_booking.live_booking import Appointment, LiveBooking

from ..factories import (
    admin,
    chunks,
    citizen,
    create_document,
    new_kek,
    pdf,
    rows,
    settings_for_tests,
)


def settings(database_url: str, tmp_path: Path, **overrides: Any) -> DocumentsSettings:
    """The tests' settings with blobs under ``tmp_path`` and a retention of 30 days."""
    return settings_for_tests(
        database_url, **{"blob_dir": tmp_path / "blobs", "retention_days": 30, **overrides}
    )


async def test_purge_endpoint_deletes_expired_documents_of_the_admins_tenant_once(
    client: httpx.AsyncClient,
    app: FastAPI,
    appointment: Appointment,
    live_booking: LiveBooking,
    tokens: TokenFactory,
) -> None:
    owner = citizen(tokens)
    long_ago = await live_booking.book(owner)
    await live_booking.move_into_past(long_ago, days=200)
    old = await client.post(long_ago.upload_path(), content=pdf(marker=b"old"), headers=owner)
    recent = await client.post(appointment.upload_path(), content=pdf(marker=b"new"), headers=owner)
    assert old.status_code == recent.status_code == 201
    other_admin = admin(tokens, "admin-2", tenant="05315000")

    by_other_tenant = await client.post("/documents/v1/retention/purge", headers=other_admin)
    first = await client.post("/documents/v1/retention/purge", headers=admin(tokens))
    second = await client.post("/documents/v1/retention/purge", headers=admin(tokens))
    by_citizen = await client.post("/documents/v1/retention/purge", headers=owner)

    assert by_other_tenant.json() == {"purged": 0}
    assert first.json() == {"purged": 1}
    assert second.json() == {"purged": 0}
    assert by_citizen.status_code == 403
    assert len(await app.state.blob_store.list_ids()) == 1
    gone = await client.get(f"/documents/v1/documents/{old.json()['id']}", headers=owner)
    kept = await client.get(f"/documents/v1/documents/{recent.json()['id']}", headers=owner)
    assert gone.status_code == 404
    assert kept.status_code == 200


async def test_erasure_deletes_the_documents_of_the_named_bookings_of_the_admins_tenant(
    client: httpx.AsyncClient,
    app: FastAPI,
    appointment: Appointment,
    live_booking: LiveBooking,
    tokens: TokenFactory,
) -> None:
    owner = live_booking.citizen
    other_citizen = citizen(tokens, "citizen-2")
    second = await live_booking.book(owner)
    theirs = await live_booking.book(other_citizen)
    uploads = [
        await client.post(booked.upload_path(), content=pdf(), headers=headers)
        for booked, headers in (
            (appointment, owner),
            (appointment, owner),
            (second, owner),
            (theirs, other_citizen),
        )
    ]
    assert [u.status_code for u in uploads] == [201] * 4
    url = "/documents/v1/tenants/06999001/erasures"
    request = {"booking_ids": [appointment.booking_id, second.booking_id]}
    by_other_tenant = await client.post(
        url, json=request, headers=admin(tokens, "a", tenant="05315000")
    )
    by_citizen = await client.post(url, json=request, headers=owner)
    empty = await client.post(url, json={"booking_ids": []}, headers=admin(tokens))
    first = await client.post(url, json=request, headers=admin(tokens))
    again = await client.post(url, json=request, headers=admin(tokens))

    assert by_other_tenant.status_code == 404  # another municipality's: not found
    assert by_citizen.status_code == 403
    assert empty.status_code == 422
    assert first.status_code == 200, first.text
    assert first.json() == {"deleted": 3}
    assert again.json() == {"deleted": 0}
    assert len(await app.state.blob_store.list_ids()) == 1
    kept = await client.get(
        f"/documents/v1/documents/{uploads[3].json()['id']}", headers=other_citizen
    )
    gone = await client.get(f"/documents/v1/documents/{uploads[0].json()['id']}", headers=owner)
    assert kept.status_code == 200
    assert gone.status_code == 404
    await live_booking.cancel(second)
    await live_booking.cancel(theirs)


async def test_concurrent_purges_delete_each_document_exactly_once(
    fresh_database_url: str, tmp_path: Path
) -> None:
    config = settings(fresh_database_url, tmp_path, tenant_retention_days={"05315000": 400})
    blobs, keys = blob_store_from(config), config.key_ring()
    databases = [Database(fresh_database_url, pool_size=2) for _ in range(3)]
    long_ago = datetime.now(UTC) - timedelta(days=100)
    try:
        for _ in range(25):
            await create_document(databases[0], blobs, keys, appointment_at=long_ago)
        kept = await create_document(
            databases[0], blobs, keys, appointment_at=long_ago, tenant="05315000"
        )
        await create_document(databases[0], blobs, keys, appointment_at=datetime.now(UTC))

        results = await asyncio.gather(
            *(
                Retention(db.sessionmaker, blobs, config).purge_expired(now=datetime.now(UTC))
                for db in databases
            )
        )

        assert sum(results) == 25
        async with databases[0].sessionmaker() as session:
            assert await rows(session, Document) == 2
        remaining = await blobs.list_ids()
        assert len(remaining) == 2
        assert kept.blob_id in remaining
    finally:
        for db in databases:
            await db.dispose()


async def test_rewrap_moves_keys_to_the_new_kek_and_old_documents_stay_readable(
    fresh_database_url: str, tmp_path: Path
) -> None:
    old_key, new_key = new_kek(), new_kek()
    before = settings(
        fresh_database_url, tmp_path, keks={"2026-01": old_key}, active_kek_id="2026-01"
    )
    blobs = blob_store_from(before)
    database = Database(fresh_database_url)
    try:
        document = await create_document(
            database,
            blobs,
            before.key_ring(),
            appointment_at=datetime.now(UTC),
            plaintext=b"%PDF-1.7 secret",
        )
        rotated = settings(
            fresh_database_url,
            tmp_path,
            keks={"2026-01": old_key, "2026-07": new_key},
            active_kek_id="2026-07",
        )

        first = await _maintain("rewrap", rotated, None)
        second = await _maintain("rewrap", rotated, None)

        assert first == "rewrapped 1 data keys under 2026-07"
        assert second == "rewrapped 0 data keys under 2026-07"
        async with database.sessionmaker() as session:
            stored = await session.get(Document, document.id)
        assert stored is not None
        assert stored.kek_id == "2026-07"
        only_new = KeyRing({"2026-07": base64.b64decode(new_key)}, "2026-07")
        from documents.crypto.keys import WrappedKey
        from documents.crypto.stream import decrypt_stream

        data_key = only_new.unwrap(WrappedKey("2026-07", stored.wrapped_key), stored.id)
        plaintext = b"".join(
            [c async for c in decrypt_stream(data_key, blobs.read(stored.blob_id))]
        )
        assert plaintext == b"%PDF-1.7 secret"
    finally:
        await database.dispose()


def test_development_kek_is_refused_in_production() -> None:
    with pytest.raises(ValueError, match="development key-encryption key"):
        DocumentsSettings(
            environment=Environment.PRODUCTION, database_url="postgresql+asyncpg://db/documents"
        )


def test_production_with_its_own_kek_is_accepted() -> None:
    configured = DocumentsSettings.model_validate(
        {
            "environment": Environment.PRODUCTION,
            "database_url": "postgresql+asyncpg://db/documents",
            "keks": {"2026-11": new_kek()},
            "active_kek_id": "2026-11",
            "clamd_host": "clamd",
        }
    )

    assert configured.key_ring().active_id == "2026-11"


@pytest.mark.parametrize("bad", [{"k": "c2hvcnQ="}, {}])
def test_keks_must_be_aes_256(bad: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="key"):
        DocumentsSettings.model_validate({"keks": bad, "active_kek_id": "k"})


async def test_upload_and_download_through_s3(
    s3_endpoint: str,
    fresh_database_url: str,
    tmp_path: Path,
    appointment: Appointment,
    live_booking: LiveBooking,
    tokens: TokenFactory,
) -> None:
    from documents.main import create_app

    config = settings(
        fresh_database_url,
        tmp_path,
        storage_backend=StorageBackend.S3,
        s3_endpoint_url=s3_endpoint,
        s3_bucket=f"docs-{os.urandom(4).hex()}",
        s3_access_key_id="testing",
        s3_secret_access_key="testing",
        s3_create_bucket=True,
        max_upload_bytes=400_000,
        booking_url=live_booking.url,
    )
    app = create_app(config)
    tokens.trust(app)
    headers = citizen(tokens)
    data = pdf(300_000, marker=b"CANARY-S3")
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            created = await client.post(
                appointment.upload_path(),
                content=data,
                headers=headers,
            )
            assert created.status_code == 201, created.text
            downloaded = await client.get(
                f"/documents/v1/documents/{created.json()['id']}/content", headers=headers
            )
            refused = await client.post(
                appointment.upload_path(),
                content=b"<?php echo 1; ?>",
                headers=headers,
            )

            async def oversized() -> AsyncIterator[bytes]:
                yield b"%PDF-1.7\n"
                for _ in range(10):
                    yield os.urandom(100_000)

            too_big = await client.post(
                appointment.upload_path(),
                content=oversized(),
                headers=headers,
            )
        assert downloaded.content == data
        assert refused.status_code == 415
        assert too_big.status_code == 413
        blobs = app.state.blob_store
        [blob_id] = await blobs.list_ids()
        stored = b"".join([c async for c in blobs.read(blob_id)])
        assert b"CANARY-S3" not in stored
    finally:
        await app.state.booking_client.aclose()
        await app.state.blob_store.close()
        await app.state.database.dispose()


async def test_orphaned_blobs_are_swept_but_young_and_known_ones_stay(
    fresh_database_url: str, tmp_path: Path
) -> None:
    config = settings(fresh_database_url, tmp_path)
    blobs = blob_store_from(config)
    database = Database(fresh_database_url)
    retention = Retention(database.sessionmaker, blobs, config)
    try:
        known = await create_document(
            database, blobs, config.key_ring(), appointment_at=datetime.now(UTC)
        )
        orphan = secrets.token_urlsafe(24)
        await blobs.write(orphan, chunks(b"ciphertext of a failed upload"))

        now = datetime.now(UTC)
        young = await retention.sweep_orphans(now=now)
        old = await retention.sweep_orphans(now=now + timedelta(hours=2))

        assert young == 0
        assert old == 1
        assert await blobs.list_ids() == [known.blob_id]
    finally:
        await database.dispose()


@pytest.mark.slow  # two RSA-4096 keys are made
async def test_retiring_case_keys_unpublishes_the_passive_ones_and_never_the_active(
    fresh_database_url: str, tmp_path: Path
) -> None:
    configured = settings(fresh_database_url, tmp_path)
    assert await _maintain("retire-case-keys", configured, None) == (
        "no passive hand-over keys to retire"
    )
    await _maintain("rotate-case-keys", configured, None)  # the first keys: nothing passive
    await _maintain("rotate-case-keys", configured, None)  # the first ones become passive
    database = Database(fresh_database_url)
    try:

        async def published() -> dict[str, str]:
            async with database.sessionmaker() as session:
                keys = await CaseKeyRepository(session).published()
            return {key.kid: key.state for key in keys}

        before = await published()
        assert sorted(before.values()) == ["active", "active", "passive", "passive"]
        passive = {kid for kid, state in before.items() if state == "passive"}

        report = await _maintain("retire-case-keys", configured, None)

        assert report.startswith("retired hand-over keys: ")
        assert all(kid in report for kid in passive)
        after = await published()
        assert after == {kid: "active" for kid in set(before) - passive}
        async with database.sessionmaker() as session, session.begin():
            case_keys = CaseKeys(CaseKeyRepository(session), configured.key_ring())
            assert set(await case_keys.decryption_keys()) <= set(after)
            active = await case_keys.active(KeyUse.ENCRYPTION)
            with pytest.raises(CaseKeyRotationConflict):
                await case_keys.retire(active.kid)
        assert await published() == after
        assert await _maintain("retire-case-keys", configured, None) == (
            "no passive hand-over keys to retire"
        )
    finally:
        await database.dispose()
