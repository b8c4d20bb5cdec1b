"""The reference web frontend (web/) in a real Chromium against a whole Rathaus on loopback.

Playwright (``playwright-core`` from web/node_modules) drives Debian's chromium; the journey is
keyboard only, axe-core checks every page (no serious or critical violation), German and
English; with booking down every page still says what happened. The script
(web/tests/browser.mjs) asks for the mails it needs on stdout; they come from a real SMTP sink.
"""

from __future__ import annotations

import asyncio
import base64
import email
import email.policy
import json
import os
import re
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest

from servicekit.mail.sink import MailSink
from servicekit.testing.plugin import DatabaseRegistry
from servicekit.testing.system import require_program
from tests.documents_booking.files import pdf
from tests.live_rathaus import ADMIN, CLERK, TENANT, System, start_system

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
    """The script's output, line by line; a "MAIL <kind>" line is answered with the link."""
    assert process.stdin is not None
    assert process.stdout is not None
    seen: set[Path] = set()
    while line := (await process.stdout.readline()).decode():
        output.append(line)
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
        str(WEB / "tests" / "browser.mjs"),
        scenario,
        cwd=WEB,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    output: list[str] = []
    try:
        async with asyncio.timeout(150):
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


# Last in the module: it stops the shared system's booking.
async def test_pages_say_so_when_booking_is_down(
    system: System, mail_sink: tuple[MailSink, int], tmp_path: Path
) -> None:
    chromium = require_program("chromium", package="chromium")
    system.servers[1].stop()  # booking
    output = await _run_browser("down", system, mail_sink[0], tmp_path, chromium)
    assert "OK down" in output
