from __future__ import annotations

import base64
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Self

from fastapi import Depends
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from documents.calls.livekit import LiveKitServer
from documents.crypto.keys import KeyRing, decode_kek
from documents.crypto.stream import DEFAULT_CHUNK_SIZE
from servicekit.dependencies import app_state
from servicekit.settings import Environment, ServiceSettings

# Known to everyone who reads this file: fit for a developer's machine only.
DEVELOPMENT_KEK = base64.b64encode(b"rathaus-documents-development-kk").decode()
MIB = 1024 * 1024


class StorageBackend(StrEnum):
    LOCAL = "local"
    S3 = "s3"


class DocumentsSettings(ServiceSettings):
    """Settings of the documents service, read from ``DOCUMENTS_*`` environment variables.

    Mappings (``keks``, ``tenant_*``) are given as JSON, e.g.
    ``DOCUMENTS_KEKS='{"2026-11": "<base64 of 32 bytes>"}'``.
    """

    model_config = SettingsConfigDict(env_prefix="DOCUMENTS_", extra="ignore", frozen=True)

    service_name: str = "documents"
    port: int = 8003
    database_url: str = "sqlite+aiosqlite:///var/documents.db"

    storage_backend: StorageBackend = StorageBackend.LOCAL
    blob_dir: Path = Path("var/blobs")
    s3_bucket: str = "rathaus-documents"
    s3_prefix: str = "blobs/"
    s3_endpoint_url: str | None = None
    s3_region: str | None = "us-east-1"
    s3_access_key_id: SecretStr | None = None
    s3_secret_access_key: SecretStr | None = None
    s3_create_bucket: bool = False

    keks: dict[str, SecretStr] = Field(
        default_factory=lambda: {"development": SecretStr(DEVELOPMENT_KEK)},
        description="Key-encryption keys by id, base64 of 32 bytes each",
    )
    active_kek_id: str = "development"
    encryption_chunk_size: int = Field(default=DEFAULT_CHUNK_SIZE, ge=4096, le=16 * MIB)

    max_upload_bytes: int = Field(default=20 * MIB, ge=1)
    tenant_max_upload_bytes: dict[str, int] = Field(default_factory=dict)
    retention_days: int = Field(default=90, ge=0)
    tenant_retention_days: dict[str, int] = Field(default_factory=dict)

    max_image_pixels: int = Field(
        default=50_000_000,
        ge=1,
        description="The most pixels an uploaded image may claim in its header (width x height)",
    )
    pdf_check_timeout_s: float = Field(
        default=10.0, gt=0, le=120, description="How long opening an uploaded PDF may take"
    )

    idempotency_ttl_hours: int = Field(
        default=24, ge=1, description="How long an upload's Idempotency-Key is remembered"
    )
    idempotency_stale_seconds: int = Field(
        default=600,
        ge=1,
        description=(
            "After this long an unfinished upload no longer blocks a retry with its key (an "
            "upload may stream for minutes)"
        ),
    )

    clamd_host: str | None = Field(
        default=None, description="clamd's host (TCP); none and no socket: nothing is scanned"
    )
    clamd_port: int = Field(default=3310, ge=1, le=65535)
    clamd_socket: str | None = Field(default=None, description="clamd's unix socket instead")
    scanner_timeout_s: float = Field(
        default=30.0, gt=0, description="How long one scan (or a readiness ping) may take"
    )
    rescan_interval_s: float = Field(
        default=60.0, ge=0, description="How often pending documents are rescanned; 0: never"
    )

    booking_url: str = "http://127.0.0.1:8002"
    booking_timeout_s: float = Field(default=5.0, gt=0)
    access_reuse_s: float = Field(
        default=5.0,
        ge=0,
        le=60,
        description=(
            "How long booking's yes to a caller's exact credentials is reused for reading that "
            "booking's documents (metadata, content); 0: booking is asked every time"
        ),
    )
    handover_timeout_s: float = Field(
        default=30.0,
        gt=0,
        le=600,
        description="How long a partner may take for each step of a case hand-over",
    )
    room_poll_s: float = Field(
        default=2.0,
        gt=0,
        le=60,
        description=(
            "How often a consultation room's event stream looks for events on its own (events "
            "written by this process wake it at once; those of other replicas within this)"
        ),
    )
    room_keep_alive_s: float = Field(default=15.0, gt=0, le=300)
    room_recheck_s: float = Field(
        default=30.0,
        gt=0,
        le=600,
        description="How often an open event stream asks booking again whether the caller may stay",
    )
    room_streams_max: int = Field(
        default=1000, ge=1, description="Event streams one process keeps open at most (503 beyond)"
    )
    room_stream_max_s: float = Field(
        default=900.0, gt=0, le=86_400, description="The longest an event stream stays open"
    )

    call_opens_before_s: float = Field(
        default=900.0,
        ge=0,
        le=86_400,
        description="How long before the appointment's start its video call may be entered",
    )
    call_grace_s: float = Field(
        default=900.0,
        ge=0,
        le=86_400,
        description="How long after the appointment's end its video call may go on",
    )
    call_max_message_bytes: int = Field(
        default=32_768,
        ge=1024,
        le=1_048_576,
        description="The largest signalling message (an SDP offer is a few KiB); larger closes",
    )
    call_messages_burst: int = Field(
        default=100, ge=1, description="Signalling messages a socket may send at once"
    )
    call_messages_per_s: float = Field(
        default=20.0, gt=0, description="Signalling messages a socket may send per second"
    )
    call_sockets_max: int = Field(
        default=2000, ge=1, description="Call sockets one process keeps open at most"
    )
    call_redis_url: str | None = Field(
        default=None,
        description=(
            "Redis that relays signalling between replicas (pub/sub); unset: peers meet only "
            "on the same process (one replica, or sticky routing per room)"
        ),
    )
    stun_urls: list[str] = Field(
        default_factory=list, description='STUN servers for the calls, e.g. ["stun:turn.example"]'
    )
    turn_urls: list[str] = Field(
        default_factory=list,
        description=(
            "TURN servers for the calls, e.g. "
            '["turn:turn.example:3478", "turns:turn.example:443?transport=tcp"]'
        ),
    )
    turn_secret: SecretStr | None = Field(
        default=None,
        description="The TURN server's shared secret (coturn's static-auth-secret)",
    )
    livekit: dict[str, LiveKitServer] = Field(
        default_factory=dict,
        description=(
            "The municipalities (by AGS) whose calls go to their own LiveKit server instead of "
            'WebRTC with TURN: {"06999001": {"url", "api_key", "api_secret"}}'
        ),
    )
    call_close_interval_s: float = Field(
        default=30.0,
        ge=0,
        le=3600,
        description=(
            "How often the LiveKit rooms whose window is over are closed (a round of each "
            "replica); 0: never (closed by hand, or by LiveKit once empty)"
        ),
    )
    turn_credential_ttl_s: int = Field(
        default=4 * 3600,
        ge=60,
        le=86_400,
        description="The longest a TURN credential lives (it ends with the call's window anyway)",
    )

    @field_validator("keks")
    @classmethod
    def _keks_are_aes256(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        if not value:
            raise ValueError("at least one key-encryption key is needed")
        for secret in value.values():
            decode_kek(secret.get_secret_value())
        return value

    @model_validator(mode="after")
    def _active_kek_is_known(self) -> Self:
        if self.active_kek_id not in self.keks:
            raise ValueError(f"active_kek_id {self.active_kek_id!r} is not one of keks")
        return self

    @model_validator(mode="after")
    def _turn_has_a_secret(self) -> Self:
        if self.turn_urls and self.turn_secret is None:
            raise ValueError("turn_urls need turn_secret (coturn's static-auth-secret)")
        if self.turn_secret is not None and len(self.turn_secret.get_secret_value()) < 32:
            raise ValueError("turn_secret needs at least 32 characters")
        return self

    @model_validator(mode="after")
    def _clamd_is_one_place(self) -> Self:
        if self.clamd_host and self.clamd_socket:
            raise ValueError("clamd_host and clamd_socket: set one of them, not both")
        return self

    @model_validator(mode="after")
    def _production_scans_uploads(self) -> Self:
        # As production refuses to start without an SMTP server (servicekit.mail.settings):
        # without a scanner every upload would count as clean.
        if self.environment is Environment.PRODUCTION and not self.scans():
            raise ValueError(
                "no malware scanner configured: production scans every upload and refuses to "
                "start without clamd; set DOCUMENTS_CLAMD_HOST (and DOCUMENTS_CLAMD_PORT, "
                "default 3310) or DOCUMENTS_CLAMD_SOCKET"
            )
        return self

    def scans(self) -> bool:
        """Whether a scanner (clamd) is configured."""
        return bool(self.clamd_host or self.clamd_socket)

    def _uses_development_kek(self) -> bool:
        development = decode_kek(DEVELOPMENT_KEK)
        return any(
            decode_kek(secret.get_secret_value()) == development for secret in self.keks.values()
        )

    def insecure_settings(self) -> list[str]:
        # The kit refuses these in production; a published KEK would make encryption moot.
        problems = super().insecure_settings()
        if self._uses_development_kek():
            problems.append("keks: the built-in development key-encryption key")
        return problems

    def key_ring(self) -> KeyRing:
        return KeyRing(
            {kek_id: decode_kek(s.get_secret_value()) for kek_id, s in self.keks.items()},
            self.active_kek_id,
        )

    def upload_limit(self, tenant: str) -> int:
        return self.tenant_max_upload_bytes.get(tenant, self.max_upload_bytes)

    def retention_days_for(self, tenant: str) -> int:
        return self.tenant_retention_days.get(tenant, self.retention_days)


SettingsDep = Annotated[DocumentsSettings, Depends(app_state("settings", DocumentsSettings))]
