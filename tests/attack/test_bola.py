"""Broken object-level authorisation: every route of the contracts that names an object, called
by every role on every object of the world it must not reach, through the gateway.

The matrix is generated from ``contracts/*/v1.yaml``: each operation whose path names an object
(``booking_id``, ``document_id``, ``office_id``, ``account_id``, ...; a bare ``{ags}`` names the
municipality) is called for each (role, someone else's object) with a request that would be
served if the role were let in (the contract's minimal body, see ``contracts.py``). The rules:

- the answer is 401, 403 or 404 problem+json, and the same as for an object that does not exist
  (the same call with fresh ids in its place): nobody learns that somebody else's object exists.
  Only where the object is public anyway (offices, services, closures, municipalities are listed
  for anyone) may a 403 stand beside a 404 of a missing one;
- in another municipality's place (its ``{ags}`` in the path) the answer is 404, as for its
  objects (``servicekit.tenancy.NotYourMunicipality``); a 403 there only for what the token may
  do nowhere (``insufficient-role``, ``insufficient-scope``);
- besides the object's own place (its municipality in the path), routes under ``{ags}`` are also
  called with the caller's own municipality and the foreign id (the classic mix-up);
- the service's database is the same before and after.

A route whose path parameters the matrix does not know fails ``test_every_id_route_is_known``;
routes that are public or name no object of a tenant are listed in :data:`NOT_OBJECT_SCOPED`
with the reason.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import MetaData, select
from sqlalchemy.ext.asyncio import AsyncEngine

from servicekit.db import create_engine
from tests.live_rathaus import TENANT

from .contracts import SOMETIME, Operation, load_operations, minimal
from .world import OTHER_TENANT, PDF, Headers, World

OPERATIONS = load_operations()

# Path parameters and the object they name (the first one an operation has decides).
KINDS = {
    "document_id": "document",
    "item_id": "item",
    "booking_id": "booking",
    "closure_id": "closure",
    "account_id": "account",
    "office_id": "office",
    "service_id": "service",
    "ags": "tenant",
}
# Path parameters that name no object but a value the caller picks.
CALLER_PICKS = {"subject", "day", "partner_ags"}

NOT_OBJECT_SCOPED: dict[str, str] = {
    # The catalogue, offices, opening hours and free slots are published for anyone.
    "GET /booking/v1/tenants/{ags}/services": "public catalogue",
    "GET /booking/v1/tenants/{ags}/offices": "public directory",
    "GET /booking/v1/tenants/{ags}/holidays": "public calendar",
    "GET /booking/v1/tenants/{ags}/availability/days": "public free days",
    "GET /booking/v1/tenants/{ags}/availability/slots": "public free slots",
    "GET /booking/v1/tenants/{ags}/earliest/search": "public search (partners ask anonymously)",
    "GET /booking/v1/tenants/{ags}/botcheck": "public proof-of-work challenge",
    "GET /identity/v1/tenants/{ags}/botcheck": "public proof-of-work challenge",
    "GET /identity/v1/tenants/{ags}": "public: a municipality's name",
    # Anyone, with or without an account, holds a slot, waits for one, or registers.
    "POST /booking/v1/tenants/{ags}/holds": "anyone holds a slot (tests/booking: holds)",
    "POST /booking/v1/tenants/{ags}/waitlist": "anyone subscribes (booking waitlist tests)",
    "POST /identity/v1/tenants/{ags}/citizens": "self-registration of citizens",
    # The link's secret, not the caller, is the credential: the id alone grants nothing
    # (booking's waitlist tests send other links' tokens).
    "GET /booking/v1/waitlist/{subscription_id}": "capability link",
    "POST /booking/v1/waitlist/{subscription_id}/confirm": "capability link",
    "POST /booking/v1/waitlist/{subscription_id}/unsubscribe": "capability link",
    "GET /booking/v1/waitlist/{subscription_id}/offer": "capability link",
    "POST /booking/v1/waitlist/{subscription_id}/offer": "capability link",
    # Cases handed between municipalities: the sender picks the case id it delivers under
    # (PUT, a partner's client with cases:handover, tests/test_case_handover.py refuses the
    # wrong scope and tenant). The clerks' reads of one case are not in the matrix's world yet
    # (it hands no case over); their tenant checks are those of the lists, which are.
    "PUT /documents/v1/tenants/{ags}/cases/{case_id}": "sender's id (hand-over tests)",
    "PUT /documents/v1/tenants/{ags}/cases/{case_id}/attachments/{attachment_id}": (
        "sender's id (hand-over tests)"
    ),
    "GET /documents/v1/tenants/{ags}/handovers/{case_id}": "no case in the world yet",
    "GET /documents/v1/tenants/{ags}/cases/{case_id}": "no case in the world yet",
    "GET /documents/v1/tenants/{ags}/cases/{case_id}/attachments/{attachment_id}": (
        "no case in the world yet"
    ),
    # Signing keys are the platform's, not a tenant's (identity's key tests: platform admins).
    "POST /identity/v1/keys/{kid}/retire": "platform key, platform administrators only",
}
# Public reads of an object: anyone reaches it in its own place, so only the mix-up (the
# caller's own municipality in the path, somebody else's id) is an attack.
PUBLIC_READS = {
    "GET /booking/v1/tenants/{ags}/services/{service_id}",
    "GET /booking/v1/tenants/{ags}/offices/{office_id}",
    "GET /booking/v1/tenants/{ags}/offices/{office_id}/opening-hours",
    "GET /booking/v1/tenants/{ags}/offices/{office_id}/queue/board",
}
# Optional query parameters a real caller sends (a clerk names the purpose of a read).
OPTIONAL_QUERY = {"purpose": "BOLA probe"}
# Refusals of what a token cannot do in any municipality (a citizen's token at an admin route).
TOKEN_LEVEL = {"insufficient-role", "insufficient-scope"}
# Tables a refused call may change: the gateway's and services' own bookkeeping, none of it
# the object's data. (Identity audits every login; documents' outbox moves by itself.)
BOOKKEEPING = {"alembic_version"}


def matrix_operations() -> list[Operation]:
    return [op for op in OPERATIONS if op.path_parameters and op.key not in NOT_OBJECT_SCOPED]


@dataclass(frozen=True)
class Caller:
    name: str
    headers: Headers
    tenant: str | None
    office: str | None
    """Its own office (key of ``World.offices``), for the mixed-up paths."""
    subject: str


@dataclass(frozen=True)
class Target:
    """An object of the world, the path parameters that name it, and who may reach it."""

    kind: str
    name: str
    tenant: str
    ids: dict[str, str]
    reach: frozenset[str]
    leaf: tuple[str, ...]
    """The parameters that are this object (replaced by fresh ones for the reference call)."""
    public: bool = False
    platform_reaches: bool = False
    """Identity's platform administrators manage every municipality's accounts."""

    def reached_by(self, caller: Caller, operation: Operation) -> bool:
        if caller.name in self.reach:
            return True
        return (
            self.platform_reaches
            and operation.service == "identity"
            and caller.name == "platform_admin"
        )


@dataclass
class Call:
    operation: Operation
    caller: Caller
    target: Target
    variant: str
    path: dict[str, str]
    answer: httpx.Response | None = None
    reference: httpx.Response | None = None

    def describe(self) -> dict[str, Any]:
        def brief(response: httpx.Response | None) -> Any:
            if response is None:
                return None
            return (response.status_code, response.text[:300])

        return {
            "operation": self.operation.key,
            "caller": self.caller.name,
            "object": self.target.name,
            "variant": self.variant,
            "answer": brief(self.answer),
            "reference": brief(self.reference),
        }


@dataclass
class Matrix:
    world: World
    callers: list[Caller]
    targets: dict[str, list[Target]]
    home_office: dict[str, str] = field(default_factory=dict)


async def _closure(http: httpx.AsyncClient, world: World, office: str, admin: str) -> str:
    tenant = OTHER_TENANT if office == "b" else TENANT
    made = await http.post(
        f"/booking/v1/tenants/{tenant}/offices/{world.offices[office]}/closures",
        json={
            "starts_at": SOMETIME.replace(year=SOMETIME.year + 1).isoformat(),
            "ends_at": SOMETIME.replace(year=SOMETIME.year + 1, hour=12).isoformat(),
            "reason": "Betriebsausflug",
        },
        headers=world.headers[admin],
    )
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


@pytest.fixture(scope="module")
async def matrix(world: World) -> Matrix:
    h, s = world.headers, world.subjects
    mine, theirs, elsewhere = (
        world.mine,
        world.others["other_citizen"],
        world.others["other_tenant"],
    )
    callers = [
        Caller("anonymous", {}, None, None, "nobody"),
        Caller("citizen", h["citizen"], TENANT, "mitte", s["citizen"]),
        Caller("other_citizen", h["other_citizen"], TENANT, "nord", s["other_citizen"]),
        Caller("clerk", h["clerk"], TENANT, "mitte", s["clerk"]),
        Caller("other_clerk", h["other_clerk"], TENANT, "nord", s["other_clerk"]),
        Caller("admin", h["admin"], TENANT, "mitte", s["admin"]),
        Caller("other_admin", h["other_admin"], OTHER_TENANT, "b", s["other_admin"]),
        Caller("platform_admin", h["platform_admin"], TENANT, "mitte", s["platform_admin"]),
        Caller("partner", h["partner"], TENANT, "mitte", "partner-client"),
        # The manage link of municipality B's booking, held by somebody without an account.
        Caller("link", {"X-Manage-Token": elsewhere.manage_token}, None, None, "manage-link"),
    ]
    async with httpx.AsyncClient(base_url=world.gateway, timeout=30) as http:
        closures = {
            "mitte": await _closure(http, world, "mitte", "admin"),
            "b": await _closure(http, world, "b", "other_admin"),
        }
    reach = {
        "mine": frozenset({"citizen", "clerk", "admin"}),
        "theirs": frozenset({"other_citizen", "other_clerk", "admin"}),
        "elsewhere": frozenset({"other_admin", "link"}),
    }
    targets: dict[str, list[Target]] = {kind: [] for kind in set(KINDS.values())}
    for name, booked in (("mine", mine), ("theirs", theirs), ("elsewhere", elsewhere)):
        assert booked.document_id is not None
        base = {"ags": booked.tenant, "office_id": booked.office_id}
        for kind, ids, leaf in (
            ("booking", {"booking_id": booked.booking_id}, ("booking_id",)),
            (
                "item",
                {"booking_id": booked.booking_id, "item_id": booked.item_id},
                ("booking_id", "item_id"),
            ),
            ("document", {"document_id": booked.document_id}, ("document_id",)),
        ):
            targets[kind].append(
                Target(kind, f"{kind}:{name}", booked.tenant, base | ids, reach[name], leaf)
            )
    office_reach = {
        "mitte": frozenset({"admin", "clerk"}),
        "nord": frozenset({"admin", "other_clerk"}),
        "b": frozenset({"other_admin"}),
    }
    for key, office in world.offices.items():
        tenant = OTHER_TENANT if key == "b" else TENANT
        ids = {"ags": tenant, "office_id": office}
        targets["office"].append(
            Target(
                "office",
                f"office:{key}",
                tenant,
                ids,
                office_reach[key],
                ("office_id",),
                public=True,
            )
        )
    for key in ("mitte", "b"):
        tenant = OTHER_TENANT if key == "b" else TENANT
        admins = frozenset({"other_admin" if key == "b" else "admin"})
        targets["service"].append(
            Target(
                "service",
                f"service:{key}",
                tenant,
                {"ags": tenant, "service_id": world.services[key]},
                admins,
                ("service_id",),
                public=True,
            )
        )
        targets["closure"].append(
            Target(
                "closure",
                f"closure:{key}",
                tenant,
                {"ags": tenant, "office_id": world.offices[key], "closure_id": closures[key]},
                admins,
                ("closure_id",),
                public=True,
            )
        )
    targets["account"] = [
        Target(
            "account",
            "account:citizen",
            TENANT,
            {"ags": TENANT, "account_id": s["citizen"]},
            frozenset({"admin", "citizen"}),
            ("account_id",),
            platform_reaches=True,
        ),
        Target(
            "account",
            "account:other_admin",
            OTHER_TENANT,
            {"ags": OTHER_TENANT, "account_id": s["other_admin"]},
            frozenset({"other_admin"}),
            ("account_id",),
            platform_reaches=True,
        ),
    ]
    people_of_a = {"citizen", "other_citizen", "clerk", "other_clerk", "admin", "partner"}
    targets["tenant"] = [
        Target(
            "tenant",
            "tenant:a",
            TENANT,
            {"ags": TENANT},
            frozenset(people_of_a | {"platform_admin"}),
            ("ags",),
            public=True,
        ),
        Target(
            "tenant",
            "tenant:b",
            OTHER_TENANT,
            {"ags": OTHER_TENANT},
            frozenset({"other_admin"}),
            ("ags",),
            public=True,
            platform_reaches=True,
        ),
    ]
    return Matrix(world, callers, targets)


def kind_of(operation: Operation) -> str:
    params = operation.path_parameters
    return next(KINDS[name] for name in KINDS if name in params)


def fresh(operation: Operation, name: str) -> str:
    """An id of the parameter's shape that names nothing."""
    if name in ("ags", "partner_ags"):
        return "09999999"
    # One fixed id per parameter, so that the references of many calls are one.
    nothing = uuid.uuid5(uuid.NAMESPACE_URL, f"urn:rathaus:bola:{name}")
    if operation.path_schema(name).get("pattern") == "^[0-9a-f]{32}$":
        return nothing.hex
    return str(nothing)


