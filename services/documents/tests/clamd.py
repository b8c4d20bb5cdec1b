"""A real clamd for the tests, started from its binary (Debian's clamav-daemon).

freshclam cannot download signatures here, so clamd loads only the database this repository
ships, ``tests/clamav/rathaus-test.ndb``: one body signature, ``Rathaus.Test.EICAR``, for the
EICAR antivirus test string anywhere in a file (clamd names it
``Rathaus.Test.EICAR.UNOFFICIAL``). The string itself is never in the repository whole:
:data:`EICAR` joins it from parts at test time, so no scanner takes the checkout for infected.

clamd listens on a free loopback port and on a unix socket in its own directory, reads at most
``STREAM_MAX_BYTES`` of a stream (``StreamMaxLength``: beyond it, "INSTREAM size limit
exceeded"), and runs in the foreground so that :meth:`Clamd.stop` ends it.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

from servicekit.testing.live import free_port
from servicekit.testing.system import require_program

SIGNATURES = Path(__file__).resolve().parent / "clamav" / "rathaus-test.ndb"
SIGNATURE = "Rathaus.Test.EICAR.UNOFFICIAL"
"""The name clamd reports for the EICAR string with the shipped database."""
EICAR = b"".join(
    (b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$", b"EICAR-STANDARD-", b"ANTIVIRUS-TEST-FILE!$H+H*")
)
"""The antivirus test string (every scanner reports it as infected), joined at run time."""
STREAM_MAX_BYTES = 1024 * 1024
"""clamd's StreamMaxLength in the tests (1M)."""
_START_DEADLINE_S = 60.0


class Clamd:
    """One clamd process on its own configuration and database directory."""

    def __init__(self, workdir: Path) -> None:
        self.binary = require_program("clamd", package="clamav-daemon")
        self.workdir = workdir
        self.port = free_port()
        self.socket_path = str(workdir / "clamd.sock")
        self.log = workdir / "clamd.log"
        self.process: subprocess.Popen[bytes] | None = None
        database = workdir / "db"
        database.mkdir(parents=True, exist_ok=True)
        shutil.copy(SIGNATURES, database / SIGNATURES.name)
        self.config = workdir / "clamd.conf"
        self.config.write_text(
            "\n".join(
                [
                    "Foreground yes",
                    f"DatabaseDirectory {database}",
                    f"LocalSocket {self.socket_path}",
                    "TCPAddr 127.0.0.1",
                    f"TCPSocket {self.port}",
                    f"StreamMaxLength {STREAM_MAX_BYTES // 1024 // 1024}M",
                    f"PidFile {workdir / 'clamd.pid'}",
                    f"LogFile {self.log}",
                    "LogTime yes",
                    # Nothing to reload: the database never changes while the tests run.
                    "SelfCheck 0",
                    "",
                ]
            )
        )

    def start(self) -> None:
        """Start clamd and wait until it answers PING (its database loaded)."""
        assert self.process is None, "clamd runs already"
        self.process = subprocess.Popen(
            [str(self.binary), "--config-file", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + _START_DEADLINE_S
        while not self.answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                log = self.log.read_text() if self.log.exists() else "(no log)"
                raise RuntimeError(f"clamd did not start:\n{log}")
            time.sleep(0.05)

    def answers(self) -> bool:
        """Whether clamd answers PING with PONG on its TCP port."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as conn:
                conn.sendall(b"zPING\0")
                return conn.recv(16) == b"PONG\0"
        except OSError:
            return False

    def stop(self) -> None:
        """Stop clamd (SIGTERM, then SIGKILL); it answers nothing afterwards."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def settings(self) -> dict[str, object]:
        """The documents settings that point at this clamd (over TCP)."""
        return {"clamd_host": "127.0.0.1", "clamd_port": self.port, "scanner_timeout_s": 10}
