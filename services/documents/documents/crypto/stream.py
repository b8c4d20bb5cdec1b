"""Chunked AES-256-GCM, so that uploads and downloads both stream.

Layout of an encrypted blob::

    header  = b"RDOC" | version (1) | chunk_size (u32 BE) | nonce_prefix (8)
    chunk_i = AES-GCM(key, nonce = nonce_prefix | i (u32 BE),
                      plaintext_i, aad = header | i (u64 BE) | last (1)) -> ciphertext_i | tag (16)

Every chunk but the last holds exactly ``chunk_size`` plaintext bytes; the last holds 0 to
``chunk_size``. The chunk index and the last-chunk flag are authenticated, so reordering,
dropping, truncating at a chunk boundary, appending, or flipping any byte (header included)
fails with :class:`IntegrityError` before any plaintext of the damaged chunk is released.
"""

from __future__ import annotations

import contextlib
import os
import struct
from collections.abc import AsyncGenerator, AsyncIterable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from documents.streaming import ahead

MAGIC = b"RDOC"
VERSION = 1
TAG_BYTES = 16
NONCE_PREFIX_BYTES = 8
HEADER = struct.Struct(">4sBI8s")
HEADER_BYTES = HEADER.size
DEFAULT_CHUNK_SIZE = 64 * 1024
MAX_CHUNKS = 2**32


class IntegrityError(Exception):
    """The ciphertext was altered, truncated, reordered or is not ours."""


def _aad(header: bytes, index: int, last: bool) -> bytes:
    return header + struct.pack(">QB", index, 1 if last else 0)


def _nonce(prefix: bytes, index: int) -> bytes:
    if index >= MAX_CHUNKS:
        raise ValueError("too many chunks for one document")
    return prefix + struct.pack(">I", index)


def _complete_chunks(buffer: bytearray, data: memoryview, size: int) -> list[bytes | memoryview]:
    """The chunks of ``size`` bytes that ``buffer`` (bytes kept from before) and ``data``
    complete, except the last one, which may be the stream's last; what is left over stays in
    ``buffer``. Chunks inside ``data`` are views of it, not copies."""
    chunks: list[bytes | memoryview] = []
    if buffer:
        need = size - len(buffer)
        if len(data) <= need:
            buffer += data
            return chunks
        buffer += data[:need]
        data = data[need:]
        chunks.append(bytes(buffer))
        buffer.clear()
    while len(data) > size:
        chunks.append(data[:size])
        data = data[size:]
    buffer += data
    return chunks


class ChunkEncryptor:
    """Feed plaintext with :meth:`update`, then :meth:`finish`; both return ciphertext."""

    def __init__(self, key: bytes, chunk_size: int = DEFAULT_CHUNK_SIZE) -> None:
        if chunk_size <= 0:
            raise ValueError("chunk_size must be positive")
        self._aes = AESGCM(key)
        self._chunk_size = chunk_size
        self._prefix = os.urandom(NONCE_PREFIX_BYTES)
        self.header = HEADER.pack(MAGIC, VERSION, chunk_size, self._prefix)
        self._buffer = bytearray()
        self._index = 0
        self._header_sent = False
        self._finished = False

    def _seal(self, plaintext: bytes | memoryview, last: bool) -> bytes:
        sealed = self._aes.encrypt(
            _nonce(self._prefix, self._index), plaintext, _aad(self.header, self._index, last)
        )
        self._index += 1
        return sealed

    def _take_header(self) -> bytes:
        if self._header_sent:
            return b""
        self._header_sent = True
        return self.header

    def update(self, data: bytes) -> bytes:
        return b"".join(self.update_parts(data))

    def update_parts(self, data: bytes) -> list[bytes]:
        """Like :meth:`update`, the header and sealed chunks as a list (not joined)."""
        if self._finished:
            raise ValueError("encryptor already finished")
        out: list[bytes] = []
        if not self._header_sent:
            out.append(self._take_header())
        # Keep at least one byte back: only finish() knows which chunk is the last.
        for chunk in _complete_chunks(self._buffer, memoryview(data), self._chunk_size):
            out.append(self._seal(chunk, last=False))
        return out

    def finish(self) -> bytes:
        if self._finished:
            raise ValueError("encryptor already finished")
        self._finished = True
        out = self._take_header() + self._seal(bytes(self._buffer), last=True)
        self._buffer.clear()
        return out


