"""The reference web frontend (web/) in a real Chromium against a whole Rathaus on loopback.

Playwright (``playwright-core`` from web/node_modules) drives Debian's chromium; the journey is
keyboard only, axe-core checks every page (no serious or critical violation), German and
English; with booking down every page still says what happened. The scripts
(web/tests/browser.mjs for the citizen, room.mjs for the room and check-in, mails.mjs for the
mailed links' pages, web/tests/desk.mjs for the clerk and the admin) ask for the mails they need
on stdout (they come from a real SMTP sink), and for a clerk's TOTP code.
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
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import httpx
import pyotp
import pytest
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription, VideoStreamTrack
from aiortc.sdp import candidate_from_sdp
from altcha import v1 as altcha
from av import VideoFrame
from websockets.asyncio.client import connect

from identity.seed import DEMO_MFA_ACCOUNT, DEMO_MFA_SECRET
from servicekit.mail.sink import MailSink
from servicekit.testing.plugin import DatabaseRegistry
from servicekit.testing.system import require_program
from tests.calls.signalling import GUARD_S, Peer, call_path
from tests.documents_booking.files import jpeg, pdf
from tests.live_rathaus import (
    ADMIN,
    CITIZEN,
    CLERK,
    TENANT,
    System,
    appointment_begins_now,
    book_first_slot,
    move_appointment,
    start_system,
)

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
LINKS = {
    "opt-in": re.compile(r"https?://[^/\s]+(/bookings/[0-9a-f-]+/opt-in#token=[\w.-]+)"),
    "manage": re.compile(r"https?://[^/\s]+(/bookings/[0-9a-f-]+#token=[\w.-]+)"),
    "feedback": re.compile(r"https?://[^/\s]+(/bookings/[0-9a-f-]+/feedback#token=[\w.-]+)"),
    **{
        f"waitlist-{page}": re.compile(
            rf"https?://[^/\s]+(/waitlist/[0-9a-f-]+/{page}#token=[\w.-]+)"
        )
        for page in ("confirm", "unsubscribe", "offer")
    },
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
                # The visit's feedback is asked by mail (its link is a portal page).
                "tenant_mail": {TENANT: {"satisfaction_mail": True}},
            },
            "gateway": {"portal_dir": dist},
        },
    )
    try:
        yield running
    finally:
        running.stop()


def _link_in_mail(sink: MailSink, kind: str, seen: set[tuple[Path, str]]) -> str | None:
    for path in sink.stored:
        if (path, kind) in seen:
            continue
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        body = message.get_body(("plain",))
        if body is None:
            continue
        found = LINKS[kind].search(body.get_content())
        if found:
            seen.add((path, kind))
            return found[1]
    return None


Act = Callable[[str], Awaitable[str]]
"""What the test does when the script prints "DO <what>"; its answer goes back on stdin."""


async def _converse(
    process: asyncio.subprocess.Process, sink: MailSink, output: list[str], act: Act | None
) -> None:
    """The script's output, line by line; a "MAIL <kind>" line is answered with the link, a
    "DO <what>" line with what ``act`` answers."""
    assert process.stdin is not None
    assert process.stdout is not None
    seen: set[tuple[Path, str]] = set()
    while line := (await process.stdout.readline()).decode():
        output.append(line)
        if line.startswith("DO ") and act is not None:
            process.stdin.write(f"{await act(line[3:].strip())}\n".encode())
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
    *,
    script: str = "browser.mjs",
    act: Act | None = None,
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
            await _converse(process, sink, output, act)
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


def _frontend_client(gateway: httpx.Client, admin: dict[str, str], system: System) -> str:
    """A first-party public client signing in with PKCE and returning to this gateway."""
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


def _desk_prepared(system: System) -> dict[str, str]:
    """A frontend client returning to this gateway, the clerk on an office's staff, and a
    walk-in waiting there."""
    with httpx.Client(base_url=system.gateway, timeout=20) as gateway:
        admin, clerk = _login(gateway, ADMIN), _login(gateway, CLERK)
        client_id = _frontend_client(gateway, admin, system)
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
        "DESK_CLIENT_ID": client_id,
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


async def _totp(what: str) -> str:
    """The code of the seed's clerk with a second factor, for the script's "DO otp": the next
    step's (accepted a step either side), since the seed confirmed the enrolment with the
    current one and a used step is refused."""
    assert what == "otp", what
    return pyotp.TOTP(DEMO_MFA_SECRET).at(time.time() + 30)


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
        "review", system, mail_sink[0], tmp_path, chromium, prepared, script="desk.mjs", act=_totp
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


def _session_prepared(system: System) -> dict[str, str]:
    """A frontend client, and an appointment beginning now (its call open) at an office with
    the seed's clerk on its staff."""
    with httpx.Client(base_url=system.gateway, timeout=20) as gateway:
        admin, clerk = _login(gateway, ADMIN), _login(gateway, CLERK)
        client_id = _frontend_client(gateway, admin, system)
        booking_id, office_id = book_first_slot(gateway, _login(gateway, CITIZEN))
        asyncio.run(appointment_begins_now(system.booking_database_url, booking_id))
        staffed = gateway.put(
            f"/booking/v1/tenants/{TENANT}/offices/{office_id}/staff/{_subject(clerk)}",
            headers=admin,
        )
        assert staffed.status_code in {200, 201, 204}, staffed.text
    return {
        "DESK_CLIENT_ID": client_id,
        "BOOKING_ID": booking_id,
        "CLERK_EMAIL": CLERK["email"],
        "CLERK_PASSWORD": CLERK["password"],
    }


