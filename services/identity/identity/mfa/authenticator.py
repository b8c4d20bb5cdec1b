"""What an authenticator app and a person type: TOTP (RFC 6238, 6 digits, 30 seconds, SHA-1
as every app expects), its provisioning URI and QR code, and the one-time recovery codes.

A code is looked for in the step of ``now`` and the one before and after (clocks drift, people
type slowly); the matching step is returned so that the caller can refuse it a second time.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime

import pyotp
import segno

from servicekit.constant_time import same_secret

RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
"""No 0/o, 1/l/i: read off paper, typed by hand; 10 of them are about 49 bits."""
_RECOVERY_LENGTH = 10
_TOTP_CODE = re.compile(r"^[0-9]{6}$")


@dataclass(frozen=True)
class Provisioning:
    """What a person needs to set up an authenticator app: the secret to type, or the URI
    (``otpauth://``) to scan, as an SVG and a PNG QR code (``data:`` URIs)."""

    secret: str
    uri: str
    qr_svg: str
    qr_png: str


def sealed_as(account_id: str) -> str:
    """Associated data of an account's sealed secret: a ciphertext copied to another account
    does not decrypt."""
    return f"mfa:{account_id}"


def new_secret() -> str:
    return pyotp.random_base32()  # 160 bits, as RFC 4226 recommends


def provisioning(secret: str, *, account_name: str, issuer: str) -> Provisioning:
    uri = pyotp.TOTP(secret).provisioning_uri(name=account_name, issuer_name=issuer)
    qr = segno.make(uri, error="m")
    return Provisioning(
        secret=secret,
        uri=uri,
        qr_svg=qr.svg_data_uri(scale=4, border=4),
        qr_png=qr.png_data_uri(scale=4, border=4),
    )


def looks_like_totp(code: str) -> bool:
    return _TOTP_CODE.fullmatch(code) is not None


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step whose code ``code`` is (now's, or one either side), or None."""
    if not looks_like_totp(code):
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    found: int | None = None
    for step in (current - 1, current, current + 1):
        # Every step is compared, matched or not: the time taken says nothing.
        if same_secret(code, totp.generate_otp(step)):
            found = step
    return found


def normalise(code: str) -> str:
    """What was typed, without spaces and dashes, lower case."""
    return re.sub(r"[\s-]", "", code).lower()


def new_recovery_codes() -> list[str]:
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    return codes


def looks_like_recovery_code(typed: str) -> bool:
    """``typed`` (normalised) has the shape of a recovery code: worth a hash comparison."""
    return len(typed) == _RECOVERY_LENGTH and all(c in _RECOVERY_ALPHABET for c in typed)
