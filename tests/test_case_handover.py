"""Handing a case to the responsible authority (FIT-Connect's model), between two complete
Rathaus instances on loopback: the home municipality (the demo seed) and a neighbour, each
with identity, booking, documents and gateway on databases of their own.

A clerk at home hands a booking with two accepted documents to the neighbour; everything
travels as JWE to the neighbour's published encryption key, with a token of the neighbour's
identity holding ``cases:handover``; the neighbour checks every hash, stores the case and
signs a receipt that home verifies. What a sender must not get away with (a tampered
ciphertext, the wrong key, a token without the scope, a replay, a partner URL into our own
network) is refused, and the neighbour keeps nothing of it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import hashlib
import importlib.util
import io
import json
import socket
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
import yaml
from fastapi import FastAPI, Request
from sqlalchemy import func, select

from documents.audit.models import AccessRecord
from documents.cases.envelope import (
    ATTACHMENT_MEDIA_TYPE,
    MANIFEST_MEDIA_TYPE,
    AttachmentEntry,
    Manifest,
    verify_receipt,
)
from documents.cases.models import ReceivedAttachment, ReceivedCase
from documents.events.models import CASE_RECEIVED, CASE_REJECTED, CASE_SENT
from servicekit.auth import jose_safe
from servicekit.db import create_engine
from servicekit.testing.live import run_live_server
from servicekit.testing.plugin import DatabaseRegistry
from tests.documents_booking.files import pdf
from tests.live_rathaus import (
    ADMIN,
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    CITIZEN,
    CLERK,
    TENANT,
    Neighbour,
    System,
    book_first_slot,
    start_neighbour,
    start_system,
)
from tests.repository.conftest import ROOT
from tests.repository.test_generated_client import generate

NEIGHBOUR = "06999002"
INSIDE = "06999003"
"""A partner registered under a name that leads into our own network."""
LEIKA = "99115001001000"
BIRTH_CERTIFICATE, PASSPORT = pdf(300_000, b"BIRTH"), pdf(1_500_000, b"PASSPORT")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ModuleType]:
    """The client a partner generates from documents' contract (openapi-python-client, with
    the configuration we publish): its case operations and types."""
    document = yaml.safe_load((ROOT / "contracts" / "documents" / "v1.yaml").read_text("utf-8"))
    output, _ = generate(document, tmp_path_factory.mktemp("generated"))
    name = f"generated_documents_{uuid.uuid4().hex[:8]}"
    spec = importlib.util.spec_from_file_location(
        name, output / "__init__.py", submodule_search_locations=[str(output)]
    )
    assert spec is not None
    assert spec.loader is not None
    package = importlib.util.module_from_spec(spec)
    sys.modules[name] = package
    spec.loader.exec_module(package)
    modules = {
        part: importlib.import_module(f"{name}.{part}")
        for part in ("client", "types", "api.cases.deliver_case", "api.cases.deliver_attachment")
    }
    return {part.rsplit(".", 1)[-1]: module for part, module in modules.items()}


@dataclass
class Municipalities:
    home: System
    neighbour: Neighbour
    http: httpx.AsyncClient
    """Home's gateway."""
    there: httpx.AsyncClient
    """The neighbour's gateway."""
    events: list[dict[str, Any]]
    """The case events both documents services delivered to their subscriber."""


async def _login(http: httpx.AsyncClient, credentials: dict[str, str]) -> dict[str, str]:
    response = await http.post("/identity/v1/auth/login", json=credentials)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _subject(headers: dict[str, str]) -> str:
    payload = headers["Authorization"].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return str(claims["sub"])


