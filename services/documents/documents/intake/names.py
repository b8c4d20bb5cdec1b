"""Display names for uploaded files. Storage never uses them: blobs live under random ids."""

from __future__ import annotations

import re
import unicodedata

MAX_NAME_LENGTH = 120
_UNSAFE = re.compile(r"[^\w .()+,-]", re.UNICODE)
_SPACES = re.compile(r"\s+")


class InvalidName(ValueError):
    pass


def display_name(raw: str | None, extension: str) -> str:
    """A safe name to show and to offer in Content-Disposition.

    A name that tries to reach another directory (``/``, ``\\``, ``..``) or carries control
    characters is refused outright rather than silently repaired: it is an attack, not a typo.
    """
    if raw is None or not raw.strip():
        return "document" + extension
    name = unicodedata.normalize("NFC", raw)
    if any(unicodedata.category(ch) in {"Cc", "Cf", "Cs", "Co"} for ch in name):
        raise InvalidName("the file name contains control characters")
    if "/" in name or "\\" in name or ".." in name:
        raise InvalidName("the file name must not contain a path")
    name = _UNSAFE.sub("_", name)
    name = _SPACES.sub(" ", name).strip(" .")
    if not name:
        name = "document"
    stem = name.rsplit(".", 1)[0] if "." in name else name
    stem = stem[: MAX_NAME_LENGTH - len(extension)].rstrip(" .") or "document"
    # The extension follows the sniffed type, so "invoice.php" that is a PDF shows as .pdf.
    return stem + extension
