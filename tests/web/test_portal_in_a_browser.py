"""The reference web frontend (web/) in a real Chromium against a whole Rathaus on loopback.

Playwright (``playwright-core`` from web/node_modules) drives Debian's chromium; the journey is
keyboard only, axe-core checks every page (no serious or critical violation), German and
English; with booking down every page still says what happened. The scripts
(web/tests/browser.mjs for the citizen, web/tests/desk.mjs for the clerk and the admin) ask for
the mails they need on stdout (they come from a real SMTP sink), and for a clerk's TOTP code.
"""

from __future__ import annotations

import asyncio
import base64
import email
import email.policy
import json
import os
import re
import time
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path

import httpx
import pyotp
import pytest

from identity.seed import DEMO_MFA_ACCOUNT, DEMO_MFA_SECRET
from servicekit.mail.sink import MailSink
from servicekit.testing.plugin import DatabaseRegistry
from servicekit.testing.system import require_program
from tests.documents_booking.files import jpeg, pdf
from tests.live_rathaus import (
    ADMIN,
    CITIZEN,
    CLERK,
    TENANT,
    System,
    appointment_begins_now,
    book_first_slot,
    start_system,
)

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
LINKS = {
    "opt-in": re.compile(r"https?://[^/\s]+(/bookings/[0-9a-f-]+/opt-in#token=[\w.-]+)"),
    "manage": re.compile(r"https?://[^/\s]+(/bookings/[0-9a-f-]+#token=[\w.-]+)"),
}


def _built_portal() -> Path:
    dist = WEB / "dist"
    playwright = WEB / "node_modules" / "playwright-core"
    if not (dist / "index.html").is_file() or not playwright.is_dir():
        pytest.fail("web/ is not installed and built: run `make install` (or `make web`)")
    return dist


@pytest.fixture(scope="module")
async def mail_sink(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[MailSink, int]]:
    sink = MailSink(tmp_path_factory.mktemp("mail"))
    port = await sink.start()
    yield sink, port
    await sink.stop()


@pytest.fixture(scope="module")
async def system(
    database_registry: DatabaseRegistry,
    tmp_path_factory: pytest.TempPathFactory,
    mail_sink: tuple[MailSink, int],
) -> AsyncIterator[System]:
    """One Rathaus for the module's tests (starting one takes a while); the last test stops
    its booking."""
    dist = _built_portal()
    mail = {
        "mail_smtp_host": "127.0.0.1",
        "mail_smtp_port": mail_sink[1],
        "mail_smtp_security": "none",
        "mail_dispatch_interval_s": 0.2,
    }
    running = await start_system(
        database_registry,
        "sqlite",
        tmp_path_factory.mktemp("blobs"),
        overrides={
            # The municipality asks for the proof of work (ALTCHA), as in production.
            "booking": {
                **mail,
                "tenant_botcheck_required": {TENANT: True},
                "botcheck_max_number": 20_000,
            },
            "gateway": {"portal_dir": dist},
        },
    )
    try:
        yield running
    finally:
        running.stop()


def _link_in_mail(sink: MailSink, kind: str, seen: set[Path]) -> str | None:
    for path in sink.stored:
        if path in seen:
            continue
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        body = message.get_body(("plain",))
        if body is None:
            continue
        found = LINKS[kind].search(body.get_content())
        if found:
            seen.add(path)
            return found[1]
    return None


async def _converse(process: asyncio.subprocess.Process, sink: MailSink, output: list[str]) -> None:
    """The script's output, line by line; a "MAIL <kind>" line is answered with the link, an
    "OTP" line with the code of the seed's clerk with a second factor."""
    assert process.stdin is not None
    assert process.stdout is not None
    seen: set[Path] = set()
    while line := (await process.stdout.readline()).decode():
        output.append(line)
        if line.strip() == "OTP":
            # The next step's code (accepted a step either side): the seed used the current
            # one to confirm the enrolment, and a used step is refused.
            process.stdin.write(f"{pyotp.TOTP(DEMO_MFA_SECRET).at(time.time() + 30)}\n".encode())
            await process.stdin.drain()
            continue
        if not line.startswith("MAIL "):
            continue
        kind = line.split()[1]
        for _ in range(150):  # the outbox hands it to the sink within moments
            link = _link_in_mail(sink, kind, seen)
            if link:
                break
            await asyncio.sleep(0.1)
        else:
            pytest.fail(f"no {kind} mail arrived")
        process.stdin.write(f"{link}\n".encode())
        await process.stdin.drain()


