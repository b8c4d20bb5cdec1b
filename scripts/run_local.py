"""`make run`: migrate, seed and start every Rathaus service locally, stop them all on Ctrl-C.

Everything runs on the embedded defaults (SQLite files and blobs under var/), with each
service's own settings read from its environment prefix as in production. Mail goes to a local
SMTP sink that keeps each mail as a file under var/mail/ and prints its recipient and subject.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SERVICES = ["identity", "booking", "documents"]  # started in this order, then the gateway
PORTS = {"gateway": 8000, "identity": 8001, "booking": 8002, "documents": 8003}
MAIL_PORT = 8025
MAIL_FOLDER = Path("var") / "mail"


def _events() -> dict[str, str]:
    """The events between the services (an erasure at identity reaches booking, then
    documents; a document the office sends the citizen reaches booking, which mails), signed
    with secrets made up for this run unless the environment names them."""
    to_booking, to_documents = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    documents_to_booking = secrets.token_urlsafe(32)

    def subscriber(name: str, event_type: str, secret: str) -> str:
        url = f"http://127.0.0.1:{PORTS[name]}/{name}/v1/events"
        return json.dumps([{"name": name, "url": url, "types": [event_type], "secret": secret}])

    return {
        "IDENTITY_EVENTS_SUBSCRIBERS": subscriber(
            "booking", "de.rathaus.identity.account.erased", to_booking
        ),
        "BOOKING_EVENTS_SECRETS": json.dumps(
            {"identity": to_booking, "documents": documents_to_booking}
        ),
        "BOOKING_EVENTS_SUBSCRIBERS": subscriber(
            "documents", "de.rathaus.booking.citizen.erased", to_documents
        ),
        "DOCUMENTS_EVENTS_SECRETS": json.dumps({"booking": to_documents}),
        "DOCUMENTS_EVENTS_SUBSCRIBERS": subscriber(
            "booking", "de.rathaus.documents.document.sent", documents_to_booking
        ),
    }


def _mail() -> dict[str, str]:
    """Every service that sends mail (its settings have the kit's MailSettings) hands it to
    the local sink; the others ignore these variables."""
    env: dict[str, str] = {}
    for service in SERVICES:
        prefix = f"{service.upper()}_MAIL_SMTP_"
        env |= {f"{prefix}HOST": "127.0.0.1", f"{prefix}PORT": str(MAIL_PORT)}
        env[f"{prefix}SECURITY"] = "none"
    return env


def _start_mail_sink(env: dict[str, str]) -> subprocess.Popen[bytes]:
    command = [
        str(BIN / "python"),
        *("-m", "servicekit.mail.sink"),
        *("--port", str(MAIL_PORT), "--folder", str(MAIL_FOLDER)),
    ]
    sink = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if sink.poll() is not None:
            raise SystemExit(
                f"the mail sink exited with status {sink.returncode} (is port {MAIL_PORT} free?)"
            )
        try:
            with socket.create_connection(("127.0.0.1", MAIL_PORT), timeout=1):
                return sink
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"the mail sink did not listen on 127.0.0.1:{MAIL_PORT}")


def _command(service: str, *args: str) -> list[str]:
    return [str(BIN / f"rathaus-{service}"), *args]


def _has_subcommand(service: str, name: str) -> bool:
    result = subprocess.run(
        _command(service, "--help"), capture_output=True, text=True, cwd=ROOT, check=True
    )
    return f"{{{name}" in result.stdout or f",{name}" in result.stdout


def _prepare(service: str) -> None:
    print(f"[{service}] migrating", flush=True)
    subprocess.run(_command(service, "migrate"), cwd=ROOT, check=True)
    if _has_subcommand(service, "seed"):
        print(f"[{service}] seeding demo data", flush=True)
        subprocess.run(_command(service, "seed"), cwd=ROOT, check=True)


def _wait_ready(name: str, process: subprocess.Popen[bytes], timeout_s: float = 30) -> None:
    url = f"http://127.0.0.1:{PORTS[name]}/readyz"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{name} exited with status {process.returncode}; see its log above")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{name} did not become ready at {url}")


def _stop(processes: dict[str, subprocess.Popen[bytes]]) -> None:
    for process in processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 20
    for process in processes.values():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()


def _interrupt(signum: int, _frame: object) -> None:
    # SIGTERM (e.g. from a supervisor or `timeout`) and SIGHUP (the terminal went away) stop
    # the services like Ctrl-C does; by default they would end this script and leave them.
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main() -> int:
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    (ROOT / "var").mkdir(exist_ok=True)
    for service in SERVICES:
        _prepare(service)
    # Short log lines for a person; production keeps one JSON object per line.
    readable = {f"{name.upper()}_LOG_JSON": "false" for name in [*SERVICES, "gateway"]}
    env = {**_events(), **_mail(), **readable, **os.environ, "PYTHONUNBUFFERED": "1"}
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        processes["mail sink"] = _start_mail_sink(env)
        for name in [*SERVICES, "gateway"]:
            # Each service gets its own process group, so Ctrl-C reaches only this script,
            # which then stops the services gracefully (SIGTERM lets in-flight requests finish).
            processes[name] = subprocess.Popen(
                _command(name, "serve"), cwd=ROOT, env=env, start_new_session=True
            )
            _wait_ready(name, processes[name])
        gateway = f"http://127.0.0.1:{PORTS['gateway']}"
        lines = [
            "",
            "Rathaus is running. Press Ctrl-C to stop.",
            *(
                [f"  Citizen portal       {gateway}/  (clerk desk: /desk, call display: /display)"]
                if (ROOT / "web" / "dist" / "index.html").is_file()
                else []
            ),
            f"  API docs (gateway)   {gateway}/docs",
            f"  OpenAPI (gateway)    {gateway}/openapi.json",
            *(
                f"  {name:<20} http://127.0.0.1:{PORTS[name]}  (docs: /docs, health: /readyz)"
                for name in SERVICES
            ),
            f"  {'mail (SMTP sink)':<20} 127.0.0.1:{MAIL_PORT}  (each mail a file in "
            f"{MAIL_FOLDER}/, open it with any mail program)",
            "",
        ]
        print("\n".join(lines), flush=True)
        while all(process.poll() is None for process in processes.values()):
            time.sleep(0.5)
        failed = [name for name, process in processes.items() if process.poll() is not None]
        print(f"stopped unexpectedly: {', '.join(failed)}; stopping the others", flush=True)
        return 1
    except KeyboardInterrupt:
        print("\nstopping all services ...", flush=True)
        return 0
    finally:
        # The sink goes last, so the services' last mails still reach it.
        sink = processes.pop("mail sink", None)
        _stop(processes)
        if sink is not None:
            _stop({"mail sink": sink})


if __name__ == "__main__":
    sys.exit(main())
