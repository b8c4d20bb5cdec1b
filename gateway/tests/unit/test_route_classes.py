"""The default route classes name only paths that exist in the contracts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from gateway.edge import _prefix_pattern
from gateway.readiness import route_services
from gateway.settings import RouteClass, default_route_classes

CONTRACTS = Path(__file__).resolve().parents[3] / "contracts"


def _contract_paths() -> list[str]:
    paths: list[str] = []
    for contract in sorted(CONTRACTS.glob("*/v1.yaml")):
        document = yaml.safe_load(contract.read_text(encoding="utf-8"))
        # A concrete path for each template: {ags} -> one segment.
        paths.extend(re.sub(r"\{[^}]+\}", "x", path) for path in document["paths"])
    return paths


@pytest.mark.parametrize(
    "prefix",
    [prefix for route in default_route_classes() for prefix in route.prefixes],
)
def test_every_default_prefix_matches_a_route_of_the_contracts(prefix: str) -> None:
    pattern = _prefix_pattern((prefix,))
    assert pattern is not None

    assert any(pattern.match(path) for path in _contract_paths()), prefix


def test_route_classes_are_served_by_the_services_their_prefixes_name() -> None:
    routes = (
        RouteClass(name="login", prefixes=("/identity/v1/auth/login",)),
        RouteClass(name="both", prefixes=("/identity/v1/x", "/booking/v1/y")),
        RouteClass(name="elsewhere", prefixes=("/nowhere/v1/",)),
        RouteClass(name="default"),
    )

    served = route_services(routes, ["identity", "booking"])

    assert served == {
        "login": frozenset({"identity"}),
        "both": frozenset({"identity", "booking"}),
        "default": frozenset({"identity", "booking"}),
    }
