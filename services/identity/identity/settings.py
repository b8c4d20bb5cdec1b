from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from servicekit.settings import ServiceSettings


class IdentitySettings(ServiceSettings):
    """Settings of the identity service, read from ``IDENTITY_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="IDENTITY_", extra="ignore", frozen=True)

    service_name: str = "identity"
    port: int = 8001
    database_url: str = "sqlite+aiosqlite:///var/identity.db"