SHORT_TOKENS_S = 30
"""Identity's shortest access token lifetime: the session test's Rathaus issues these."""


@pytest.mark.slow
async def test_desk_session_outlives_its_access_tokens_and_returns_to_the_deep_link(
    database_registry: DatabaseRegistry,
    tmp_path_factory: pytest.TempPathFactory,
    mail_sink: tuple[MailSink, int],
    tmp_path: Path,
) -> None:
    """A Rathaus of its own whose identity issues 30-second access tokens, which no service
    accepts a moment longer (no leeway): the clerk opens the room's deep link, signs in and is
    back there, opens the call; the desk renews its token before the expiry, the call's socket
    (closed by documents when its token expires) opens again and the call stays, the desk works
    after the expiry, renews once on a 401 and repeats the call, and signing out revokes
    (desk.mjs session)."""
    chromium = require_program("chromium", package="chromium")
    strict = {"auth_leeway_s": 0}
    running = await start_system(
        database_registry,
        "sqlite",
        tmp_path_factory.mktemp("blobs-session"),
        overrides={
            "identity": {**strict, "access_token_ttl_s": SHORT_TOKENS_S},
            "booking": strict,
            "documents": strict,
            "gateway": {"portal_dir": _built_portal()},
        },
    )
    try:
        prepared = await asyncio.to_thread(_session_prepared, running)
        output = await _run_browser(
            "session", running, mail_sink[0], tmp_path, chromium, prepared, script="desk.mjs"
        )
    finally:
        running.stop()
    assert "OK session" in output
    assert "desk-room-renewed-de" in output


async def _botcheck(http: httpx.AsyncClient) -> dict[str, str]:
    """The solved proof of work this municipality asks of every hold (as the page solves it)."""
    challenge = (await http.get(f"/booking/v1/tenants/{TENANT}/botcheck")).json()
    if not challenge["required"]:
        return {}
    solution = altcha.solve_challenge(
        challenge["challenge"], challenge["salt"], challenge["algorithm"], challenge["maxnumber"]
    )
    assert solution is not None
    payload = {key: challenge[key] for key in ("algorithm", "challenge", "salt", "signature")}
    encoded = json.dumps({**payload, "number": solution.number}).encode()
    return {"X-Altcha": base64.b64encode(encoded).decode()}


async def _opt_in_token(sink: MailSink, booking: str) -> str:
    """The opt-in link's token from the booking's mail (the outbox sends it within moments)."""
    for _ in range(150):
        for path in sink.stored:
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            assert isinstance(message, EmailMessage)
            body = message.get_body(("plain",))
            found = body and LINKS["opt-in"].search(body.get_content())
            if found and f"/bookings/{booking}/" in found[1]:
                return found[1].partition("#token=")[2]
        await asyncio.sleep(0.1)
    pytest.fail(f"no opt-in mail for {booking}")