def _clamd_module() -> ModuleType:
    """documents' test clamd (services/documents/tests/clamd.py), by its path: the two test
    packages are both named ``tests``."""
    path = ROOT / "services" / "documents" / "tests" / "clamd.py"
    spec = importlib.util.spec_from_file_location("documents_test_clamd", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CLAMD = _clamd_module()


@pytest.fixture
async def municipalities(
    database_registry: DatabaseRegistry,
    db_backend: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> AsyncIterator[Municipalities]:
    async with _two_municipalities(database_registry, db_backend, tmp_path, capsys, {}) as m:
        yield m


@pytest.fixture
def neighbours_clamd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real clamd (Debian's clamav-daemon, the repository's test signature) for the
    neighbour, which the test may stop and start again."""
    server = CLAMD.Clamd(tmp_path_factory.mktemp("clamd"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def scanning_neighbour(
    database_registry: DatabaseRegistry,
    db_backend: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    neighbours_clamd: Any,
) -> AsyncIterator[Municipalities]:
    """Home and a neighbour whose documents scans what it receives with ``neighbours_clamd``."""
    async with _two_municipalities(
        database_registry, db_backend, tmp_path, capsys, neighbours_clamd.settings()
    ) as m:
        yield m


@contextlib.asynccontextmanager
async def _two_municipalities(
    database_registry: DatabaseRegistry,
    db_backend: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    neighbours_documents: dict[str, Any],
) -> AsyncIterator[Municipalities]:
    events: list[dict[str, Any]] = []
    subscriber = FastAPI()

    @subscriber.post("/events")
    async def receive(request: Request) -> dict[str, str]:
        events.append(json.loads(await request.body()))
        return {}

    listener = run_live_server(subscriber)
    subscribed = {
        "events_dispatch_interval_s": 0.1,
        "events_subscribers": [
            {
                "name": "fachverfahren",
                "url": f"{listener.url}/events",
                "secret": "s" * 32,
                "types": [CASE_SENT, CASE_RECEIVED, CASE_REJECTED],
            }
        ],
    }
    home = await start_system(
        database_registry,
        db_backend,
        tmp_path / "home",
        # As in production: documents calls no address of our own networks but the
        # neighbour's (here on loopback), named in the allow-list.
        overrides={
            "documents": {
                "outbound_allowed_networks": [],
                "outbound_allowed_hosts": ["127.0.0.1"],
                **subscribed,
            }
        },
    )
    capsys.readouterr()  # the seeds print demo credentials
    neighbour: Neighbour | None = None
    try:
        neighbour = await start_neighbour(
            database_registry,
            db_backend,
            tmp_path / "neighbour",
            NEIGHBOUR,
            # Received cases are due for deletion as soon as they are decided.
            overrides={"documents": {"retention_days": 0, **subscribed, **neighbours_documents}},
        )
        async with (
            httpx.AsyncClient(base_url=home.gateway, timeout=60) as http,
            httpx.AsyncClient(base_url=neighbour.gateway, timeout=60) as there,
        ):
            admin = await _login(http, ADMIN)
            credentials = {
                "issuer": neighbour.issuer,
                "client_id": neighbour.client_id,
                "client_secret": neighbour.client_secret,
                "scopes": ["booking:search", "cases:handover"],
            }
            for ags, name, url in (
                (NEIGHBOUR, "Nachbarstadt", neighbour.gateway),
                # This machine's own name leads to one of its own addresses.
                (INSIDE, "Innen", neighbour.gateway.replace("127.0.0.1", socket.gethostname())),
            ):
                registered = await http.put(
                    f"/booking/v1/tenants/{TENANT}/partners/{ags}",
                    json={"name": name, "base_url": url, "credentials": credentials},
                    headers=admin,
                )
                assert registered.status_code == 200, registered.text
            yield Municipalities(home, neighbour, http, there, events)
    finally:
        if neighbour is not None:
            neighbour.stop()
        home.stop()
        listener.stop()


async def _booking_with_documents(
    m: Municipalities, files: tuple[bytes, ...]
) -> tuple[str, dict[str, str], list[dict[str, Any]]]:
    """A citizen's booking of the ID card service with ``files`` accepted by a clerk of its
    office: (booking id, the clerk's headers, the documents)."""
    http = m.http
    citizen, clerk, admin = [await _login(http, c) for c in (CITIZEN, CLERK, ADMIN)]
    office = (await http.get(f"/booking/v1/tenants/{TENANT}/offices")).json()["items"][0]
    staffed = await http.put(
        f"/booking/v1/tenants/{TENANT}/offices/{office['id']}/staff/{_subject(clerk)}",
        headers=admin,
    )
    assert staffed.status_code in {200, 201, 204}, staffed.text
    with httpx.Client(base_url=m.home.gateway, timeout=60) as gateway:
        booking_id, _ = await asyncio.to_thread(book_first_slot, gateway, citizen, leika=LEIKA)
    checklist = (
        await http.get(f"/booking/v1/bookings/{booking_id}/checklist", headers=citizen)
    ).json()["items"]
    # The items that take a PDF (the ID card's, which names no format, and the certificate).
    items = [i["id"] for i in checklist if not any("/" in f for f in i["accepted_formats"])]
    items += [i["id"] for i in checklist if "application/pdf" in i["accepted_formats"]]
    documents = []
    for item, content in zip(items, files, strict=False):
        upload = await http.post(
            f"/documents/v1/bookings/{booking_id}/items/{item}/documents",
            content=content,
            headers={**citizen, "content-type": "application/pdf"},
        )
        assert upload.status_code == 201, upload.text
        reviewed = await http.post(
            f"/documents/v1/documents/{upload.json()['id']}/review",
            json={"decision": "accepted"},
            headers=clerk,
        )
        assert reviewed.status_code == 200, reviewed.text
        documents.append(upload.json())
    assert len(documents) == len(files)
    return booking_id, clerk, documents


async def _stored(neighbour: Neighbour) -> tuple[int, int, int]:
    """What the neighbour's documents holds of received cases: (cases not rejected,
    attachments, blobs on disk)."""
    engine = create_engine(neighbour.database_urls["documents"])
    try:
        async with engine.connect() as connection:
            cases = await connection.scalar(
                select(func.count())
                .select_from(ReceivedCase)
                .where(ReceivedCase.status != "rejected")
            )
            attachments = await connection.scalar(
                select(func.count()).select_from(ReceivedAttachment)
            )
    finally:
        await engine.dispose()
    blobs = (
        [p for p in neighbour.blob_dir.rglob("*") if p.is_file()]
        if neighbour.blob_dir.exists()
        else []
    )
    return int(cases or 0), int(attachments or 0), len(blobs)


async def _access_log(neighbour: Neighbour) -> list[tuple[str, str | None, str]]:
    """The neighbour's access log: (action, document, purpose) of each read, in order."""
    engine = create_engine(neighbour.database_urls["documents"])
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                select(AccessRecord.action, AccessRecord.document_id, AccessRecord.purpose)
                .where(AccessRecord.booking_id.like("case:%"))
                .order_by(AccessRecord.id)
            )
            return [(r.action, r.document_id, r.purpose) for r in rows]
    finally:
        await engine.dispose()


async def _partner_token(m: Municipalities, scope: str = "cases:handover") -> dict[str, str]:
    """A token of the client the neighbour registered for home, from the neighbour's identity."""
    answer = await m.there.post(
        "/identity/v1/oauth2/token",
        data={"grant_type": "client_credentials", "scope": scope},
        auth=(m.neighbour.client_id, m.neighbour.client_secret),
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


async def test_a_booking_with_two_documents_is_handed_over_and_received_whole(
    municipalities: Municipalities,
) -> None:
    m = municipalities
    booking_id, clerk, documents = await _booking_with_documents(m, (PASSPORT, BIRTH_CERTIFICATE))

    handed = await m.http.post(
        f"/documents/v1/bookings/{booking_id}/handovers", json={"to": NEIGHBOUR}, headers=clerk
    )
    assert handed.status_code == 200, handed.text
    case = handed.json()
    assert case["status"] == "received", case["reason"]
    assert case["attachments"] == 2
    assert case["size_bytes"] == len(PASSPORT) + len(BIRTH_CERTIFICATE)

    # The receipt is the neighbour's, signed with a key of its published hand-over JWKS.
    jwks = (await m.there.get("/documents/v1/cases/jwks")).json()
    [enc] = [k for k in jwks["keys"] if k["use"] == "enc"]
    assert enc["alg"] == "RSA-OAEP-256"
    assert "d" not in enc
    jose_safe.check_encryption_key(enc)  # RSA, 4096 bits
    claims = verify_receipt(case["receipt"], jwks, receiver=NEIGHBOUR, sender=TENANT)
    assert claims.status == "received"
    assert claims.sub == case["id"]
    assert claims.attachments == {d["id"]: d["sha256"] for d in documents}

    # The neighbour's administrator sees the case: the booking, the checklist, the documents.
    admin = await _login(
        m.there, {"tenant": NEIGHBOUR, "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    )
    received = await m.there.get(
        f"/documents/v1/tenants/{NEIGHBOUR}/cases/{case['id']}", headers=admin
    )
    assert received.status_code == 200, received.text
    there = received.json()
    assert there["status"] == "received"
    assert there["from_ags"] == TENANT
    assert there["leika"] == LEIKA
    assert there["booking"]["id"] == booking_id
    assert there["booking"]["contact"]["name"] == "Erika Mustermann"
    assert there["checklist"]
    by_sha = {hashlib.sha256(f).hexdigest(): f for f in (PASSPORT, BIRTH_CERTIFICATE)}
    assert {a["sha256"] for a in there["attachments"]} == set(by_sha)
    for attachment in there["attachments"]:
        content = await m.there.get(
            f"/documents/v1/tenants/{NEIGHBOUR}/cases/{case['id']}/attachments/{attachment['id']}",
            params={"purpose": "Prüfung der Zuständigkeit"},
            headers=admin,
        )
        assert content.status_code == 200, content.text
        assert content.content == by_sha[attachment["sha256"]]
    # Each read is in the neighbour's access log, as a read of one of its own documents is.
    logged = await _access_log(m.neighbour)
    assert logged[0] == ("metadata", None, "reading a case handed over by a partner municipality")
    assert sorted(logged[1:]) == sorted(
        ("download", a["id"], "Prüfung der Zuständigkeit") for a in there["attachments"]
    )
    # At rest the neighbour keeps ciphertext only.
    blobs = [p.read_bytes() for p in m.neighbour.blob_dir.rglob("*") if p.is_file()]
    assert len(blobs) == 2
    assert not any(b"PASSPORT" in blob or b"BIRTH" in blob for blob in blobs)

    # Both sides list it; another municipality's staff get nothing.
    sent = await m.http.get(f"/documents/v1/tenants/{TENANT}/handovers", headers=clerk)
    assert [c["id"] for c in sent.json()["items"]] == [case["id"]]
    listed = await m.there.get(f"/documents/v1/tenants/{NEIGHBOUR}/cases", headers=admin)
    assert [c["id"] for c in listed.json()["items"]] == [case["id"]]
    foreign = await m.there.get(f"/documents/v1/tenants/{TENANT}/cases", headers=admin)
    assert foreign.status_code == 404  # another municipality: not found, never forbidden

    # Handing it over again is the same case, answered as it stands: nothing is sent twice.
    again = await m.http.post(
        f"/documents/v1/bookings/{booking_id}/handovers", json={"to": NEIGHBOUR}, headers=clerk
    )
    assert again.status_code == 200, again.text
    assert again.json()["id"] == case["id"]
    assert again.json()["status"] == "received"
    assert await _stored(m.neighbour) == (1, 2, 2)

    # Both sides told their subscribers (at least once; by event id, once).
    expected = {
        (CASE_SENT, TENANT, "outgoing", "sending"),
        (CASE_RECEIVED, TENANT, "outgoing", "received"),
        (CASE_RECEIVED, NEIGHBOUR, "incoming", "received"),
    }
    for _ in range(200):
        told = {
            (e["type"], e["tenant"], e["data"]["direction"], e["data"]["status"])
            for e in m.events
            if e["subject"] == case["id"]
        }
        if told >= expected:
            break
        await asyncio.sleep(0.05)
    assert told == expected
    assert all("Erika" not in json.dumps(e) for e in m.events)

    # Retention: the neighbour deletes the case with its documents when its time is up.
    purged = await m.there.post("/documents/v1/retention/purge", headers=admin)
    assert purged.status_code == 200, purged.text
    assert await _stored(m.neighbour) == (0, 0, 0)
    gone = await m.there.get(f"/documents/v1/tenants/{NEIGHBOUR}/cases/{case['id']}", headers=admin)
    assert gone.status_code == 404


async def test_a_partner_url_into_our_own_network_is_not_called_for_a_handover(
    municipalities: Municipalities,
) -> None:
    m = municipalities
    booking_id, clerk, _ = await _booking_with_documents(m, (BIRTH_CERTIFICATE,))
    refused = await m.http.post(
        f"/documents/v1/bookings/{booking_id}/handovers", json={"to": INSIDE}, headers=clerk
    )
    assert refused.status_code == 503, refused.text
    assert refused.json()["type"] == "urn:rathaus:problem:partner-unavailable"
    [stuck] = (await m.http.get(f"/documents/v1/tenants/{TENANT}/handovers", headers=clerk)).json()[
        "items"
    ]
    assert stuck["status"] == "sending"
    assert "loopback address, which is not called" in stuck["reason"]
    assert await _stored(m.neighbour) == (0, 0, 0)
    # A private address is refused when the partner is registered.
    admin = await _login(m.http, ADMIN)
    private = await m.http.put(
        f"/booking/v1/tenants/{TENANT}/partners/{INSIDE}",
        json={"name": "Innen", "base_url": "http://10.1.2.3"},
        headers=admin,
    )
    assert private.status_code == 422, private.text


def _pdf_entry(name: str, content: bytes) -> AttachmentEntry:
    """A manifest's entry of the one PDF ``content`` of a case (for the first checklist item)."""
    return AttachmentEntry(
        id="a1",
        checklist_item_id="item-1",
        name=name,
        media_type="application/pdf",
        size_bytes=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
    )


def _manifest(case_id: str, attachments: list[AttachmentEntry]) -> bytes:
    return (
        Manifest(
            case_id=case_id,
            from_ags=TENANT,
            to_ags=NEIGHBOUR,
            leika=LEIKA,
            sent_at=datetime.now(UTC),
            booking={"id": str(uuid.uuid4())},
            checklist=[],
            attachments=attachments,
        )
        .model_dump_json()
        .encode()
    )


def _pieces(content: bytes, key: dict[str, Any], size: int = 100_000) -> bytes:
    return b"".join(
        jose_safe.encrypt(content[i : i + size], key) + b"\n" for i in range(0, len(content), size)
    )


async def test_what_a_sender_must_not_get_away_with_is_refused_and_nothing_kept(
    municipalities: Municipalities, generated: dict[str, ModuleType]
) -> None:
    m = municipalities
    jwks = (await m.there.get("/documents/v1/cases/jwks")).json()
    [key] = [k for k in jwks["keys"] if k["use"] == "enc"]
    token = await _partner_token(m)
    entry = _pdf_entry("geburtsurkunde.pdf", BIRTH_CERTIFICATE)
    cases = f"/documents/v1/tenants/{NEIGHBOUR}/cases"
    jose = {"Content-Type": MANIFEST_MEDIA_TYPE}
    stream = {"Content-Type": ATTACHMENT_MEDIA_TYPE}

    # Without the scope: 403 before anything is read.
    case_id = uuid.uuid4().hex
    search_only = await _partner_token(m, "booking:search")
    no_scope = await m.there.put(
        f"{cases}/{case_id}",
        content=jose_safe.encrypt(_manifest(case_id, [entry]), key),
        headers={**search_only, **jose},
    )
    assert no_scope.status_code == 403, no_scope.text
    without = await m.there.put(f"{cases}/{case_id}", content=b"x", headers=jose)
    assert without.status_code == 401, without.text

    # Encrypted to another key under the neighbour's kid: it does not decrypt.
    other = {**jose_safe.public_jwk(jose_safe.generate_encryption_jwk()), "kid": key["kid"]}
    wrong_key = await m.there.put(
        f"{cases}/{case_id}",
        content=jose_safe.encrypt(_manifest(case_id, [entry]), other),
        headers={**token, **jose},
    )
    assert wrong_key.status_code == 400, wrong_key.text
    assert wrong_key.json()["type"] == "urn:rathaus:problem:case-undecryptable"
    assert await _stored(m.neighbour) == (0, 0, 0)

    # A ciphertext altered on the way: the case is rejected, with a signed reason.
    announced = await m.there.put(
        f"{cases}/{case_id}",
        content=jose_safe.encrypt(_manifest(case_id, [entry]), key),
        headers={**token, **jose},
    )
    assert announced.status_code == 202, announced.text
    assert announced.json()["missing"] == ["a1"]
    pieces = bytearray(_pieces(BIRTH_CERTIFICATE, key))
    middle = len(pieces) // 2
    pieces[middle] = ord("A") if pieces[middle] != ord("A") else ord("B")
    tampered = await m.there.put(
        f"{cases}/{case_id}/attachments/a1", content=bytes(pieces), headers={**token, **stream}
    )
    assert tampered.status_code == 422, tampered.text
    assert tampered.json()["type"] == "urn:rathaus:problem:case-rejected"
    rejection = verify_receipt(
        tampered.json()["rejection"], jwks, receiver=NEIGHBOUR, sender=TENANT
    )
    assert rejection.status == "rejected"
    assert rejection.sub == case_id
    assert await _stored(m.neighbour) == (0, 0, 0)
    # Delivering it again, now whole, does not revive a rejected case.
    late = await m.there.put(
        f"{cases}/{case_id}/attachments/a1",
        content=_pieces(BIRTH_CERTIFICATE, key),
        headers={**token, **stream},
    )
    assert late.status_code == 422, late.text
    assert await _stored(m.neighbour) == (0, 0, 0)

    # A whole case, delivered as a partner would, with the client generated from our
    # contract; then its manifest replayed under another case id: refused.
    client = generated["client"].AuthenticatedClient(
        base_url=m.neighbour.gateway, token=token["Authorization"].removeprefix("Bearer ")
    )
    file = generated["types"].File

    async def deliver(case: str, content: bytes, attachment: str | None = None) -> Any:
        # The generated client's synchronous face (its file bodies are file objects), off
        # this event loop.
        if attachment is None:
            call = functools.partial(generated["deliver_case"].sync_detailed, NEIGHBOUR, case)
        else:
            call = functools.partial(
                generated["deliver_attachment"].sync_detailed, NEIGHBOUR, case, attachment
            )
        body = file(payload=io.BytesIO(content))
        return await asyncio.to_thread(call, client=client, body=body)

    whole = uuid.uuid4().hex
    manifest = jose_safe.encrypt(_manifest(whole, [entry]), key)
    first = await deliver(whole, manifest)
    assert first.status_code == 202, first.content
    assert first.parsed.missing == ["a1"]
    done = await deliver(whole, _pieces(BIRTH_CERTIFICATE, key), "a1")
    assert done.status_code == 200, done.content
    receipt = done.parsed.receipt
    assert verify_receipt(receipt, jwks, receiver=NEIGHBOUR, sender=TENANT).status == "received"
    replayed = await deliver(uuid.uuid4().hex, manifest)
    assert replayed.status_code == 422, replayed.content
    assert json.loads(replayed.content)["type"] == "urn:rathaus:problem:case-manifest-invalid"
    # The same delivery again is answered with the same receipt and stores nothing more.
    for again in (
        await deliver(whole, manifest),
        await deliver(whole, _pieces(BIRTH_CERTIFICATE, key), "a1"),
    ):
        assert again.status_code == 200, again.content
        assert again.parsed.receipt == receipt
    client.get_httpx_client().close()
    assert await _stored(m.neighbour) == (1, 1, 1)


@pytest.mark.slow  # two Rathaus instances and a clamd of its own
async def test_the_receivers_clamd_rejects_malware_and_a_broken_off_handover_resumes(
    scanning_neighbour: Municipalities, neighbours_clamd: Any
) -> None:
    m = scanning_neighbour
    jwks = (await m.there.get("/documents/v1/cases/jwks")).json()
    [key] = [k for k in jwks["keys"] if k["use"] == "enc"]
    token = await _partner_token(m)
    cases = f"/documents/v1/tenants/{NEIGHBOUR}/cases"

    # An infected attachment, delivered as a partner would: rejected with the reason, signed.
    infected = pdf(50_000, CLAMD.EICAR)
    entry = _pdf_entry("anlage.pdf", infected)
    case_id = uuid.uuid4().hex
    announced = await m.there.put(
        f"{cases}/{case_id}",
        content=jose_safe.encrypt(_manifest(case_id, [entry]), key),
        headers={**token, "Content-Type": MANIFEST_MEDIA_TYPE},
    )
    assert announced.status_code == 202, announced.text
    refused = await m.there.put(
        f"{cases}/{case_id}/attachments/a1",
        content=_pieces(infected, key),
        headers={**token, "Content-Type": ATTACHMENT_MEDIA_TYPE},
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["type"] == "urn:rathaus:problem:case-rejected"
    rejection = verify_receipt(refused.json()["rejection"], jwks, receiver=NEIGHBOUR, sender=TENANT)
    assert rejection.status == "rejected"
    assert rejection.reason == "attachment a1: malware found"
    assert await _stored(m.neighbour) == (0, 0, 0)

    # The neighbour's scanner is away: its documents took the manifest, refuses the document
    # (503), and the case stays sending at home with the reason.
    booking_id, clerk, documents = await _booking_with_documents(m, (BIRTH_CERTIFICATE,))
    handovers = f"/documents/v1/bookings/{booking_id}/handovers"
    neighbours_clamd.stop()
    try:
        broken = await m.http.post(handovers, json={"to": NEIGHBOUR}, headers=clerk)
    finally:
        neighbours_clamd.start()
    assert broken.status_code == 503, broken.text
    [first] = (
        await m.http.get(
            f"/documents/v1/tenants/{TENANT}/handovers",
            params={"booking_id": booking_id},
            headers=clerk,
        )
    ).json()["items"]
    assert first["status"] == "sending"
    assert "503" in first["reason"]

    # The citizen adds a document that the clerk accepts: the case broken off is not resumed
    # with other documents (the neighbour holds its manifest) but closed as superseded, and
    # the booking handed over anew, received whole.
    citizen = await _login(m.http, CITIZEN)
    later = pdf(40_000, b"LATER")
    added = await m.http.post(
        f"/documents/v1/bookings/{booking_id}/items/{documents[0]['checklist_item_id']}/documents",
        content=later,
        headers={**citizen, "content-type": "application/pdf"},
    )
    assert added.status_code == 201, added.text
    accepted = await m.http.post(
        f"/documents/v1/documents/{added.json()['id']}/review",
        json={"decision": "accepted"},
        headers=clerk,
    )
    assert accepted.status_code == 200, accepted.text
    handed = await m.http.post(handovers, json={"to": NEIGHBOUR}, headers=clerk)
    assert handed.status_code == 200, handed.text
    second = handed.json()
    assert second["id"] != first["id"]
    assert second["status"] == "received", second["reason"]
    assert second["attachments"] == 2
    listed = (
        await m.http.get(
            f"/documents/v1/tenants/{TENANT}/handovers",
            params={"booking_id": booking_id},
            headers=clerk,
        )
    ).json()["items"]
    superseded = next(c for c in listed if c["id"] == first["id"])
    assert superseded["status"] == "rejected"
    assert superseded["reason"].startswith("superseded:")

    # Broken off with the documents unchanged: resumed as the same case, with the manifest
    # first sent, which the neighbour recognises.
    other, clerk, _ = await _booking_with_documents(m, (BIRTH_CERTIFICATE,))
    neighbours_clamd.stop()
    try:
        broken = await m.http.post(
            f"/documents/v1/bookings/{other}/handovers", json={"to": NEIGHBOUR}, headers=clerk
        )
    finally:
        neighbours_clamd.start()
    assert broken.status_code == 503, broken.text
    resumed = await m.http.post(
        f"/documents/v1/bookings/{other}/handovers", json={"to": NEIGHBOUR}, headers=clerk
    )
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["status"] == "received", resumed.json()["reason"]
    [only] = (
        await m.http.get(
            f"/documents/v1/tenants/{TENANT}/handovers",
            params={"booking_id": other},
            headers=clerk,
        )
    ).json()["items"]
    assert only["id"] == resumed.json()["id"]
    # The neighbour holds the two cases received (three documents) and, still receiving, the
    # superseded one's manifest: no message tells a receiver that a sender gave a case up.
    assert await _stored(m.neighbour) == (3, 3, 3)
