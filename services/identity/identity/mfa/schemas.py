from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from identity.login.schemas import Secret, TokenOut
from identity.mfa.authenticator import Provisioning
from identity.mfa.service import Challenge, Status

Code = Annotated[
    str,
    Field(
        min_length=6,
        max_length=32,
        description="Six digits of the authenticator app, or one of the recovery codes",
        examples=["123456"],
    ),
]


class MfaChallengeOut(BaseModel):
    """The password was right; the second step completes the login with ``mfa_token``: a code
    (``/auth/mfa/verify``), or first an enrolment where ``enrolment_required``."""

    mfa_token: str
    expires_in: int = Field(description="Seconds the second step may take")
    enrolment_required: bool = Field(
        description="The account must have a second factor and has none: enrol one first"
    )

    @classmethod
    def of(cls, challenge: Challenge) -> MfaChallengeOut:
        return cls(
            mfa_token=challenge.token,
            expires_in=challenge.expires_in,
            enrolment_required=challenge.enrolment_required,
        )


class MfaCodeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mfa_token: Secret
    code: Code


class MfaTokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mfa_token: Secret


class EnrolmentCodeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Annotated[
        str,
        Field(min_length=6, max_length=32, description="Six digits of the authenticator app"),
    ]


class EnrolmentOut(BaseModel):
    """A new secret for an authenticator app: scan a QR code or type the secret, then
    confirm with a first code."""

    secret: str = Field(description="Base32, for typing into the app")
    provisioning_uri: str = Field(description="otpauth:// URI (what the QR codes encode)")
    qr_svg: str = Field(description="The URI as a QR code: data:image/svg+xml URI")
    qr_png: str = Field(description="The URI as a QR code: data:image/png URI")

    @classmethod
    def of(cls, provisioning: Provisioning) -> EnrolmentOut:
        return cls(
            secret=provisioning.secret,
            provisioning_uri=provisioning.uri,
            qr_svg=provisioning.qr_svg,
            qr_png=provisioning.qr_png,
        )


class RecoveryCodesOut(BaseModel):
    recovery_codes: list[str] = Field(
        description="Each works once instead of a code; shown this once, stored only hashed"
    )


class EnrolledTokenOut(TokenOut):
    """The tokens of the login the enrolment completed, and the recovery codes."""

    recovery_codes: list[str] = Field(
        description="Each works once instead of a code; shown this once, stored only hashed"
    )


class MfaStatusOut(BaseModel):
    enrolled: bool
    confirmed_at: datetime | None
    required: bool = Field(description="Whether the municipality requires it of this account")
    recovery_codes_left: int

    @classmethod
    def of(cls, status: Status) -> MfaStatusOut:
        return cls(
            enrolled=status.enrolled,
            confirmed_at=status.confirmed_at,
            required=status.required,
            recovery_codes_left=status.recovery_codes_left,
        )
