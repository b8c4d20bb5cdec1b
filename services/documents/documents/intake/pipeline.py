"""Receiving one file as a stream: limit, sniff, hash and encrypt, chunk by chunk.

Nothing here holds the whole file: the request body flows through :class:`Intake` into the
blob store. Every refusal is an exception raised *inside* that flow, so the blob store's
all-or-nothing write removes whatever part had been written.

    body ── multipart_file()/raw ──► Intake.encrypt() ──────────────────► BlobStore.write()
                                     (limit, sniff │ SHA-256, AES-GCM)
                                      as it arrives │ per MiB, in a worker thread
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Callable

import anyio.to_thread
from python_multipart.exceptions import FormParserError, MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from documents.crypto.stream import ChunkEncryptor
from documents.intake.names import InvalidName, display_name
from documents.intake.sniffing import SNIFF_BYTES, FileType, sniff
from documents.streaming import ahead, batched, flattened

MULTIPART_OVERHEAD = 16 * 1024
"""Room for the multipart envelope (boundaries, part headers) beyond the file's own limit."""
BATCH_BYTES = 1024 * 1024
"""How much plaintext one worker-thread call hashes and encrypts."""


class IntakeRefused(Exception):
    """Base of the reasons a file is refused while it streams in."""


class TooLarge(IntakeRefused):
    pass


class Unsupported(IntakeRefused):
    pass


class BadName(IntakeRefused):
    pass


class NoFile(IntakeRefused):
    pass


class Intake:
    """Counts, sniffs, hashes and encrypts one file while it streams through.

    Counting and sniffing happen as the bytes arrive; hashing and encryption run in a worker
    thread on batches of :data:`BATCH_BYTES`, a batch ahead of the blob store's writes and
    while the next batch is received (see :mod:`documents.streaming`).
    """

    def __init__(
        self,
        *,
        limit: int,
        data_key: bytes,
        chunk_size: int,
        filename: Callable[[], str | None],
    ) -> None:
        self.limit = limit
        self.size = 0
        self.file_type: FileType | None = None
        # A callable: a multipart part names its file only once its headers have streamed in.
        self._filename = filename
        self._sha256 = hashlib.sha256()
        self._encryptor = ChunkEncryptor(data_key, chunk_size=chunk_size)

    @property
    def sha256(self) -> str:
        return self._sha256.hexdigest()

    def display_name(self) -> str:
        assert self.file_type is not None
        try:
            return display_name(self._filename(), self.file_type.extension)
        except InvalidName as exc:
            raise BadName(str(exc)) from exc

    def _decide(self, head: bytes) -> None:
        file_type = sniff(head)
        if file_type is None:
            raise Unsupported("the content is not an accepted PDF, JPEG or PNG")
        self.file_type = file_type
        self.display_name()  # refuse a bad name before anything is kept

    async def _checked(self, plaintext: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
        """The plaintext, counted against the limit and sniffed before anything passes."""
        head = bytearray()
        async for chunk in plaintext:
            if not chunk:
                continue
            self.size += len(chunk)
            if self.size > self.limit:
                raise TooLarge(f"the file is larger than {self.limit} bytes")
            if self.file_type is None:
                if head or len(chunk) < SNIFF_BYTES:  # else the chunk is the head, uncopied
                    head += chunk
                    if len(head) < SNIFF_BYTES:
                        continue
                    chunk = bytes(head)
                    head.clear()
                self._decide(chunk)
            yield chunk
        if self.file_type is None:
            self._decide(bytes(head))
            yield bytes(head)

    def _take(self, batch: list[bytes]) -> list[bytes]:
        # In a worker thread: joining a MiB and hashing it let go of the GIL (AES-GCM on
        # 64 KiB chunks mostly does not, but costs a fifth of SHA-256). Joined, the
        # encryptor seals views of one buffer instead of copying chunks that straddle the
        # pieces as they came off the socket.
        data = b"".join(batch)
        self._sha256.update(data)
        return self._encryptor.update_parts(data)

    async def _sealed(self, batches: AsyncIterable[list[bytes]]) -> AsyncIterator[list[bytes]]:
        async for batch in batches:
            yield await anyio.to_thread.run_sync(self._take, batch)
        yield [self._encryptor.finish()]

    def encrypt(self, plaintext: AsyncIterable[bytes]) -> AsyncGenerator[bytes, None]:
        """The encrypted blob of ``plaintext``; refusals are raised from within the stream."""
        batches = ahead(batched(self._checked(plaintext), BATCH_BYTES))
        return flattened(ahead(self._sealed(batches)))


async def limited(body: AsyncIterable[bytes], limit: int) -> AsyncIterator[bytes]:
    """The body, cut off with :class:`TooLarge` as soon as it passes ``limit`` bytes."""
    seen = 0
    async for chunk in body:
        seen += len(chunk)
        if seen > limit:
            raise TooLarge(f"the request body is larger than {limit} bytes")
        yield chunk


class MultipartFile:
    """The part named ``field`` of a multipart/form-data body, streamed; other parts skipped."""

    def __init__(self, body: AsyncIterable[bytes], content_type: str, field: str = "file") -> None:
        _, options = parse_options_header(content_type)
        boundary = options.get(b"boundary")
        self._body = body
        self._field = field.encode()
        self.filename: str | None = None
        self.found = False
        self._out: list[bytes] = []
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._headers: dict[bytes, bytes] = {}
        self._in_file = False
        self._file_done = False
        # Without a boundary there is nothing to parse: refused where the body is read, as
        # every refusal is (see chunks()).
        self._parser: MultipartParser | None = None
        self._unusable = "multipart/form-data without a boundary"
        if not boundary:
            return
        try:
            self._parser = MultipartParser(
                boundary,
                callbacks={
                    "on_part_begin": self._on_part_begin,
                    "on_header_field": self._on_header_field,
                    "on_header_value": self._on_header_value,
                    "on_header_end": self._on_header_end,
                    "on_headers_finished": self._on_headers_finished,
                    "on_part_data": self._on_part_data,
                    "on_part_end": self._on_part_end,
                },
            )
        except FormParserError as exc:  # e.g. a boundary longer than 256 bytes
            self._unusable = f"unusable multipart boundary: {exc}"

    def _on_part_begin(self) -> None:
        self._headers = {}

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _on_header_end(self) -> None:
        self._headers[bytes(self._header_field).lower()] = bytes(self._header_value)
        self._header_field.clear()
        self._header_value.clear()

    def _on_headers_finished(self) -> None:
        disposition, options = parse_options_header(self._headers.get(b"content-disposition"))
        if disposition == b"form-data" and options.get(b"name") == self._field and not self.found:
            self.found = True
            self._in_file = True
            raw = options.get(b"filename")
            self.filename = raw.decode("utf-8", "replace") if raw is not None else None

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self._out.append(data[start:end])

    def _on_part_end(self) -> None:
        if self._in_file:
            self._in_file = False
            self._file_done = True

    async def chunks(self) -> AsyncIterator[bytes]:
        parser = self._parser
        if parser is None:
            raise NoFile(self._unusable)
        try:
            async for chunk in self._body:
                parser.write(chunk)
                if self._out:
                    data = b"".join(self._out)
                    self._out.clear()
                    yield data
            parser.finalize()
        except MultipartParseError as exc:
            raise NoFile(f"malformed multipart body: {exc}") from exc
        if self._out:
            data = b"".join(self._out)
            self._out.clear()
            yield data
        if not self.found or not self._file_done:
            raise NoFile(f"no complete part named {self._field.decode()!r}")
