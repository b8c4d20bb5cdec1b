"""Files as citizens upload them, for documents' tests: they open in a viewer, since documents
checks that they do (``documents.intake.inspection``)."""

from __future__ import annotations

import io

from PIL import Image


def pdf(size: int = 20_000, marker: bytes = b"CANARY") -> bytes:
    """A PDF of exactly ``size`` bytes (from about 500) that opens in a viewer: one blank page,
    ``marker`` in a comment of its head, padded with comment lines."""
    head = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n%" + marker + b"\n"
    objects = (
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
    )
    body = bytearray(head)
    offsets = []
    for number, content in enumerate(objects, start=1):
        offsets.append(len(body))
        body += b"%d 0 obj\n%s\nendobj\n" % (number, content)

    def tail(xref_at: int) -> bytes:
        entries = b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
        return (
            b"xref\n0 4\n0000000000 65535 f \n"
            + entries
            + b"trailer\n<< /Size 4 /Root 1 0 R >>\nstartxref\n%010d\n%%%%EOF\n" % xref_at
        )

    padding = max(0, size - len(body) - len(tail(0)))
    line = b"%" + b"0" * 78 + b"\n"
    body += line * (padding // len(line))
    rest = padding % len(line)
    if rest == 1:
        body += b"\n"
    elif rest > 1:
        body += b"%" + b"0" * (rest - 2) + b"\n"
    return bytes(body + tail(len(body)))


def jpeg(size: tuple[int, int] = (64, 48)) -> bytes:
    """A real JPEG image (a photo as a viewer loads it)."""
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, "JPEG")
    return out.getvalue()