def picked(operation: Operation, name: str, caller: Caller) -> str:
    if name == "subject":
        return caller.subject
    if name == "day":
        return SOMETIME.replace(year=SOMETIME.year + 1).date().isoformat()
    assert name == "partner_ags"
    return "06999003"


def plan(matrix: Matrix, operation: Operation) -> list[Call]:
    """Every (caller, someone else's object, variant) of one operation."""
    kind = kind_of(operation)
    params = operation.path_parameters
    calls: list[Call] = []
    for number, target in enumerate(matrix.targets[kind]):
        for caller in matrix.callers:
            if target.reached_by(caller, operation):
                continue
            if caller.tenant is None and number > 0:
                continue  # who has no account reaches no object: one of each kind will do
            path = {name: target.ids[name] for name in params if name not in CALLER_PICKS}
            path |= {
                name: picked(operation, name, caller) for name in params if name in CALLER_PICKS
            }
            if operation.key not in PUBLIC_READS:
                calls.append(Call(operation, caller, target, "its place", path))
            # The caller's own municipality (and office) in the path, the foreign id as leaf.
            own = caller.tenant
            if "ags" in params and kind != "tenant" and own and own != target.tenant:
                mixed = dict(path, ags=own)
                if "office_id" in params and "office_id" not in target.leaf:
                    assert caller.office is not None
                    mixed["office_id"] = matrix.world.offices[caller.office]
                calls.append(Call(operation, caller, target, "caller's place", mixed))
    return calls