async def _run_browser(
    scenario: str,
    system: System,
    sink: MailSink,
    tmp_path: Path,
    chromium: Path,
    extra_env: dict[str, str] | None = None,
    script: str = "browser.mjs",
) -> str:
    node = require_program("node", package="nodejs")
    env = {
        **os.environ,
        **(extra_env or {}),
        "RATHAUS_URL": system.gateway,
        "CHROMIUM": str(chromium),
        "USER_DATA_DIR": str(tmp_path / f"chromium-{scenario}"),
    }
    if os.environ.get("RATHAUS_WEB_SCREENSHOTS"):
        env["SCREENSHOTS"] = os.environ["RATHAUS_WEB_SCREENSHOTS"]
    process = await asyncio.create_subprocess_exec(
        str(node),
        str(WEB / "tests" / script),
        scenario,
        cwd=WEB,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    output: list[str] = []
    try:
        async with asyncio.timeout(180):
            await _converse(process, sink, output)
            code = await process.wait()
    except TimeoutError:
        process.kill()
        await process.wait()
        code = -1
    stderr = (await process.stderr.read()).decode() if process.stderr else ""
    assert code == 0, "".join(output) + stderr
    return "".join(output)


async def test_citizen_books_and_manages_by_keyboard_with_no_serious_axe_violation(
    system: System, mail_sink: tuple[MailSink, int], tmp_path: Path
) -> None:
    chromium = require_program("chromium", package="chromium")
    birth_certificate = tmp_path / "geburtsurkunde.pdf"
    birth_certificate.write_bytes(pdf(3000))
    output = await _run_browser(
        "journey",
        system,
        mail_sink[0],
        tmp_path,
        chromium,
        {"UPLOAD_PDF": str(birth_certificate)},
    )
    assert "OK journey" in output
    for page in (
        "start-de",
        "book-de",
        "opt-in-de",
        "manage-uploaded-de",
        "start-en",
        "display-en",
    ):
        assert page in output


def _login(client: httpx.Client, credentials: dict[str, str]) -> dict[str, str]:
    response = client.post("/identity/v1/auth/login", json=credentials)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _subject(headers: dict[str, str]) -> str:
    payload = headers["Authorization"].split(".")[1]
    subject: str = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sub"]
    return subject


def _desk_prepared(system: System) -> dict[str, str]:
    """A frontend client returning to this gateway, the clerk on an office's staff, and a
    walk-in waiting there."""
    with httpx.Client(base_url=system.gateway, timeout=20) as gateway:
        admin, clerk = _login(gateway, ADMIN), _login(gateway, CLERK)
        client = gateway.post(
            f"/identity/v1/tenants/{TENANT}/clients",
            json={
                "name": "Portal under test",
                "scopes": [],
                "redirect_uris": [f"{system.gateway}/demo/callback"],
                "first_party": True,
                "public": True,
            },
            headers=admin,
        )
        assert client.status_code == 201, client.text
        office = gateway.get(f"/booking/v1/tenants/{TENANT}/offices").json()["items"][0]
        where = f"/booking/v1/tenants/{TENANT}/offices/{office['id']}"
        staffed = gateway.put(f"{where}/staff/{_subject(clerk)}", headers=admin)
        assert staffed.status_code in {200, 201, 204}, staffed.text
        walk_in = gateway.post(
            f"{where}/queue/walk-ins",
            json={"service_ids": [office["services"][0]["service_id"]]},
            headers=clerk,
        )
        assert walk_in.status_code == 201, walk_in.text
    return {
        "DESK_CLIENT_ID": client.json()["client_id"],
        "DESK_OFFICE": office["id"],
        "CLERK_EMAIL": CLERK["email"],
        "CLERK_PASSWORD": CLERK["password"],
    }


async def test_clerk_signs_in_with_pkce_and_serves_the_queue_by_keyboard(
    system: System, mail_sink: tuple[MailSink, int], tmp_path: Path
) -> None:
    chromium = require_program("chromium", package="chromium")
    prepared = await asyncio.to_thread(_desk_prepared, system)
    output = await _run_browser("desk", system, mail_sink[0], tmp_path, chromium, prepared)
    assert "OK desk" in output
    for page in ("desk-sign-in-de", "identity-sign-in-de", "desk-de", "display-called-de"):
        assert page in output


def _frontend_client(gateway: httpx.Client, admin: dict[str, str], system: System) -> str:
    client = gateway.post(
        f"/identity/v1/tenants/{TENANT}/clients",
        json={
            "name": "Desk under test",
            "scopes": [],
            "redirect_uris": [f"{system.gateway}/demo/callback"],
            "first_party": True,
            "public": True,
        },
        headers=admin,
    )
    assert client.status_code == 201, client.text
    client_id: str = client.json()["client_id"]
    return client_id


def _review_prepared(system: System, tmp_path: Path) -> dict[str, str]:
    """The seed's clerk with a second factor on the staff of the office where the citizen's
    appointment begins now, with a photo and a birth certificate handed in (both scanned)."""
    mfa_email, mfa_password, _ = DEMO_MFA_ACCOUNT
    with httpx.Client(base_url=system.gateway, timeout=20) as gateway:
        admin, citizen = _login(gateway, ADMIN), _login(gateway, CITIZEN)
        client_id = _frontend_client(gateway, admin, system)
        accounts = gateway.get(f"/identity/v1/tenants/{TENANT}/accounts", headers=admin)
        assert accounts.status_code == 200, accounts.text
        clerk = next(a for a in accounts.json()["items"] if a["email"] == mfa_email)
        # Personalausweis beantragen: a photo (JPEG) and a birth certificate (PDF) to hand in.
        booking_id, office_id = book_first_slot(gateway, citizen, leika="99115001001000")
        asyncio.run(appointment_begins_now(system.booking_database_url, booking_id))
        where = f"/booking/v1/tenants/{TENANT}/offices/{office_id}"
        staffed = gateway.put(f"{where}/staff/{clerk['id']}", headers=admin)
        assert staffed.status_code in {200, 201, 204}, staffed.text
        booking = gateway.get(f"/booking/v1/bookings/{booking_id}", headers=citizen).json()
        files = {
            "image/jpeg": ("lichtbild.jpg", jpeg()),
            "application/pdf": ("geburtsurkunde.pdf", pdf(3000)),
        }
        for item in booking["checklist"]:
            kind = next((f for f in item["accepted_formats"] if f in files), None)
            if kind is None:
                continue
            name, content = files.pop(kind)
            upload = gateway.post(
                f"/documents/v1/bookings/{booking_id}/items/{item['id']}/documents",
                params={"filename": name},
                content=content,
                headers={**citizen, "content-type": "application/octet-stream"},
            )
            assert upload.status_code == 201, upload.text
        assert not files, "the first service takes a photo and a PDF"
        for _ in range(100):  # the scan decides within moments
            listing = gateway.get(f"/documents/v1/bookings/{booking_id}/documents", headers=citizen)
            scans = [d["scan_status"] for i in listing.json()["items"] for d in i["documents"]]
            if len(scans) == 2 and all(status == "clean" for status in scans):
                break
            time.sleep(0.1)
        else:
            pytest.fail(f"the uploads were not scanned clean: {listing.text}")
    notice = tmp_path / "bescheid.pdf"
    notice.write_bytes(pdf(2500, b"BESCHEID"))
    return {
        "DESK_CLIENT_ID": client_id,
        "BOOKING_ID": booking_id,
        "BOOKING_CODE": booking["code"],
        "MFA_EMAIL": mfa_email,
        "MFA_PASSWORD": mfa_password,
        "ADMIN_EMAIL": ADMIN["email"],
        "ADMIN_PASSWORD": ADMIN["password"],
        "CITIZEN_TOKEN": citizen["Authorization"].removeprefix("Bearer "),
        "ROOM_PDF": str(notice),
    }


@pytest.fixture(scope="module")
def reviewed_booking() -> dict[str, str]:
    """What the review test prepared, for the test with the services down."""
    return {}


@pytest.mark.slow
async def test_clerk_with_totp_reviews_documents_runs_the_room_and_call_admin_reads_kpis(
    system: System,
    mail_sink: tuple[MailSink, int],
    tmp_path: Path,
    reviewed_booking: dict[str, str],
) -> None:
    chromium = require_program("chromium", package="chromium")
    prepared = await asyncio.to_thread(_review_prepared, system, tmp_path)
    reviewed_booking.update(prepared)
    output = await _run_browser(
        "review", system, mail_sink[0], tmp_path, chromium, prepared, script="desk.mjs"
    )
    assert "OK review" in output
    for page in (
        "identity-mfa-de",
        "desk-review-de",
        "desk-reviewed-de",
        "desk-room-de",
        "desk-call-de",
        "desk-kpis-de",
        "desk-kpis-en",
    ):
        assert page in output


# Last in the module: it stops the shared system's booking.
async def test_pages_say_so_when_booking_is_down(
    system: System, mail_sink: tuple[MailSink, int], tmp_path: Path
) -> None:
    chromium = require_program("chromium", package="chromium")
    system.servers[1].stop()  # booking
    output = await _run_browser("down", system, mail_sink[0], tmp_path, chromium)
    assert "OK down" in output


# After the booking one: it stops documents too.
@pytest.mark.slow
async def test_desk_pages_say_so_when_booking_and_documents_are_down(
    system: System,
    mail_sink: tuple[MailSink, int],
    tmp_path: Path,
    reviewed_booking: dict[str, str],
) -> None:
    chromium = require_program("chromium", package="chromium")
    with httpx.Client(base_url=system.gateway, timeout=20) as gateway:
        client_id = _frontend_client(gateway, _login(gateway, ADMIN), system)
    system.servers[1].stop()  # booking (already, after the test before)
    system.servers[2].stop()  # documents
    prepared = {
        "DESK_CLIENT_ID": client_id,
        "BOOKING_ID": reviewed_booking.get("BOOKING_ID", "00000000-0000-0000-0000-000000000000"),
        "CLERK_EMAIL": CLERK["email"],
        "CLERK_PASSWORD": CLERK["password"],
    }
    output = await _run_browser(
        "down", system, mail_sink[0], tmp_path, chromium, prepared, script="desk.mjs"
    )
    assert "OK down" in output
