from __future__ import annotations

import httpx
from fastapi import FastAPI

from booking.seed import DEMO_TENANT_AGS, seed_demo

from ..factories import local_day


async def test_demo_seed_is_idempotent_and_bookable(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await seed_demo(app)
    await seed_demo(app)

    services = (await client.get(f"/booking/v1/tenants/{DEMO_TENANT_AGS}/services")).json()
    offices = (await client.get(f"/booking/v1/tenants/{DEMO_TENANT_AGS}/offices")).json()
    assert len(services["items"]) == 4
    assert len(offices["items"]) == 2
    assert all(s["required_documents"] for s in services["items"])
    month = local_day(14).strftime("%Y-%m")
    days = await client.get(
        f"/booking/v1/tenants/{DEMO_TENANT_AGS}/availability/days",
        params={"service_id": services["items"][0]["id"], "month": month},
    )
    assert days.json()["days"]
    assert not any(office["opens_on_public_holidays"] for office in offices["items"])
    year = local_day(0).year
    holidays = await client.get(
        f"/booking/v1/tenants/{DEMO_TENANT_AGS}/holidays", params={"year": year}
    )
    assert {"day": f"{year}-12-25", "name": "Erster Weihnachtstag", "source": "land"} in (
        holidays.json()["items"]
    )