def url(operation: Operation, path: dict[str, str]) -> str:
    return operation.path.format(**path)


def request_of(operation: Operation, caller: Caller) -> dict[str, Any]:
    """Query, headers and body of the smallest request the operation serves."""
    params: dict[str, Any] = {}
    for p in operation.parameters("query"):
        if p.get("required"):
            params[p["name"]] = minimal(operation, p["schema"])
        elif p["name"] in OPTIONAL_QUERY:
            params[p["name"]] = OPTIONAL_QUERY[p["name"]]
    headers = dict(caller.headers)
    for p in operation.parameters("header"):
        assert not p.get("required"), f"{operation.key}: a required header {p['name']}"
    request: dict[str, Any] = {"params": params, "headers": headers}
    media = operation.body_media
    if "application/json" in media:
        request["json"] = minimal(operation, media["application/json"]["schema"])
    elif "application/octet-stream" in media:
        request["content"] = PDF
        headers["content-type"] = "application/pdf"
    elif "application/x-www-form-urlencoded" in media:
        request["data"] = minimal(operation, media["application/x-www-form-urlencoded"]["schema"])
    else:
        assert not media, f"{operation.key}: no minimal body for {sorted(media)}"
    return request


async def send(
    http: httpx.AsyncClient, operation: Operation, caller: Caller, path: dict[str, str]
) -> httpx.Response:
    return await http.request(
        operation.method.upper(), url(operation, path), **request_of(operation, caller)
    )


