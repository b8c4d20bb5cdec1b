from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from identity import models  # noqa: F401 - registers every table on Base.metadata
from identity.accounts.passwords import Passwords
from identity.accounts.router import router as accounts_router
from identity.audit.router import router as audit_router
from identity.botcheck.models import UsedChallenge
from identity.clients.router import router as clients_router
from identity.clock import Clock, SystemClock
from identity.events.models import outbox_of
from identity.events.models import webhooks as event_webhooks
from identity.keys.dependencies import make_key_cipher
from identity.keys.router import router as keys_router
from identity.keys.source import DatabaseKeys
from identity.login.external import ExternalProviders
from identity.login.router import router as login_router
from identity.mail.models import OutboxMail
from identity.mfa.router import router as mfa_router
from identity.oauth2.discovery import router as discovery_router
from identity.oauth2.pages import router as sign_in_pages_router
from identity.oauth2.router import router as oauth2_router
from identity.password_reset.router import router as password_reset_router
from identity.settings import IdentitySettings
from identity.tenants.router import router as tenants_router
from servicekit.app import create_service_app
from servicekit.auth import TokenVerifier
from servicekit.botcheck import Botcheck, botcheck_router
from servicekit.mail import Mailbox, MailTemplates
from servicekit.mail.router import mail_router

TOKEN_ENDPOINT = "/identity/v1/oauth2/token"
REVOKE_ENDPOINT = "/identity/v1/oauth2/revoke"


async def _close_external_providers(app: FastAPI) -> None:
    await app.state.external_providers.aclose()


def create_app(
    settings: IdentitySettings | None = None,
    *,
    clock: Clock | None = None,
) -> FastAPI:
    settings = settings or IdentitySettings()
    templates = MailTemplates.of_package("identity", override=settings.mail_templates_dir)
    app = create_service_app(
        settings,
        title="Rathaus Identity",
        version="1.0.0",
        description=(
            "Municipalities (tenants), accounts and roles, OAuth2 clients of partner "
            "authorities; signs tokens and publishes its keys (OIDC discovery, JWKS)."
        ),
        routers=[
            tenants_router,
            accounts_router,
            clients_router,
            login_router,
            mfa_router,
            password_reset_router,
            oauth2_router,
            sign_in_pages_router,
            keys_router,
            audit_router,
            discovery_router,
            botcheck_router("/identity/v1"),
            mail_router("/identity/v1"),
        ],
        outbox=outbox_of(settings),
        mailbox=Mailbox.of_service(settings, OutboxMail, templates),
        webhooks=[event_webhooks],
        on_shutdown=[_close_external_providers],
    )
    app.state.clock = clock or SystemClock()
    app.state.passwords = Passwords(settings)
    app.state.botcheck = Botcheck(settings, UsedChallenge)
    app.state.key_cipher = make_key_cipher(settings)
    app.state.external_providers = ExternalProviders(settings.external_issuers)
    # Identity checks its own tokens against its own key table, not over HTTP.
    app.state.token_verifier = TokenVerifier(
        issuer=settings.auth_issuer,
        audience=settings.auth_audience,
        sources=[DatabaseKeys(app.state.database)],
        leeway_s=settings.auth_leeway_s,
    )
    _document_oauth2_errors(app)
    return app


def _document_oauth2_errors(app: FastAPI) -> None:
    """The token endpoints answer errors as RFC 6749 JSON, not problem+json: say so."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = build()
            for path in (TOKEN_ENDPOINT, REVOKE_ENDPOINT):
                responses = document["paths"][path]["post"]["responses"]
                for status in ("400", "401"):
                    if status in responses:
                        responses[status]["content"] = {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/OAuth2Error"}
                            }
                        }
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
