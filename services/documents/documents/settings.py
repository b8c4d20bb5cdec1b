from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from servicekit.settings import ServiceSettings


class DocumentsSettings(ServiceSettings):
    """Settings of the documents service, read from ``DOCUMENTS_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="DOCUMENTS_", extra="ignore", frozen=True)

    service_name: str = "documents"
    port: int = 8003
    database_url: str = "sqlite+aiosqlite:///var/documents.db"
