from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from servicekit.settings import ServiceSettings


class BookingSettings(ServiceSettings):
    """Settings of the booking service, read from ``BOOKING_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="BOOKING_", extra="ignore", frozen=True)

    service_name: str = "booking"
    port: int = 8002
    database_url: str = "sqlite+aiosqlite:///var/booking.db"
