"""HTTP/1.1 over a raw socket, for tests that send what no client library would."""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from servicekit.problems import PROBLEM_MEDIA_TYPE


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    """Lower-case names; the last value of each."""
    body: bytes

    def problem(self) -> dict[str, Any]:
        """The problem+json document (asserted to be one, with this status)."""
        assert self.headers.get("content-type") == PROBLEM_MEDIA_TYPE, self
        document: dict[str, Any] = json.loads(self.body)
        assert document["status"] == self.status, document
        return document


def port_of(url: str) -> int:
    port = urlsplit(url).port
    assert port is not None, url
    return port


@contextlib.contextmanager
def connect(
    url: str, *, source: str | None = None, timeout_s: float = 10.0
) -> Iterator[socket.socket]:
    """A TCP connection to the server at ``url`` (from ``source``, a loopback address)."""
    sock = socket.create_connection(
        ("127.0.0.1", port_of(url)), timeout_s, (source, 0) if source else None
    )
    try:
        yield sock
    finally:
        sock.close()


class _Reader:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.data = b""

    def fill(self) -> bool:
        chunk = self.sock.recv(65536)
        self.data += chunk
        return bool(chunk)

    def answer(self) -> Answer | None:
        """The next answer, or None when the connection ended before one began."""
        while b"\r\n\r\n" not in self.data:
            if not self.fill():
                if self.data:
                    raise ConnectionError(f"closed inside a head: {self.data!r}")
                return None
        head, _, self.data = self.data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = self._chunked()
        else:
            length = int(headers.get("content-length", "0"))
            while len(self.data) < length and self.fill():
                pass
            body, self.data = self.data[:length], self.data[length:]
        return Answer(status, headers, body)

    def _chunked(self) -> bytes:
        body = b""
        while True:
            while b"\r\n" not in self.data:
                if not self.fill():
                    return body
            size_line, _, self.data = self.data.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            while len(self.data) < size + 2 and self.fill():
                pass
            body, self.data = body + self.data[:size], self.data[size + 2 :]
            if size == 0:
                return body


def read_answer(sock: socket.socket) -> Answer:
    """One answer off the socket (its body by length or chunks)."""
    answer = _Reader(sock).answer()
    if answer is None:
        raise ConnectionError("closed before an answer")
    return answer


def read_answers(sock: socket.socket, *, quiet_s: float = 1.0) -> list[Answer]:
    """Every answer until the server closes the connection or stays silent for ``quiet_s``."""
    reader = _Reader(sock)
    answers: list[Answer] = []
    sock.settimeout(quiet_s)
    with contextlib.suppress(TimeoutError, ConnectionResetError):
        while (answer := reader.answer()) is not None:
            answers.append(answer)
    return answers


def closed(sock: socket.socket) -> bool:
    """Whether the server has closed the connection (waits for it up to the socket timeout)."""
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