def reference_path(operation: Operation, call: Call) -> dict[str, str]:
    return {
        name: (fresh(operation, name) if name in call.target.leaf else value)
        for name, value in call.path.items()
    }


def problem_type(response: httpx.Response) -> str | None:
    if response.headers.get("content-type") != "application/problem+json":
        return None
    return str(response.json().get("type", "")).removeprefix("urn:rathaus:problem:")


def refused_like_nothing(call: Call) -> bool:
    answer, reference = call.answer, call.reference
    assert answer is not None
    assert reference is not None
    kind = problem_type(answer)
    if answer.status_code not in (401, 403, 404) or kind is None:
        return False
    ags, own = call.path.get("ags"), call.caller.tenant
    if answer.status_code == 403 and own and ags and ags != own:
        # Another municipality's place: not found, as its objects are. A 403 only for what
        # the token cannot do anywhere (its roles, its scopes).
        return kind in TOKEN_LEVEL
    same = (answer.status_code, kind) == (reference.status_code, problem_type(reference))
    return same or (call.target.public and answer.status_code == 403)


@dataclass
class Database:
    """One service's database, read whole."""

    engine: AsyncEngine
    metadata: MetaData

    async def snapshot(self) -> dict[str, list[str]]:
        async with self.engine.connect() as connection:
            rows: dict[str, list[str]] = {}
            for table in self.metadata.sorted_tables:
                if table.name not in BOOKKEEPING:
                    result = await connection.execute(select(table))
                    rows[table.name] = sorted(repr(tuple(row)) for row in result)
            return rows


