"""What travels between two Rathaus instances when a case is handed over, and how.

Everything is JWE (RSA-OAEP-256 + A256GCM, ``servicekit.auth.jose_safe``) to the receiver's
published encryption key:

- the **manifest** (:class:`Manifest`: the booking's data, its checklist, and every attachment
  with its SHA-256) is one JWE, ``application/jose``;
- each **attachment** is a stream of JWE compact serializations, one per line
  (:data:`ATTACHMENT_MEDIA_TYPE`), each of up to :data:`PIECE_BYTES` of plaintext. Compact
  JWE use only base64url characters and dots, so a newline separates them unambiguously.
  Neither side ever holds more than a few pieces of a document: the sender seals piece after
  piece while it reads the document from its store, the receiver opens piece after piece into
  its own encrypted store while it arrives. Order and completeness are not left to the
  pieces: the SHA-256 of the whole plaintext must be the manifest's, else the case is
  rejected.

The receiver answers with a **receipt** or a **rejection**: a JWS (``typ``
:data:`RECEIPT_TYPE`) signed with its receipt key, published beside its encryption key in its
hand-over JWKS (``GET /documents/v1/cases/jwks``).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterable, Mapping
from datetime import datetime
from typing import Any, Literal

import anyio.to_thread
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from documents.streaming import ahead
from servicekit.auth import jose_safe
from servicekit.auth.keys import index_jwks

MANIFEST_MEDIA_TYPE = "application/jose"
ATTACHMENT_MEDIA_TYPE = "application/jose-stream"
PIECE_BYTES = 1024 * 1024
"""Plaintext per JWE of an attachment: one RSA-OAEP unwrap per MiB is cheap, and a piece
stays small in memory."""
MAX_PIECE_JWE_BYTES = PIECE_BYTES * 4 // 3 + 4096
"""A piece's compact serialization at most: base64url of a MiB, plus header, key and tag."""
MAX_MANIFEST_BYTES = 1024 * 1024
RECEIPT_TYPE = "rathaus-case-receipt+jwt"
SHA256_PATTERN = r"^[0-9a-f]{64}$"
ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
CASE_ID_PATTERN = r"^[0-9a-f]{32}$"


def municipality(ags: str) -> str:
    """A municipality as a receipt's ``iss``/``aud``."""
    return f"urn:rathaus:ags:{ags}"


class AttachmentEntry(BaseModel):
    """One document of the case, as the manifest announces it."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=ID_PATTERN)
    checklist_item_id: str = Field(pattern=ID_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    media_type: str = Field(max_length=100)
    size_bytes: int = Field(ge=0)
    sha256: str = Field(pattern=SHA256_PATTERN)


class Manifest(BaseModel):
    """The case's metadata document, the first thing the receiver decrypts."""

    model_config = ConfigDict(extra="forbid")

    case_id: str = Field(pattern=CASE_ID_PATTERN)
    from_ags: str = Field(pattern=r"^\d{8}$")
    to_ags: str = Field(pattern=r"^\d{8}$")
    leika: str | None = Field(default=None, pattern=r"^\d{14}$")
    sent_at: AwareDatetime
    booking: dict[str, Any] = Field(
        description="The booking as the sender's booking service describes it (its contract's "
        "BookingOut: office, time, services, contact)"
    )
    checklist: list[dict[str, Any]] = Field(max_length=200)
    attachments: list[AttachmentEntry] = Field(max_length=100)


class ReceiptClaims(BaseModel):
    """What a receipt or rejection says (the JWS payload)."""

    model_config = ConfigDict(extra="ignore")

    iss: str
    aud: str
    sub: str = Field(description="The case id")
    iat: int
    jti: str
    status: Literal["received", "rejected"]
    reason: str | None = None
    manifest_sha256: str | None = None
    attachments: dict[str, str] = Field(
        default_factory=dict, description="Attachment id to the SHA-256 the receiver computed"
    )


