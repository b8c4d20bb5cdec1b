"""The published contracts as an attacker reads them: every operation, its path parameters, and
the smallest request each one accepts.

A refused request only proves something if the same request would have been served had the
caller been let in: a body the service rejects as malformed (422) answers before, or instead of,
the access check and hides a hole. So :func:`minimal` builds, from the contract's own schemas,
an instance of every required field that the schema allows (its examples first), and refuses
to guess: a pattern or a type it does not know fails the test that asked, so a new kind of field
is met by a human, not silently sent as garbage.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("identity", "booking", "documents")
METHODS = ("get", "put", "post", "patch", "delete")

Schema = dict[str, Any]

# Patterns of the contracts and a value each accepts (the schema's examples come first).
PATTERNS = {
    "^[0-9]{14}$": "99102013009000",
    "^[0-9]{5}$": "12345",
    "^[0-9a-f]{32}$": "0" * 32,
    "^(0[1-9]|1[0-6])[0-9]{6}$": "06999001",
    r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$": "bola.probe@example.org",
    r"^\+?[0-9 ()/-]{4,40}$": "+49 30 1234567",
    r"^https?://[^\s/?#]+(/[^\s?#]*)?$": "https://rathaus.nachbarstadt.example",
    "^citizen-[0-9a-f]{20}$": "citizen-" + "0" * 20,
}
# A moment every "future" check accepts, on the office grid (whole hour, local morning).
SOMETIME = (datetime.now(UTC) + timedelta(days=20)).replace(
    hour=8, minute=0, second=0, microsecond=0
)
# What a schema cannot say: fields whose values depend on each other.
RULES: dict[str, dict[str, Any]] = {
    "ClosureIn": {"ends_at": (SOMETIME + timedelta(hours=4)).isoformat()},
}


@dataclass(frozen=True)
class Operation:
    service: str
    method: str
    path: str
    spec: dict[str, Any]
    document: dict[str, Any]

    @property
    def key(self) -> str:
        return f"{self.method.upper()} {self.path}"

    def parameters(self, where: str) -> list[dict[str, Any]]:
        return [p for p in self.spec.get("parameters", []) if p.get("in") == where]

    @property
    def path_parameters(self) -> list[str]:
        return [p["name"] for p in self.parameters("path")]

    def path_schema(self, name: str) -> Schema:
        return next(p["schema"] for p in self.parameters("path") if p["name"] == name)

    @property
    def body_media(self) -> dict[str, Any]:
        content: dict[str, Any] = self.spec.get("requestBody", {}).get("content", {})
        return content

    def resolve(self, schema: Schema) -> Schema:
        while "$ref" in schema:
            name = schema["$ref"].removeprefix("#/components/schemas/")
            schema = self.document["components"]["schemas"][name]
        return schema


def load_operations() -> list[Operation]:
    """Every operation of every service's published contract."""
    operations: list[Operation] = []
    for service in SERVICES:
        document = yaml.safe_load((ROOT / "contracts" / service / "v1.yaml").read_text())
        for path, item in document["paths"].items():
            for method in METHODS:
                if method in item:
                    operations.append(Operation(service, method, path, item[method], document))
    return operations


def minimal(operation: Operation, schema: Schema) -> Any:
    """The smallest instance of ``schema`` (required fields only) that it validates."""
    schema = operation.resolve(schema)
    for key in ("examples", "example"):
        if key in schema:
            value = schema[key]
            return value[0] if key == "examples" else value
    if "default" in schema:
        return schema["default"]
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    if "anyOf" in schema or "oneOf" in schema:
        options: list[Schema] = schema.get("anyOf") or schema.get("oneOf") or []
        choices = [operation.resolve(option) for option in options]
        return minimal(operation, next(c for c in choices if c.get("type") != "null"))
    kind = schema.get("type")
    if kind == "object":
        instance = {
            name: minimal(operation, schema["properties"][name])
            for name in schema.get("required", [])
        }
        return instance | RULES.get(schema.get("title", ""), {})
    if kind == "array":
        count = int(schema.get("minItems", 0))
        return [minimal(operation, schema["items"]) for _ in range(count)]
    if kind == "boolean":
        return True
    if kind in ("integer", "number"):
        low: float = schema.get("minimum") or schema.get("exclusiveMinimum") or 0
        return int(low) + (1 if "exclusiveMinimum" in schema else 0)
    if kind == "string":
        return _string(schema)
    raise AssertionError(f"{operation.key}: no minimal value for the schema {schema}")


def _string(schema: Schema) -> str:
    fmt = schema.get("format")
    if fmt == "date-time":
        return SOMETIME.isoformat()
    if fmt == "date":
        return SOMETIME.date().isoformat()
    if fmt == "uuid":
        return str(uuid.uuid4())
    if fmt == "email":
        return "bola.probe@example.org"
    if "pattern" in schema:
        pattern = schema["pattern"]
        assert pattern in PATTERNS, f"no value known for the pattern {pattern!r}: add one"
        return PATTERNS[pattern]
    length = max(int(schema.get("minLength", 1)), 1)
    return ("bola-probe-" * (1 + length // 11))[: max(length, 16)][: schema.get("maxLength", 200)]


def today() -> date:
    return datetime.now(UTC).date()
