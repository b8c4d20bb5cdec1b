"""Settings of the gateway, read from ``GATEWAY_*`` environment variables.

Structured settings are JSON in the environment, e.g.
``GATEWAY_SERVICES='{"booking": ["http://10.0.0.5:8002", "http://10.0.0.6:8002"]}'``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import SettingsConfigDict

from servicekit.settings import ServiceSettings

_REPOSITORY = Path(__file__).resolve().parents[2]


class Bucket(BaseModel):
    """A token bucket: ``burst`` requests at once, refilled at ``per_s`` requests a second."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    burst: int = Field(gt=0)
    per_s: float = Field(gt=0)


class RouteClass(BaseModel):
    """How the gateway treats the requests whose path starts with one of ``prefixes``.

    In a prefix, ``*`` stands for one path segment (``/booking/v1/tenants/*/availability``).
    The first class that matches wins; the last one should be the catch-all (no prefixes).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    prefixes: tuple[str, ...] = ()
    methods: frozenset[str] | None = None
    auth: Literal["required", "optional"] = "optional"
    timeout_s: float = Field(default=10.0, gt=0)
    """Deadline for the response head (connect, retries and waiting included)."""
    retries: int = Field(default=2, ge=0, le=5)
    max_body_bytes: int = Field(default=1024 * 1024, ge=0)
    per_ip: Bucket | None = None
    per_subject: Bucket | None = None
    client_auth: bool = False
    """``Authorization: Basic`` here is an OAuth2 client's authentication (RFC 6749 section
    2.3.1, authlib's default), passed on to the service unchecked; Bearer is checked."""
    signed_by_sender: bool = False
    """``Authorization`` here is a webhook's signature that the service checks (LiveKit's JWT
    over the body, with no scheme), passed on unchecked."""


def default_route_classes() -> tuple[RouteClass, ...]:
    return (
        RouteClass(
            name="login",
            prefixes=(
                "/identity/v1/auth/login",
                "/identity/v1/auth/external",
                "/identity/v1/auth/refresh",
                # The code step of staff logins: a guess at a code is a guess at a password.
                "/identity/v1/auth/mfa/",
                # Each request may mail someone: limited like a guess at a password.
                "/identity/v1/auth/password-reset",
                "/identity/v1/oauth2/token",
                "/identity/v1/oauth2/revoke",
                # The steps of the sign-in page (password, code, consent).
                "/identity/v1/oauth2/authorize",
                # Each checks a password or a mailed code, or mails someone.
                "/identity/v1/accounts/me/password",
                "/identity/v1/accounts/me/email",
                "/identity/v1/accounts/email-change/",
                "/identity/v1/accounts/invitations/",
                "/identity/v1/tenants/*/citizens",
                "/identity/v1/tenants/*/invitations",
            ),
            methods=frozenset({"POST"}),
            timeout_s=5.0,
            per_ip=Bucket(burst=10, per_s=0.2),
            client_auth=True,
        ),
        RouteClass(
            name="availability",
            # The earliest-appointment search asks partner municipalities too.
            prefixes=(
                "/booking/v1/tenants/*/availability/",
                "/booking/v1/tenants/*/earliest",
            ),
            timeout_s=5.0,
            per_ip=Bucket(burst=30, per_s=2.0),
            per_subject=Bucket(burst=30, per_s=2.0),
        ),
        RouteClass(
            name="webhooks",
            # A municipality's LiveKit server tells documents what happens in its rooms.
            prefixes=("/documents/v1/calls/livekit/webhook",),
            methods=frozenset({"POST"}),
            timeout_s=5.0,
            retries=0,
            max_body_bytes=64 * 1024,
            per_ip=Bucket(burst=50, per_s=10.0),
            signed_by_sender=True,
        ),
        RouteClass(
            name="uploads",
            prefixes=("/documents/v1/",),
            methods=frozenset({"POST", "PUT"}),
            timeout_s=120.0,
            retries=0,
            max_body_bytes=50 * 1024 * 1024,
            per_ip=Bucket(burst=20, per_s=1.0),
        ),
        RouteClass(
            name="default",
            per_ip=Bucket(burst=200, per_s=50.0),
            per_subject=Bucket(burst=200, per_s=50.0),
        ),
    )


class GatewaySettings(ServiceSettings):
    """Settings of the gateway, read from ``GATEWAY_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", frozen=True)

    service_name: str = "gateway"
    port: int = 8000
    workers: int = Field(default=1, ge=1, le=64)

    identity_url: str = "http://127.0.0.1:8001"
    booking_url: str = "http://127.0.0.1:8002"
    documents_url: str = "http://127.0.0.1:8003"
    """Base URL of each service; several replicas comma-separated."""
    services: dict[str, list[str]] | None = None
    """Service name (the first path segment) to its replicas' base URLs; replaces the three
    ``*_url`` settings when given (any set of services, e.g. for tests and benchmarks)."""
    route_classes: tuple[RouteClass, ...] = Field(default_factory=default_route_classes)
    well_known_service: str | None = "identity"
    """The service that answers ``/.well-known/...`` at the root (OpenID Connect discovery,
    where client libraries look for it); None: nobody."""

    connect_timeout_s: float = Field(default=1.0, gt=0)
    retry_backoff_s: float = Field(default=0.02, ge=0)
    retry_backoff_cap_s: float = Field(default=0.25, ge=0)
    replica_eject_s: float = Field(default=5.0, gt=0)
    breaker_failures: int = Field(default=5, ge=1)
    breaker_open_s: float = Field(default=5.0, gt=0)
    health_interval_s: float = Field(default=5.0, ge=0)
    """Active health checks of every replica; 0 turns them off (passive ejection remains)."""

    cors_origins: tuple[str, ...] = ()
    """Origins that browsers may call from (exact matches), per environment."""
    cors_max_age_s: int = 600

    redis_url: str | None = None
    """Rate-limit buckets live here when set, shared by every gateway replica."""
    rate_limit_prefix: str = "rathaus:gateway:rl:"
    rate_limit_retry_s: float = Field(default=1.0, gt=0)
    """With Redis unreachable, buckets are per process; Redis is asked again this often."""
    # The client address: X-Forwarded-For / Forwarded are read only from peers in
    # ``trusted_proxies`` (the kit's setting: ``GATEWAY_TRUSTED_PROXIES``, the load balancer's
    # networks), walking right to left past them. Connections per address are capped (429).
    forwarded_header: Literal["x-forwarded-for", "forwarded"] = "x-forwarded-for"
    """Which header the trusted proxies set (the other one is not believed)."""
    max_connections_per_client: int | None = Field(default=256, ge=1)
    max_concurrency: int | None = Field(default=10_000, ge=1)

    contracts_dir: Path = _REPOSITORY / "contracts"
    portal_dir: Path | None = _REPOSITORY / "web" / "dist"
    """The built reference frontend (``make install`` builds it), served at ``/``; None, or
    a folder without ``index.html``: no pages, the API alone."""
    contract_version: str = "v1"
    access_log: bool = True

    def upstream_services(self) -> dict[str, list[str]]:
        if self.services is not None:
            return self.services
        return {
            name: [url.strip() for url in urls.split(",") if url.strip()]
            for name, urls in (
                ("identity", self.identity_url),
                ("booking", self.booking_url),
                ("documents", self.documents_url),
            )
        }

    def insecure_settings(self) -> list[str]:
        # The gateway keeps no database; the database_url inherited from the kit is unused.
        problems: list[str] = []
        if "*" in self.cors_origins:
            problems.append("cors_origins: a wildcard lets every web page call the API")
        return problems