def receipt_claims(
    *,
    receiver: str,
    sender: str,
    case_id: str,
    at: datetime,
    jti: str,
    status: Literal["received", "rejected"],
    reason: str | None = None,
    manifest_sha256: str | None = None,
    attachments: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    return ReceiptClaims(
        iss=municipality(receiver),
        aud=municipality(sender),
        sub=case_id,
        iat=int(at.timestamp()),
        jti=jti,
        status=status,
        reason=reason,
        manifest_sha256=manifest_sha256,
        attachments=dict(attachments or {}),
    ).model_dump(exclude_none=True)


def seal_pieces(
    plaintext: AsyncIterable[bytes], public: Mapping[str, Any]
) -> AsyncGenerator[bytes, None]:
    """``plaintext`` as an attachment stream to ``public``: a JWE per MiB, each on its line,
    sealed in a worker thread a piece ahead of the consumer."""

    def seal(piece: bytes) -> bytes:
        return jose_safe.encrypt(piece, public) + b"\n"

    async def sealed() -> AsyncGenerator[bytes, None]:
        async for piece in _pieces(plaintext, PIECE_BYTES):
            yield await anyio.to_thread.run_sync(seal, piece)

    return ahead(sealed())


async def _pieces(source: AsyncIterable[bytes], size: int) -> AsyncGenerator[bytes, None]:
    """The bytes of ``source`` cut into pieces of exactly ``size`` (the last may be shorter)."""
    pending = bytearray()
    async for chunk in source:
        pending += chunk
        while len(pending) >= size:
            yield bytes(memoryview(pending)[:size])
            del pending[:size]
    if pending:
        yield bytes(pending)


class PieceRefused(Exception):
    """An attachment stream that is not one we open; the message says why."""


async def _lines(body: AsyncIterable[bytes]) -> AsyncGenerator[bytes, None]:
    pending = bytearray()
    async for chunk in body:
        # Only the new bytes are searched: a piece arrives in many chunks, and searching all
        # that is pending for each of them would scan a MiB over and over.
        start = len(pending)
        pending += chunk
        while (end := pending.find(b"\n", start)) >= 0:
            line = bytes(memoryview(pending)[:end])
            del pending[: end + 1]
            start = 0
            if line:
                yield line
        if len(pending) > MAX_PIECE_JWE_BYTES:
            raise PieceRefused("a piece is larger than a MiB of plaintext")
    if pending.strip():
        yield bytes(pending)


def open_pieces(
    body: AsyncIterable[bytes], keys: Mapping[str, Mapping[str, Any]]
) -> AsyncGenerator[bytes, None]:
    """The plaintext of an attachment stream, piece by piece, each opened in a worker thread
    while the next arrives; :class:`PieceRefused` for anything that does not decrypt."""

    def open_one(line: bytes) -> bytes:
        try:
            plaintext = jose_safe.decrypt(line, keys, max_bytes=MAX_PIECE_JWE_BYTES)
        except jose_safe.DecryptionFailed as failed:
            raise PieceRefused(str(failed)) from failed
        if len(plaintext) > PIECE_BYTES:
            raise PieceRefused("a piece holds more than a MiB")
        return plaintext

    async def opened() -> AsyncGenerator[bytes, None]:
        lines = ahead(_lines(body))
        async with contextlib.aclosing(lines):
            async for line in lines:
                yield await anyio.to_thread.run_sync(open_one, line)

    return ahead(opened())


def verify_receipt(
    token: str, jwks: Mapping[str, Any], *, receiver: str, sender: str
) -> ReceiptClaims:
    """The claims of a receiver's receipt or rejection, verified against its JWKS (its
    signing keys only); ``jose_safe.TokenRejected`` otherwise."""
    claims = jose_safe.verify_document(
        token,
        index_jwks(jwks),
        token_type=RECEIPT_TYPE,
        issuer=municipality(receiver),
        audience=municipality(sender),
    )
    return ReceiptClaims.model_validate(claims)
