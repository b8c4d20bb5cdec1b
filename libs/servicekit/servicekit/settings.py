"""Settings shared by every service; each service subclasses with its own env prefix."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, Self

from pydantic import (
    Field,
    IPvAnyNetwork,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from servicekit.events.subscribers import Subscriber
from servicekit.outbound.policy import DEVELOPMENT_POLICY, AddressRefused, OutboundPolicy


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class InsecureSettingsError(ValueError):
    """Raised when a setting that is only fit for development is used elsewhere."""


TRACES_EXPORTERS = frozenset({"none", "otlp", "console"})
TRACES_SAMPLERS = frozenset(
    {
        "always_on",
        "always_off",
        "traceidratio",
        "parentbased_always_on",
        "parentbased_always_off",
        "parentbased_traceidratio",
    }
)


class ServiceSettings(BaseSettings):
    """Common settings. Subclasses set ``model_config`` with their own ``env_prefix``."""

    # OpenTelemetry's variables are read under their own names (validation_alias), and may be
    # passed by field name too (otel_...).
    model_config = SettingsConfigDict(
        env_prefix="RATHAUS_", extra="ignore", frozen=True, validate_by_name=True
    )

    service_name: str = "service"
    environment: Environment = Environment.DEVELOPMENT
    database_url: str = "sqlite+aiosqlite:///var/service.db"
    database_pool_size: int = Field(default=10, ge=1, le=200)
    database_echo: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: str = "INFO"
    log_json: bool = True
    readiness_timeout_s: float = Field(default=2.0, gt=0)
    shutdown_timeout_s: float = Field(default=15.0, gt=0)
    # The server's edge (servicekit.server): X-Forwarded-For is believed only from peers in
    # these networks (the gateway's, for a service; a load balancer's, for the gateway), e.g.
    # ["10.20.0.0/16"]; none by default. Their connections are not capped per address.
    trusted_proxies: list[IPvAnyNetwork] = Field(default_factory=list)
    # A request head larger than this or with more fields is answered 431; one that has not
    # arrived whole after header_timeout_s is answered 408 (a silent connection is closed).
    max_header_bytes: int = Field(default=32 * 1024, ge=1024, le=1024 * 1024)
    max_header_fields: int = Field(default=100, ge=8, le=1000)
    header_timeout_s: float = Field(default=10.0, gt=0)
    keep_alive_timeout_s: int = Field(default=5, ge=1)
    # Open connections of one client address per process (429 above); None: no cap. Open
    # connections and in-flight requests of the process (503 above; the gateway keeps up to
    # 512 idle connections per worker to each replica).
    max_connections_per_client: int | None = Field(default=None, ge=1)
    max_concurrency: int | None = Field(default=4096, ge=1)
    # Token checks (servicekit.auth): whose tokens this service trusts.
    auth_issuer: str = "http://127.0.0.1:8000/identity"
    auth_audience: str = "rathaus"
    auth_jwks_url: str = "http://127.0.0.1:8001/identity/v1/jwks"
    auth_leeway_s: int = Field(default=30, ge=0, le=300)
    auth_jwks_cache_s: float = Field(default=300.0, gt=0)
    auth_jwks_min_refetch_s: float = Field(default=30.0, ge=0)
    # How many verified tokens are remembered (by their hash) until they expire; 0: none.
    auth_verified_tokens: int = Field(default=10_000, ge=0)
    # Events (servicekit.events): the webhooks this service's events go to, as JSON
    # [{"name", "url", "secret", "types": [...]}], and the secrets of the services whose events
    # it receives, by their source: {"booking": "..."}.
    events_subscribers: list[Subscriber] = Field(default_factory=list)
    events_secrets: dict[str, SecretStr] = Field(default_factory=dict)
    events_dispatch_interval_s: float = Field(default=1.0, gt=0)
    # Calls to URLs someone configured (partner municipalities, webhooks; servicekit.outbound):
    # the non-public networks they may reach all the same, e.g. ["10.20.0.0/16"]. Unset:
    # loopback in development and tests (where neighbouring instances run locally), none in
    # production.
    outbound_allowed_networks: list[IPvAnyNetwork] | None = None
    # Host names called over http and wherever they resolve: the deployment's own services
    # (compose's and Kubernetes' service names), e.g. ["booking"].
    outbound_allowed_hosts: list[str] = Field(default_factory=list)
    # Traces (servicekit.tracing, docs/architecture.md#observability), by OpenTelemetry's own
    # variables. Off unless an exporter is named or an OTLP endpoint is set; then OTLP over
    # HTTP/protobuf to OTEL_EXPORTER_OTLP_ENDPOINT (+ /v1/traces) or, as it is,
    # OTEL_EXPORTER_OTLP_TRACES_ENDPOINT. service.name: OTEL_SERVICE_NAME, else service_name.
    otel_sdk_disabled: bool = Field(default=False, validation_alias="OTEL_SDK_DISABLED")
    otel_traces_exporter: str | None = Field(default=None, validation_alias="OTEL_TRACES_EXPORTER")
    otel_service_name: str | None = Field(default=None, validation_alias="OTEL_SERVICE_NAME")
    otel_resource_attributes: str | None = Field(
        default=None, validation_alias="OTEL_RESOURCE_ATTRIBUTES"
    )
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None, validation_alias="OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    otel_exporter_otlp_traces_endpoint: str | None = Field(
        default=None, validation_alias="OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    )
    # "key=value,key2=value2", e.g. a collector's API key: a secret.
    otel_exporter_otlp_headers: SecretStr | None = Field(
        default=None, validation_alias="OTEL_EXPORTER_OTLP_HEADERS"
    )
    # Only OTLP over HTTP with protobuf is built in; a gRPC collector takes it on port 4318 too.
    otel_exporter_otlp_protocol: Literal["http/protobuf"] = Field(
        default="http/protobuf", validation_alias="OTEL_EXPORTER_OTLP_PROTOCOL"
    )
    otel_exporter_otlp_timeout: int = Field(
        default=10_000, gt=0, validation_alias="OTEL_EXPORTER_OTLP_TIMEOUT"
    )
    otel_traces_sampler: str = Field(
        default="parentbased_always_on", validation_alias="OTEL_TRACES_SAMPLER"
    )
    otel_traces_sampler_arg: float | None = Field(
        default=None, ge=0, le=1, validation_alias="OTEL_TRACES_SAMPLER_ARG"
    )

    def outbound_policy(self) -> OutboundPolicy:
        """What a configured URL may point at: https only in production; non-public addresses
        only in :attr:`outbound_allowed_networks`."""
        networks = self.outbound_allowed_networks
        production = self.environment is Environment.PRODUCTION
        if networks is None:
            networks = [] if production else list(DEVELOPMENT_POLICY.allowed_networks)
        return OutboundPolicy(
            https_only=production,
            allowed_networks=tuple(networks),
            allowed_hosts=frozenset(host.lower() for host in self.outbound_allowed_hosts),
        )

    @field_validator("events_subscribers")
    @classmethod
    def _subscriber_names_are_unique(cls, value: list[Subscriber]) -> list[Subscriber]:
        names = [subscriber.name for subscriber in value]
        if len(names) != len(set(names)):
            raise ValueError("subscriber names must be unique")
        return value

    @field_validator("otel_traces_exporter")
    @classmethod
    def _known_exporters(cls, value: str | None) -> str | None:
        if value is not None:
            unknown = {name.strip() for name in value.lower().split(",")} - TRACES_EXPORTERS
            if unknown:
                raise ValueError(f"unknown traces exporter(s): {', '.join(sorted(unknown))}")
        return value

    @field_validator("otel_traces_sampler")
    @classmethod
    def _known_sampler(cls, value: str) -> str:
        if value.strip().lower() not in TRACES_SAMPLERS:
            raise ValueError(
                f"unknown sampler {value!r}: one of {', '.join(sorted(TRACES_SAMPLERS))}"
            )
        return value.strip().lower()

    def traces_exporters(self) -> frozenset[str]:
        """Where the service's spans go: {"otlp"}, {"console"}, both, or none (tracing off)."""
        if self.otel_sdk_disabled:
            return frozenset()
        if self.otel_traces_exporter is None:
            endpoint = self.otel_exporter_otlp_traces_endpoint or self.otel_exporter_otlp_endpoint
            return frozenset({"otlp"}) if endpoint else frozenset()
        names = {name.strip() for name in self.otel_traces_exporter.lower().split(",")}
        return frozenset(names - {"none"})

    @field_validator("events_secrets")
    @classmethod
    def _event_secrets_are_long(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        if any(len(secret.get_secret_value()) < 32 for secret in value.values()):
            raise ValueError("an event secret needs at least 32 characters")
        return value

    def insecure_settings(self) -> list[str]:
        """Names the settings that are acceptable only in development; subclasses extend."""
        problems: list[str] = []
        if self.database_url.startswith("sqlite"):
            problems.append("database_url: SQLite is for development and tests; use PostgreSQL")
        for subscriber in self.events_subscribers:
            try:
                self.outbound_policy().check_literal(subscriber.url)
            except AddressRefused as refused:
                problems.append(f"events_subscribers: {subscriber.name}: {refused}")
        return problems

    @model_validator(mode="after")
    def _refuse_insecure_defaults_in_production(self) -> Self:
        if self.environment is Environment.PRODUCTION:
            problems = self.insecure_settings()
            if problems:
                raise InsecureSettingsError(
                    "insecure settings refused in production: " + "; ".join(problems)
                )
        return self
