from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.testing.tokens import TokenFactory

from ..factories import OTHER_TENANT, TENANT, create_service

PASSPORT: dict[str, Any] = {
    "leika": "99102013001000",
    "name": {"de": "Reisepass beantragen", "en": "Apply for a passport"},
    "description": {"de": "Für Reisen ins Ausland.", "en": "For travelling abroad."},
    "duration_minutes": 20,
    "fee_cents": 7000,
    "online_hint": {"de": "Termin online buchen", "en": "Book online"},
    "required_documents": [
        {
            "name": {"de": "Biometrisches Lichtbild", "en": "Biometric photo"},
            "description": {"de": "Nicht älter als sechs Monate", "en": "Not older than 6 months"},
            "mandatory": True,
            "accepted_formats": ["original"],
        },
        {
            "name": {"de": "Alter Reisepass", "en": "Old passport"},
            "mandatory": False,
        },
    ],
}


def admin(tokens: TokenFactory, tenant: str = TENANT) -> dict[str, str]:
    return tokens.headers(sub="admin-1", tenant=tenant, roles=["admin"])


async def test_admin_adds_service_and_anyone_reads_its_pre_information_in_de_and_en(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    created = await client.post(
        f"/booking/v1/tenants/{TENANT}/services", json=PASSPORT, headers=admin(tokens)
    )
    assert created.status_code == 201, created.text
    service_id = created.json()["id"]

    german = await client.get(f"/booking/v1/tenants/{TENANT}/services/{service_id}")
    english = await client.get(
        f"/booking/v1/tenants/{TENANT}/services/{service_id}",
        headers={"Accept-Language": "en-GB,en;q=0.9,de;q=0.5"},
    )

    assert german.json()["name"] == "Reisepass beantragen"
    assert german.headers["content-language"] == "de"
    assert [d["name"] for d in german.json()["required_documents"]] == [
        "Biometrisches Lichtbild",
        "Alter Reisepass",
    ]
    assert english.json()["name"] == "Apply for a passport"
    assert english.json()["online_hint"] == "Book online"
    assert english.json()["required_documents"][0]["description"] == "Not older than 6 months"
    assert english.json()["required_documents"][1]["mandatory"] is False
    listed = await client.get(f"/booking/v1/tenants/{TENANT}/services?leika=99102013001000")
    assert [s["id"] for s in listed.json()["items"]] == [service_id]


async def test_leika_must_have_14_digits(client: httpx.AsyncClient, tokens: TokenFactory) -> None:
    response = await client.post(
        f"/booking/v1/tenants/{TENANT}/services",
        json={**PASSPORT, "leika": "9910201300100"},
        headers=admin(tokens),
    )

    assert response.status_code == 422
    assert response.json()["invalid_params"][0]["name"] == "body.leika"


async def test_a_fee_beyond_the_32_bit_column_is_422_not_a_database_error(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    response = await client.post(
        f"/booking/v1/tenants/{TENANT}/services",
        json={**PASSPORT, "fee_cents": 2**31},
        headers=admin(tokens),
    )

    assert response.status_code == 422, response.text
    assert response.json()["invalid_params"][0]["name"] == "body.fee_cents"


async def test_second_service_with_same_leika_gets_409(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    url = f"/booking/v1/tenants/{TENANT}/services"
    assert (await client.post(url, json=PASSPORT, headers=admin(tokens))).status_code == 201

    response = await client.post(url, json=PASSPORT, headers=admin(tokens))

    assert response.status_code == 409
    assert response.json()["type"] == "urn:rathaus:problem:leika-taken"


async def test_only_admins_of_the_tenant_write_the_catalogue(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    url = f"/booking/v1/tenants/{TENANT}/services"

    anonymous = await client.post(url, json=PASSPORT)
    citizen = await client.post(url, json=PASSPORT, headers=tokens.headers(roles=["citizen"]))
    foreign_admin = await client.post(url, json=PASSPORT, headers=admin(tokens, OTHER_TENANT))

    assert anonymous.status_code == 401
    assert citizen.status_code == 403
    assert foreign_admin.status_code == 404  # another municipality's: not found
    assert foreign_admin.headers["content-type"] == "application/problem+json"


async def test_replacing_a_service_keeps_the_ids_of_documents_it_names(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    url = f"/booking/v1/tenants/{TENANT}/services"
    created = (await client.post(url, json=PASSPORT, headers=admin(tokens))).json()
    photo = created["required_documents"][0]
    changed = {
        **PASSPORT,
        "duration_minutes": 30,
        "required_documents": [
            {"id": photo["id"], "name": {"de": "Foto", "en": "Photo"}},
            {"name": {"de": "Meldebescheinigung", "en": "Registration"}},
        ],
    }

    replaced = await client.put(f"{url}/{created['id']}", json=changed, headers=admin(tokens))

    assert replaced.status_code == 200, replaced.text
    documents = replaced.json()["required_documents"]
    assert documents[0]["id"] == photo["id"]
    assert documents[0]["name"] == "Foto"
    assert documents[1]["id"] != created["required_documents"][1]["id"]
    assert replaced.json()["duration_minutes"] == 30


async def test_another_tenants_service_is_404(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    service = await create_service(session, tenant=OTHER_TENANT)

    response = await client.get(f"/booking/v1/tenants/{TENANT}/services/{service.id}")

    assert response.status_code == 404
    assert response.json()["type"] == "urn:rathaus:problem:service-not-found"
