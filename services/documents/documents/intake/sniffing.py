"""What a file is, decided from its first bytes against an allow-list.

The client's Content-Type and file name are never trusted. Beyond the magic number, the head
of the file must not carry markup that a browser or an interpreter would act on (a PHP script
or HTML behind a valid-looking signature: a polyglot).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SNIFF_BYTES = 8192


@dataclass(frozen=True)
class FileType:
    media_type: str
    extension: str


PDF = FileType("application/pdf", ".pdf")
JPEG = FileType("image/jpeg", ".jpg")
PNG = FileType("image/png", ".png")

_SIGNATURES: tuple[tuple[bytes, FileType], ...] = (
    (b"%PDF-", PDF),
    (b"\xff\xd8\xff", JPEG),
    (b"\x89PNG\r\n\x1a\n", PNG),
)
_ACTIVE_MARKUP = (b"<?php", b"<script", b"<html", b"<svg", b"<!doctype html", b"<iframe")
# One case-insensitive pass (ASCII, as bytes patterns are) instead of lowering a copy of the
# head and searching it once per marker: the head is the first piece off the socket, often
# 256 KiB, and that took 0.8 ms of the event loop per upload.
_ACTIVE_MARKUP_PATTERN = re.compile(b"|".join(re.escape(m) for m in _ACTIVE_MARKUP), re.IGNORECASE)

ALLOWED_MEDIA_TYPES = tuple(file_type.media_type for _, file_type in _SIGNATURES)


def sniff(head: bytes) -> FileType | None:
    """The allowed type of a file starting with ``head``, or None to refuse it."""
    file_type = next((ft for signature, ft in _SIGNATURES if head.startswith(signature)), None)
    if file_type is None:
        return None
    if _ACTIVE_MARKUP_PATTERN.search(head) is not None:
        return None
    return file_type