async def _book(
    http: httpx.AsyncClient, sink: MailSink, office: str, service: str, start: str
) -> dict[str, str]:
    held = await http.post(
        f"/booking/v1/tenants/{TENANT}/holds",
        json={"office_id": office, "service_ids": [service], "start": start},
        headers=await _botcheck(http),
    )
    assert held.status_code == 201, held.text
    booking, token = held.json()["id"], held.json()["manage_token"]
    confirmed = await http.post(
        f"/booking/v1/bookings/{booking}/confirm",
        json={"name": "Erika Mustermann", "email": "erika.mustermann@example.org"},
        headers={"X-Manage-Token": token},
    )
    assert confirmed.status_code == 200, confirmed.text
    if confirmed.json()["status"] == "held":  # the double opt-in, as the mail's link does it
        opted = await http.post(
            f"/booking/v1/bookings/{booking}/opt-in",
            json={"token": await _opt_in_token(sink, booking)},
        )
        assert opted.status_code == 200, opted.text
    return {"id": booking, "token": token, "manage": f"/bookings/{booking}#token={token}"}


@dataclass
class Room:
    """A booking moved to now (its room and call open, check-in too), one of a later day
    (check-in refused), and the clerk of their office."""

    now: dict[str, str]
    later: dict[str, str]
    clerk: dict[str, str]


@pytest.fixture(scope="module")
async def room(system: System, mail_sink: tuple[MailSink, int]) -> Room:
    async with httpx.AsyncClient(base_url=system.gateway, timeout=30) as http:
        admin = await _alogin(http, ADMIN)
        clerk = await _alogin(http, CLERK)
        office = (await http.get(f"/booking/v1/tenants/{TENANT}/offices")).json()["items"][0]
        staffed = await http.put(
            f"/booking/v1/tenants/{TENANT}/offices/{office['id']}/staff/{_subject(clerk)}",
            headers=admin,
        )
        assert staffed.status_code in {200, 201, 204}, staffed.text
        service = office["services"][0]["service_id"]
        where = {"office_id": office["id"], "service_id": service}
        month = (date.today() + timedelta(days=20)).strftime("%Y-%m")
        days = await http.get(
            f"/booking/v1/tenants/{TENANT}/availability/days", params={**where, "month": month}
        )
        slots = [
            slot["start"]
            for day in days.json()["days"][:2]
            for slot in (
                await http.get(
                    f"/booking/v1/tenants/{TENANT}/availability/slots",
                    params={**where, "date": day["date"]},
                )
            ).json()["slots"][:1]
        ]
        assert len(slots) == 2, days.text
        now, later = [
            await _book(http, mail_sink[0], office["id"], service, start) for start in slots
        ]
        await move_appointment(system.booking_database_url, now["id"], datetime.now(UTC))
        # The office puts a notice into the room before the citizen comes in.
        sent = await http.post(
            f"/documents/v1/bookings/{now['id']}/room/documents",
            params={"filename": "Bescheid.pdf"},
            content=pdf(2500),
            headers={**clerk, "content-type": "application/pdf"},
        )
        assert sent.status_code == 201, sent.text
    return Room(now=now, later=later, clerk=clerk)


async def _alogin(http: httpx.AsyncClient, credentials: dict[str, str]) -> dict[str, str]:
    response = await http.post("/identity/v1/auth/login", json=credentials)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


