"""A local SMTP server that delivers nowhere: each mail it receives becomes a file.

``make run`` starts it, so a newcomer reads exactly what a citizen would get::

    python -m servicekit.mail.sink --port 8025 --folder var/mail

Each mail is stored as it arrived, ``<folder>/<UTC time>-<id>.eml`` (any mail program opens
it), and announced in one line with its recipients and subject. The tests use the same server
(:class:`MailSink`), on an ephemeral loopback port.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import ssl
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from email.policy import default
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session


class MailSink:
    """An aiosmtpd handler and its server: stores each mail under ``folder``."""

    def __init__(
        self,
        folder: Path,
        *,
        announce: Callable[[str], None] | None = None,
        tls_context: ssl.SSLContext | None = None,
        implicit_tls: bool = False,
        authenticator: Callable[..., Any] | None = None,
    ) -> None:
        self.folder = folder
        self.announce = announce
        self.tls_context = tls_context
        self.implicit_tls = implicit_tls
        self.authenticator = authenticator
        self.stored: list[Path] = []
        self._server: asyncio.Server | None = None

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        received = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        path = self.folder / f"{received}-{uuid.uuid4().hex[:8]}.eml"
        self.folder.mkdir(parents=True, exist_ok=True)
        # Written aside and renamed, so a reader of the folder never sees half a mail.
        partial = path.with_suffix(".part")
        partial.write_bytes(content)
        partial.rename(path)
        self.stored.append(path)
        if self.announce is not None:
            subject = BytesHeaderParser(policy=default).parsebytes(content).get("subject", "")
            recipients = ", ".join(str(r) for r in envelope.rcpt_tos)
            self.announce(f"[mail] to {recipients}: {str(subject)!r} -> {path}")
        return "250 Message accepted for delivery"

    def protocol(self) -> SMTP:
        """The SMTP protocol of one connection: STARTTLS offered (and required) when the
        sink has a TLS context and does not speak TLS from the start."""
        starttls = self.tls_context is not None and not self.implicit_tls
        return SMTP(
            self,
            hostname="rathaus-mail-sink",
            tls_context=self.tls_context if starttls else None,
            require_starttls=starttls,
            authenticator=self.authenticator,
            # aiosmtpd counts only STARTTLS as TLS (and warns about AUTH required without
            # it): with TLS from the start, a login is offered but not required.
            auth_require_tls=starttls,
            auth_required=starttls and self.authenticator is not None,
        )

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen on ``host``:``port`` (0: a free one); the port."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self.protocol,
            host=host,
            port=port,
            ssl=self.tls_context if self.implicit_tls else None,
        )
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None


async def _serve(host: str, port: int, folder: Path, quiet: bool) -> None:
    def announce(line: str) -> None:
        print(line, flush=True)  # noqa: T201 - the person at the terminal reads it

    sink = MailSink(folder, announce=None if quiet else announce)
    bound = await sink.start(host, port)
    announce(f"[mail] SMTP sink on {host}:{bound}, every mail stored in {folder}/")
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopped.set)
    try:
        await stopped.wait()
    finally:
        await sink.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m servicekit.mail.sink", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--folder", type=Path, default=Path("var/mail"))
    parser.add_argument("--quiet", action="store_true", help="no line per mail")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.host, args.port, args.folder, args.quiet))
    return 0


if __name__ == "__main__":
    sys.exit(main())
