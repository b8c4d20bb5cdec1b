from __future__ import annotations

from pydantic import AnyHttpUrl, Field
from pydantic_settings import SettingsConfigDict

from servicekit.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    """Settings of the gateway, read from ``GATEWAY_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", frozen=True)

    service_name: str = "gateway"
    port: int = 8000
    identity_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8001")
    booking_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8002")
    documents_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8003")
    upstream_timeout_s: float = Field(default=30.0, gt=0)
    upstream_connect_timeout_s: float = Field(default=2.0, gt=0)

    def upstreams(self) -> dict[str, str]:
        """Service name (the first path segment) to base URL."""
        return {
            "identity": str(self.identity_url).rstrip("/"),
            "booking": str(self.booking_url).rstrip("/"),
            "documents": str(self.documents_url).rstrip("/"),
        }

    def insecure_settings(self) -> list[str]:
        # The gateway keeps no database; only the upstream settings matter here.
        return []