@pytest.fixture(scope="module")
async def databases(world: World) -> AsyncIterator[dict[str, Database]]:
    opened: dict[str, Database] = {}
    try:
        for service, database_url in world.system.database_urls.items():
            engine = create_engine(database_url)
            opened[service] = Database(engine, MetaData())
            async with engine.connect() as connection:
                await connection.run_sync(opened[service].metadata.reflect)
        yield opened
    finally:
        for database in opened.values():
            await database.engine.dispose()


def changed(before: dict[str, list[str]], after: dict[str, list[str]]) -> dict[str, Any]:
    return {
        table: {
            "gone": sorted(set(before.get(table, [])) - set(after.get(table, [])))[:3],
            "new": sorted(set(after.get(table, [])) - set(before.get(table, [])))[:3],
        }
        for table in sorted(set(before) | set(after))
        if before.get(table) != after.get(table)
    }


@pytest.fixture
async def http(world: World) -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=16)
    async with httpx.AsyncClient(base_url=world.gateway, timeout=30, limits=limits) as client:
        yield client


def test_every_id_route_is_known() -> None:
    """A new route with a path parameter the matrix cannot fill, or a stale entry, fails here:
    teach the matrix the new object (``KINDS``, the world's targets) or say why it needs none."""
    keys = {op.key for op in OPERATIONS}
    assert not set(NOT_OBJECT_SCOPED) - keys, "listed routes that are gone"
    assert not PUBLIC_READS - keys, "listed public reads that are gone"
    unknown = {
        op.key: sorted(set(op.path_parameters) - set(KINDS) - CALLER_PICKS)
        for op in matrix_operations()
        if set(op.path_parameters) - set(KINDS) - CALLER_PICKS
    }
    assert not unknown, f"path parameters the BOLA matrix does not know: {unknown}"