class Clerk:
    """The clerk's side of the call: a real WebRTC peer (aiortc) on the room's WebSocket that
    admits the citizen when told, answers their offer with a synthetic video track, and counts
    the frames of the browser's camera."""

    def __init__(self, system: System, room: Room) -> None:
        self.url = system.gateway.replace("http://", "ws://", 1) + call_path(room.now["id"])
        self.headers = room.clerk
        self.admit = asyncio.Event()
        self.end = asyncio.Event()
        self.frames: asyncio.Future[list[tuple[int, int]]] = asyncio.Future()
        self.task: asyncio.Task[None] | None = None

    async def act(self, what: str) -> str:
        if what == "clerk-joins":
            self.task = asyncio.create_task(self._call())
        elif what == "admit":
            self.admit.set()
        elif what == "frames":
            sizes = await asyncio.wait_for(asyncio.shield(self.frames), GUARD_S)
            return f"{len(sizes)} frames {sizes[-1][0]}x{sizes[-1][1]}"
        elif what == "end":
            self.end.set()
            assert self.task is not None
            await asyncio.wait_for(self.task, GUARD_S)
        else:
            pytest.fail(f"the script asked for {what}")
        return "ok"

    async def _call(self) -> None:
        pc = RTCPeerConnection()
        pc.addTrack(VideoStreamTrack())
        tracks: asyncio.Queue[MediaStreamTrack] = asyncio.Queue()

        @pc.on("track")
        def received(track: MediaStreamTrack) -> None:
            if track.kind == "video":
                tracks.put_nowait(track)

        try:
            async with connect(self.url, additional_headers=self.headers) as connection:
                clerk = Peer(connection)
                await clerk.expect("welcome")
                citizen = (await clerk.expect("peer", role="citizen", state="waiting"))["peer"]
                await asyncio.wait_for(self.admit.wait(), GUARD_S)
                await clerk.send({"type": "admit", "peer": citizen})
                offer = await clerk.expect("offer", peer=citizen)
                await pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], "offer"))
                await pc.setLocalDescription(await pc.createAnswer())
                await clerk.send({"type": "answer", "sdp": pc.localDescription.sdp, "to": citizen})
                trickled = asyncio.create_task(self._candidates(clerk, pc))
                try:
                    track = await asyncio.wait_for(tracks.get(), GUARD_S)
                    sizes = []
                    for _ in range(FRAMES):
                        frame = await asyncio.wait_for(track.recv(), GUARD_S)
                        assert isinstance(frame, VideoFrame)
                        sizes.append((frame.width, frame.height))
                    self.frames.set_result(sizes)
                    await asyncio.wait_for(self.end.wait(), GUARD_S)
                finally:
                    trickled.cancel()
                await clerk.send({"type": "end"})
        except BaseException as error:
            if not self.frames.done():
                self.frames.set_exception(error)
            raise
        finally:
            await pc.close()

    @staticmethod
    async def _candidates(clerk: Peer, pc: RTCPeerConnection) -> None:
        """The browser trickles its candidates after the offer (aiortc takes UDP ones)."""
        while True:
            message = await clerk.expect("candidate")
            line = message["candidate"]
            if not line or " udp " not in line.lower():
                continue
            candidate = candidate_from_sdp(line.removeprefix("candidate:"))
            candidate.sdpMid = message.get("sdpMid")
            candidate.sdpMLineIndex = message.get("sdpMLineIndex")
            await pc.addIceCandidate(candidate)


FRAMES = 5


@pytest.mark.slow
async def test_citizen_talks_in_the_room_by_video_and_checks_in_by_qr_code(
    system: System, room: Room, mail_sink: tuple[MailSink, int], tmp_path: Path
) -> None:
    """Keyboard only: the manage page's room link and QR code, the check-in page (open now,
    refused for the later booking), the room (a message, one from the clerk arriving live, the
    office's document downloaded and acknowledged), the call (waiting room, admitted, frames
    both ways, ended), German and English, and a camera refused or missing said in words."""
    chromium = require_program("chromium", package="chromium")
    clerk = Clerk(system, room)
    posted: list[str] = []

    async def act(what: str) -> str:
        if what == "clerk-writes":
            async with httpx.AsyncClient(base_url=system.gateway, timeout=30) as http:
                answer = await http.post(
                    f"/documents/v1/bookings/{room.now['id']}/room/messages",
                    json={"text": "Guten Tag, ich sehe Ihre Unterlagen."},
                    headers=room.clerk,
                )
            assert answer.status_code == 201, answer.text
            posted.append(answer.text)
            return "ok"
        return await clerk.act(what)

    env = {"ROOM_MANAGE": room.now["manage"], "LATER_MANAGE": room.later["manage"]}
    output = await _run_browser(
        "room", system, mail_sink[0], tmp_path, chromium, env, script="room.mjs", act=act
    )
    assert "OK room" in output
    assert posted
    assert re.search(r"FRAMES 5 frames [1-9]\d*x[1-9]\d*", output), output
    for page in ("manage-room-de", "check-in-de", "check-in-refused-de", "room-de"):
        assert page in output
    for page in ("room-waiting-de", "room-call-de", "room-ended-de", "room-en", "room-denied-en"):
        assert page in output


WAITLISTER = "warteliste@example.org"


@dataclass
class Waitlisted:
    """A service offered only at an office without opening hours (nothing is free), and the
    clerk on that office's staff."""

    service: str
    office: str
    admin: dict[str, str]
    clerk: dict[str, str]