def encrypted_size(plaintext_size: int, chunk_size: int = DEFAULT_CHUNK_SIZE) -> int:
    chunks = max(1, -(-plaintext_size // chunk_size))
    return HEADER_BYTES + plaintext_size + chunks * TAG_BYTES


class ChunkDecryptor:
    """Feed ciphertext with :meth:`update`, then :meth:`finish`; only verified plaintext leaves."""

    def __init__(self, key: bytes) -> None:
        self._aes = AESGCM(key)
        self._buffer = bytearray()
        self._header: bytes | None = None
        self._prefix = b""
        self._sealed_size = 0
        self._index = 0
        self._finished = False

    def _read_header(self) -> bool:
        if self._header is not None:
            return True
        if len(self._buffer) < HEADER_BYTES:
            return False
        header = bytes(self._buffer[:HEADER_BYTES])
        magic, version, chunk_size, prefix = HEADER.unpack(header)
        if magic != MAGIC or version != VERSION or chunk_size <= 0:
            raise IntegrityError("not an encrypted document of a known version")
        del self._buffer[:HEADER_BYTES]
        self._header = header
        self._prefix = prefix
        self._sealed_size = chunk_size + TAG_BYTES
        return True

    def _open(self, sealed: bytes | memoryview, last: bool) -> bytes:
        assert self._header is not None
        try:
            plaintext = self._aes.decrypt(
                _nonce(self._prefix, self._index), sealed, _aad(self._header, self._index, last)
            )
        except InvalidTag as exc:
            raise IntegrityError(f"chunk {self._index} failed authentication") from exc
        self._index += 1
        return plaintext

    def update(self, data: bytes) -> bytes:
        if self._finished:
            raise ValueError("decryptor already finished")
        view = memoryview(data)
        if self._header is None:
            missing = HEADER_BYTES - len(self._buffer)
            self._buffer += view[:missing]
            view = view[missing:]
            if not self._read_header():
                return b""
        # A full chunk is released only once more bytes follow it: else it may be the last.
        chunks = _complete_chunks(self._buffer, view, self._sealed_size)
        return b"".join([self._open(chunk, last=False) for chunk in chunks])

    def finish(self) -> bytes:
        if self._finished:
            raise ValueError("decryptor already finished")
        self._finished = True
        if not self._read_header():
            raise IntegrityError("truncated before the header")
        if len(self._buffer) < TAG_BYTES:
            raise IntegrityError("truncated: the last chunk is missing")
        out = self._open(bytes(self._buffer), last=True)
        self._buffer.clear()
        return out


def decrypt_stream(key: bytes, chunks: AsyncIterable[bytes]) -> AsyncGenerator[bytes, None]:
    """The plaintext of an encrypted stream, chunk by verified chunk.

    The ciphertext is read a piece ahead (see :mod:`documents.streaming`), so that reading
    overlaps decrypting and sending. Decryption itself stays on the event loop: AES-GCM holds
    the GIL on 64 KiB chunks, so a worker thread would only add a trip per piece.
    """
    return _decrypted(key, ahead(chunks))


async def _decrypted(
    key: bytes, chunks: AsyncGenerator[bytes, None]
) -> AsyncGenerator[bytes, None]:
    decryptor = ChunkDecryptor(key)
    async with contextlib.aclosing(chunks):
        async for chunk in chunks:
            plaintext = decryptor.update(chunk)
            if plaintext:
                yield plaintext
    tail = decryptor.finish()
    if tail:
        yield tail