async def test_the_objects_exist_and_their_owners_reach_them(
    matrix: Matrix, http: httpx.AsyncClient
) -> None:
    """Without this, a typo in an id would make every refusal below vacuous."""
    world, h = matrix.world, matrix.world.headers
    owners = {"mine": h["citizen"], "theirs": h["other_citizen"]}
    for name, booked in (
        ("mine", world.mine),
        ("theirs", world.others["other_citizen"]),
        ("elsewhere", world.others["other_tenant"]),
    ):
        who = owners.get(name, {"X-Manage-Token": booked.manage_token})
        got = await http.get(f"/booking/v1/bookings/{booked.booking_id}", headers=who)
        assert got.status_code == 200, got.text
        items = await http.get(f"/booking/v1/bookings/{booked.booking_id}/checklist", headers=who)
        assert booked.item_id in items.text, items.text
        doc = await http.get(f"/documents/v1/documents/{booked.document_id}", headers=who)
        assert doc.status_code == 200, doc.text
    for target in matrix.targets["closure"]:
        ids = target.ids
        hours = await http.get(
            f"/booking/v1/tenants/{ids['ags']}/offices/{ids['office_id']}/opening-hours"
        )
        assert ids["closure_id"] in hours.text, hours.text
    for target in matrix.targets["service"]:
        ids = target.ids
        got = await http.get(f"/booking/v1/tenants/{ids['ags']}/services/{ids['service_id']}")
        assert got.status_code == 200, got.text
    for target, admin in zip(matrix.targets["account"], ("admin", "other_admin"), strict=True):
        listed = await http.get(f"/identity/v1/tenants/{target.tenant}/accounts", headers=h[admin])
        assert target.ids["account_id"] in listed.text, listed.text


async def _run(http: httpx.AsyncClient, calls: list[Call]) -> None:
    references: dict[tuple[str, str], httpx.Response] = {}

    async def one(call: Call) -> None:
        call.answer = await send(http, call.operation, call.caller, call.path)

    async def reference(key: tuple[str, str], call: Call, path: dict[str, str]) -> None:
        references[key] = await send(http, call.operation, call.caller, path)

    await asyncio.gather(*(one(call) for call in calls))
    # The reference calls name nothing that exists: many calls share one.
    wanted: dict[tuple[str, str], tuple[Call, dict[str, str]]] = {}
    for call in calls:
        path = reference_path(call.operation, call)
        wanted.setdefault(
            (call.caller.name, call.target.tenant + url(call.operation, path)), (call, path)
        )
    await asyncio.gather(*(reference(key, *value) for key, value in wanted.items()))
    for call in calls:
        path = reference_path(call.operation, call)
        call.reference = references[
            (call.caller.name, call.target.tenant + url(call.operation, path))
        ]


@pytest.mark.parametrize("operation", matrix_operations(), ids=lambda op: op.key)
async def test_someone_elses_object_is_out_of_reach(
    matrix: Matrix,
    databases: dict[str, Database],
    http: httpx.AsyncClient,
    operation: Operation,
) -> None:
    calls = plan(matrix, operation)
    assert calls, f"{operation.key}: the matrix makes no call"
    database = databases[operation.service]
    before = await database.snapshot()
    await _run(http, calls)
    after = await database.snapshot()
    wrong = [call.describe() for call in calls if not refused_like_nothing(call)]
    assert not wrong, json.dumps(wrong, indent=1, ensure_ascii=False)
    assert before == after, changed(before, after)
