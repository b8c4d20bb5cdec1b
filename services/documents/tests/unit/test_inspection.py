"""What a viewer would load: image headers within the pixel limit, PDFs that parse."""

from __future__ import annotations

import io
from collections.abc import AsyncGenerator

import pytest
from pypdf import PdfWriter

from documents.intake.inspection import IMAGE_HEAD_BYTES, Unreadable, inspect
from documents.intake.sniffing import JPEG, PDF, PNG, FileType

from ..factories import jpeg, jpeg_claiming, pdf, pdf_then_executable, png, png_claiming

MAX_PIXELS = 50_000_000


async def stream(data: bytes, piece: int = 4096) -> AsyncGenerator[bytes, None]:
    for start in range(0, len(data), piece):
        yield data[start : start + piece]


async def check(file_type: FileType, data: bytes) -> None:
    await inspect(file_type, stream(data), max_pixels=MAX_PIXELS, timeout_s=10)


def protected_pdf(user_password: str) -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(100, 100)
    writer.encrypt(user_password=user_password, owner_password="owner")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.mark.parametrize(
    ("file_type", "data"),
    [
        (PDF, pdf()),
        (PDF, pdf(300_000)),
        (PDF, protected_pdf("")),  # restricted, but opens without a password
        (JPEG, jpeg()),
        (PNG, png()),
        (PNG, png_claiming(5000, 10_000)),  # exactly the limit
    ],
    ids=["pdf", "large-pdf", "owner-password-pdf", "jpeg", "png", "png-at-the-limit"],
)
async def test_what_a_viewer_opens_passes(file_type: FileType, data: bytes) -> None:
    await check(file_type, data)


@pytest.mark.parametrize(
    ("file_type", "data", "reason"),
    [
        (PNG, png_claiming(100_000, 100_000), "pixels"),
        (PNG, png_claiming(5000, 10_001), "pixels"),
        (JPEG, jpeg_claiming(65_535, 65_535), "pixels"),
        (PNG, b"\x89PNG\r\n\x1a\n" + b"\x00" * 500, "does not open"),
        (JPEG, b"\xff\xd8\xff\xe0" + b"\x00" * 500, "does not open"),
        (PDF, pdf_then_executable(), "does not open"),
        (PDF, b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n", "does not open"),
        (PDF, protected_pdf("secret"), "password"),
    ],
    ids=[
        "png-bomb",
        "png-one-pixel-row-too-many",
        "jpeg-bomb",
        "png-garbage",
        "jpeg-garbage",
        "pdf-then-elf",
        "pdf-without-trailer",
        "user-password-pdf",
    ],
)
async def test_what_a_viewer_cannot_open_is_refused(
    file_type: FileType, data: bytes, reason: str
) -> None:
    with pytest.raises(Unreadable, match=reason):
        await check(file_type, data)


async def test_an_image_is_read_only_as_far_as_its_header() -> None:
    read = 0

    async def counted() -> AsyncGenerator[bytes, None]:
        nonlocal read
        async for piece in stream(png() + b"\x00" * (4 * IMAGE_HEAD_BYTES)):
            read += len(piece)
            yield piece

    await inspect(PNG, counted(), max_pixels=MAX_PIXELS, timeout_s=10)

    assert read <= IMAGE_HEAD_BYTES + 4096
