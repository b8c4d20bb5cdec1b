from __future__ import annotations

from fastapi import FastAPI

from identity import models  # noqa: F401 - registers every table on Base.metadata
from identity.settings import IdentitySettings
from identity.tenants.router import router as tenants_router
from servicekit.app import create_service_app


def create_app(settings: IdentitySettings | None = None) -> FastAPI:
    settings = settings or IdentitySettings()
    return create_service_app(
        settings,
        title="Rathaus Identity",
        version="1.0.0",
        description=(
            "Municipalities (tenants), accounts and roles, OAuth2 clients of partner "
            "authorities; signs tokens and publishes its keys (OIDC discovery, JWKS)."
        ),
        routers=[tenants_router],
    )
