"""Who may ask this municipality's earliest appointment: partner municipalities' clients,
registered at this municipality's identity and holding ``booking:search``."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.testing.tokens import TokenFactory

from ..factories import OTHER_TENANT, TENANT, create_office, create_service


def partner(
    tokens: TokenFactory, tenant: str = TENANT, scopes: str = "booking:search"
) -> dict[str, str]:
    return tokens.headers(sub="nachbarstadt", tenant=tenant, roles=[], scopes=scopes, client_id="n")


async def test_the_earliest_appointment_is_for_this_municipalitys_partners(
    client: httpx.AsyncClient, session: AsyncSession, tokens: TokenFactory
) -> None:
    service = await create_service(session, tenant=TENANT)
    await create_office(session, service, tenant=TENANT)
    url = f"/booking/v1/tenants/{TENANT}/earliest"
    params = {"leika": service.leika}

    anonymous = await client.get(url, params=params)
    without_scope = await client.get(
        url, params=params, headers=partner(tokens, scopes="cases:handover")
    )
    elsewhere = await client.get(url, params=params, headers=partner(tokens, tenant=OTHER_TENANT))
    citizen = await client.get(url, params=params, headers=tokens.headers(tenant=TENANT))
    allowed = await client.get(url, params=params, headers=partner(tokens))

    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert (without_scope.status_code, citizen.status_code) == (403, 403)
    assert without_scope.json()["type"] == "urn:rathaus:problem:insufficient-scope"
    assert elsewhere.status_code == 404
    assert elsewhere.json()["type"] == "urn:rathaus:problem:tenant-not-found"
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["leika"] == service.leika


async def test_a_municipality_may_still_answer_partners_that_ask_anonymously(
    client: httpx.AsyncClient, session: AsyncSession, app: FastAPI
) -> None:
    app.state.settings = app.state.settings.model_copy(
        update={"partner_search_requires_token": False}
    )
    service = await create_service(session, tenant=TENANT)
    await create_office(session, service, tenant=TENANT)

    anonymous = await client.get(
        f"/booking/v1/tenants/{TENANT}/earliest", params={"leika": service.leika}
    )

    assert anonymous.status_code == 200, anonymous.text
