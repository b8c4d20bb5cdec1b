"""Largest Contentful Paint of the citizen's pages, and the JavaScript they ship.

    .venv/bin/python bench/web/run.py [--repeat 7] [--botcheck]

Starts one whole Rathaus on loopback (tests/live_rathaus.py: identity, booking, documents and
the gateway serving the built portal from web/dist; SQLite, demo seed), then lets Chromium
(Debian's /usr/bin/chromium, driven by playwright-core) visit each page cold ``--repeat`` times
and read the LCP from a PerformanceObserver (bench/web/lcp.mjs). The booking page holds a slot
on every visit (the first service's next free slots, one per visit); ``--botcheck`` makes the
municipality ask for the ALTCHA proof of work first (at production's difficulty), so the time
until the booking form shows includes solving it. Prints a Markdown table for the README.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from servicekit.testing.plugin import DatabaseRegistry  # noqa: E402
from tests.live_rathaus import TENANT, start_system  # noqa: E402


async def main(repeat: int, botcheck: bool) -> None:
    with tempfile.TemporaryDirectory() as folder:
        registry = DatabaseRegistry(tmp_dir=Path(folder))
        system = await start_system(
            registry,
            "sqlite",
            Path(folder) / "blobs",
            overrides={
                "gateway": {"portal_dir": ROOT / "web" / "dist"},
                "booking": {"tenant_botcheck_required": {TENANT: botcheck}},
            },
        )
        try:
            async with httpx.AsyncClient(base_url=system.gateway) as client:
                services = (await client.get(f"/booking/v1/tenants/{TENANT}/services")).json()
                service = services["items"][0]
                office = (await client.get(f"/booking/v1/tenants/{TENANT}/offices")).json()
                where = {"service_id": service["id"], "office_id": office["items"][0]["id"]}
                month = datetime.now(UTC).strftime("%Y-%m")
                days = await client.get(
                    f"/booking/v1/tenants/{TENANT}/availability/days",
                    params={**where, "month": month},
                )
                starts: list[str] = []
                for day in days.json()["days"]:
                    slots = await client.get(
                        f"/booking/v1/tenants/{TENANT}/availability/slots",
                        params={**where, "date": day["date"]},
                    )
                    starts += [slot["start"] for slot in slots.json()["slots"]]
                    if len(starts) >= repeat:
                        break
            book = "|".join(
                "/book?"
                + urlencode(
                    {"office_id": where["office_id"], "service_ids": service["id"], "start": start}
                )
                for start in starts[:repeat]
            )
            pages = {"start page": "/", "service page": f"/services/{service['id']}"}
            pages["booking page"] = book
            process = await asyncio.create_subprocess_exec(
                "node",
                str(ROOT / "bench" / "web" / "lcp.mjs"),
                system.gateway,
                str(repeat),
                *pages.values(),
                stdout=asyncio.subprocess.PIPE,
            )
            out, _ = await process.communicate()
            if process.returncode:
                raise SystemExit(f"lcp.mjs failed ({process.returncode})")
        finally:
            system.stop()
    rows = [json.loads(line) for line in out.decode().splitlines() if line.startswith("{")]
    names = {path: name for name, path in pages.items()}
    print(
        "| page | LCP median (best-worst) | LCP element | form shown (median) | JS files "
        "| JS (KiB) | JS gzip (KiB) |"
    )
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        form = "" if row["form_ms_median"] is None else f"{row['form_ms_median']:.0f} ms"
        print(
            f"| {names[row['path']]} | {row['lcp_ms_median']:.0f} ms "
            f"({row['lcp_ms_best']:.0f}-{row['lcp_ms_worst']:.0f}) | `{row['lcp_element']}` | "
            f"{form} | "
            f"{row['js_files']} | "
            f"{row['js_kib']} | {row['js_gzip_kib']} |"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--botcheck", action="store_true", help="ask for the proof of work")
    args = parser.parse_args()
    asyncio.run(main(args.repeat, args.botcheck))
