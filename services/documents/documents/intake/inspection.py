"""What a viewer would load: the stored file opened the way a clerk's viewer opens it.

The sniff (:mod:`.sniffing`) decides from the first bytes what a file claims to be; this checks
that it is one, on the stored file (decrypted once more, as the malware scan reads it), before
it becomes a document:

- an image's header is read, never its pixels: its dimensions must be within
  ``max_pixels`` (a PNG that claims 100000x100000 pixels is a decompression bomb for whoever
  renders it). Only the first :data:`IMAGE_HEAD_BYTES` are decrypted for it.
- a PDF must parse (pypdf: header, cross-reference table, trailer, catalogue and page tree) and
  have a page; ``%PDF-`` in front of an executable does not. Its work is bounded: the file by
  the upload limit, the parse by ``timeout_s`` in a worker thread; page contents are never
  decoded.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
from collections.abc import AsyncGenerator

import anyio.to_thread
from PIL import Image, UnidentifiedImageError
from pypdf import PdfReader
from pypdf.errors import FileNotDecryptedError, PyPdfError

from documents.intake.pipeline import Unsupported
from documents.intake.sniffing import JPEG, PDF, PNG, FileType

IMAGE_HEAD_BYTES = 1024 * 1024
"""How much of an image is read to find its dimensions (JPEG metadata may come first)."""

# pypdf reports what it repairs in a damaged PDF through logging; the verdict is ours.
logging.getLogger("pypdf").setLevel(logging.ERROR)


class Unreadable(Unsupported):
    """The file is not what a viewer could open as the type it claims."""


async def inspect(
    file_type: FileType,
    plaintext: AsyncGenerator[bytes, None],
    *,
    max_pixels: int,
    timeout_s: float,
) -> None:
    """Refuse with :class:`Unreadable` unless ``plaintext`` (the whole file, as a stream) opens
    as ``file_type``; reads of ``plaintext`` stop as soon as the verdict is known."""
    async with contextlib.aclosing(plaintext):
        if file_type in (JPEG, PNG):
            head = await _read(plaintext, IMAGE_HEAD_BYTES)
            await anyio.to_thread.run_sync(_check_image, head, file_type, max_pixels)
        elif file_type == PDF:
            data = await _read(plaintext, None)
            try:
                async with asyncio.timeout(timeout_s):
                    # The thread cannot be stopped; the upload is refused at the deadline.
                    await anyio.to_thread.run_sync(_check_pdf, data, abandon_on_cancel=True)
            except TimeoutError as exc:
                raise Unreadable("the PDF took too long to open") from exc


async def _read(chunks: AsyncGenerator[bytes, None], limit: int | None) -> bytes:
    data = bytearray()
    async for chunk in chunks:
        data += chunk
        if limit is not None and len(data) >= limit:
            break
    return bytes(data)


def _check_image(head: bytes, file_type: FileType, max_pixels: int) -> None:
    kind = "JPEG" if file_type == JPEG else "PNG"
    try:
        with Image.open(io.BytesIO(head), formats=[kind]) as image:
            width, height = image.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow's own limit (a warning, or an error at twice it): far beyond ours anyway.
        raise Unreadable(f"the image claims more than {max_pixels} pixels") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise Unreadable(f"the image's header does not open as {kind}") from exc
    if width < 1 or height < 1 or width * height > max_pixels:
        raise Unreadable(
            f"the image claims {width}x{height} pixels; at most {max_pixels} are accepted"
        )


def _check_pdf(data: bytes) -> None:
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        pages = len(reader.pages)
    except FileNotDecryptedError as exc:
        raise Unreadable("the PDF is protected by a password") from exc
    except (PyPdfError, ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
        # A damaged file may surface as any of these from the parser's depths.
        raise Unreadable("the content does not open as a PDF") from exc
    if pages < 1:
        raise Unreadable("the PDF has no pages")
