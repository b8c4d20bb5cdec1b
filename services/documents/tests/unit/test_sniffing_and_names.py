from __future__ import annotations

import pytest

from documents.intake.names import InvalidName, display_name
from documents.intake.sniffing import JPEG, PDF, PNG, sniff


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", PDF),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", JPEG),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", PNG),
    ],
)
def test_allowed_types_are_recognised_by_their_magic_bytes(head: bytes, expected: object) -> None:
    assert sniff(head) == expected


@pytest.mark.parametrize(
    "head",
    [
        b"<?php system($_GET['c']); ?>",
        b"<html><script>alert(1)</script></html>",
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        b"GIF89a",
        b"PK\x03\x04",
        b"",
        b" %PDF-1.7",
        b"%PDF-1.7\n<script>alert(1)</script>",
        b"\xff\xd8\xff<?php echo 1; ?>",
        b"%PDF-1.7\n<ScRiPt>alert(1)</script>",
        b"\x89PNG\r\n\x1a\n<!DOCTYPE HTML>",
    ],
)
def test_everything_else_is_refused(head: bytes) -> None:
    assert sniff(head) is None


def test_markup_anywhere_in_the_head_refuses_it() -> None:
    head = b"%PDF-1.7\n" + b"<scrip " * 40_000

    assert sniff(head) == PDF
    assert sniff(head + b"<IFRAME src=x>") is None


def test_display_name_follows_the_sniffed_type() -> None:
    assert display_name("Ausweis Kopie.php", ".pdf") == "Ausweis Kopie.pdf"
    assert display_name("Meldebescheinigung (2).PDF", ".pdf") == "Meldebescheinigung (2).pdf"
    assert display_name(None, ".png") == "document.png"


def test_display_name_replaces_odd_characters_and_keeps_umlauts() -> None:
    assert display_name('Bürger"<Antrag>;.pdf', ".pdf") == "Bürger__Antrag__.pdf"


@pytest.mark.parametrize(
    "raw", ["../../etc/passwd", "..\\..\\boot.ini", "/etc/passwd", "a\x00b.pdf", "x\u202e.pdf"]
)
def test_path_and_control_characters_are_refused(raw: str) -> None:
    with pytest.raises(InvalidName):
        display_name(raw, ".pdf")


def test_long_names_are_cut() -> None:
    assert len(display_name("a" * 500 + ".pdf", ".pdf")) <= 120