@pytest.fixture(scope="module")
async def waitlisted(system: System) -> Waitlisted:
    async with httpx.AsyncClient(base_url=system.gateway, timeout=30) as http:
        admin = await _alogin(http, ADMIN)
        clerk = await _alogin(http, CLERK)
        tenant = f"/booking/v1/tenants/{TENANT}"
        service = await http.post(
            f"{tenant}/services",
            json={
                "leika": "99050012104000",
                "name": {"de": "Fischereischein beantragen", "en": "Apply for a fishing licence"},
                "duration_minutes": 20,
                "fee_cents": 3000,
            },
            headers=admin,
        )
        assert service.status_code == 201, service.text
        office = await http.post(
            f"{tenant}/offices",
            json={
                "name": "Bürgerbüro Süd",
                "address": {
                    "street": "Heidelberger Straße 9",
                    "postal_code": "64283",
                    "city": "Musterstadt",
                },
                "counters": 1,
                "slot_minutes": 20,
                "services": [{"service_id": service.json()["id"]}],
            },
            headers=admin,
        )
        assert office.status_code == 201, office.text
        staffed = await http.put(
            f"{tenant}/offices/{office.json()['id']}/staff/{_subject(clerk)}", headers=admin
        )
        assert staffed.status_code in {200, 201, 204}, staffed.text
    return Waitlisted(service.json()["id"], office.json()["id"], admin, clerk)


def _manage_link_to(sink: MailSink, address: str) -> str | None:
    """The manage link of the (latest) booking mail to ``address``."""
    found = None
    for path in sink.stored:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        body = message.get_body(("plain",))
        link = body and LINKS["manage"].search(body.get_content())
        if link and address in str(message["To"]):
            found = link[1]
    return found


@pytest.mark.slow
async def test_mailed_links_of_the_waitlist_and_the_feedback_land_on_working_pages(
    system: System, waitlisted: Waitlisted, mail_sink: tuple[MailSink, int], tmp_path: Path
) -> None:
    """Keyboard only, axe on each page: nothing free, so the pre-information page offers the
    waitlist; its mailed link confirms the address; new opening hours free a seat, whose
    offer mail's link books it; the visit completed, the satisfaction mail's link rates it
    (a second rating refused in the API's words); the unsubscribe link in English."""
    chromium = require_program("chromium", package="chromium")
    sink = mail_sink[0]

    async def act(what: str) -> str:
        async with httpx.AsyncClient(base_url=system.gateway, timeout=30) as http:
            where = f"/booking/v1/tenants/{TENANT}/offices/{waitlisted.office}"
            if what == "open-hours":  # the municipality opens the office: a seat frees
                rules = [
                    {
                        "weekday": day,
                        "opens": "08:00",
                        "closes": "18:00",
                        "valid_from": "2024-01-01",
                    }
                    for day in range(1, 8)
                ]
                opened = await http.put(
                    f"{where}/opening-hours", json={"rules": rules}, headers=waitlisted.admin
                )
                assert opened.status_code in {200, 204}, opened.text
                return "ok"
            assert what == "visit-completed", what
            for _ in range(150):
                manage = _manage_link_to(sink, WAITLISTER)
                if manage:
                    break
                await asyncio.sleep(0.1)
            else:
                pytest.fail("no confirmation mail of the booked offer")
            booking, _, token = manage.removeprefix("/bookings/").partition("#token=")
            await move_appointment(system.booking_database_url, booking, datetime.now(UTC))
            steps = [
                (
                    f"/booking/v1/bookings/{booking}/check-in",
                    None,
                    {"X-Manage-Token": token},
                ),
                (f"{where}/queue/call", {"counter": "1"}, waitlisted.clerk),
                (f"/booking/v1/bookings/{booking}/complete", {"resolved": True}, waitlisted.clerk),
            ]
            for path, body, headers in steps:
                answer = await http.post(path, json=body, headers=headers)
                assert answer.status_code in {200, 201}, answer.text
            return "ok"

    env = {"WAITLIST_SERVICE": waitlisted.service, "WAITLISTER": WAITLISTER}
    output = await _run_browser(
        "mails", system, sink, tmp_path, chromium, env, script="mails.mjs", act=act
    )
    assert "OK mails" in output
    for page in ("service-waitlist-de", "waitlist-confirm-de", "waitlist-offer-de", "feedback-de"):
        assert page in output
    assert "waitlist-unsubscribe-en" in output


# Last in the module: it stops the shared system's booking.
async def test_pages_say_so_when_booking_is_down(
    system: System, room: Room, mail_sink: tuple[MailSink, int], tmp_path: Path
) -> None:
    chromium = require_program("chromium", package="chromium")
    system.servers[1].stop()  # booking
    output = await _run_browser("down", system, mail_sink[0], tmp_path, chromium)
    assert "OK down" in output
    env = {"ROOM_MANAGE": room.now["manage"]}
    output = await _run_browser(
        "down", system, mail_sink[0], tmp_path / "room", chromium, env, script="room.mjs"
    )
    assert "OK down" in output
    output = await _run_browser(
        "down", system, mail_sink[0], tmp_path / "mails", chromium, script="mails.mjs"
    )
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
