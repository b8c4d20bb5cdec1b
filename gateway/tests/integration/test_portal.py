"""The built web frontend at the gateway's root: its pages, its files, its own CSP."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.portal import CONTENT_SECURITY_POLICY
from servicekit.testing import LiveServer

StartGateway = Callable[..., LiveServer]
API_POLICY = "default-src 'none'; frame-ancestors 'none'"


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><title>Portal</title>")
    (tmp_path / "assets" / "index-abc123.js").write_text("console.log(1)")
    return tmp_path


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/services/x",
        "/book?office_id=1",
        "/bookings/1/opt-in",
        "/bookings/1/room",
        "/bookings/1/check-in",
        "/display/1",
    ],
)
async def test_page_paths_answer_the_document_with_the_portal_policy(
    start_gateway: StartGateway, alpha: LiveServer, http: httpx.AsyncClient, dist: Path, path: str
) -> None:
    gateway = start_gateway(services={"booking": [alpha.url]}, portal_dir=dist)

    response = await http.get(f"{gateway.url}{path}")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "<title>Portal</title>" in response.text
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert response.headers.get_list("content-security-policy") == [CONTENT_SECURITY_POLICY]
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-frame-options"] == "DENY"


async def test_built_files_are_cached_for_good_and_others_stay_404_problems(
    start_gateway: StartGateway, alpha: LiveServer, http: httpx.AsyncClient, dist: Path
) -> None:
    gateway = start_gateway(services={"booking": [alpha.url]}, portal_dir=dist)

    asset = await http.get(f"{gateway.url}/assets/index-abc123.js")
    missing = await http.get(f"{gateway.url}/assets/nothing.js")
    unknown = await http.get(f"{gateway.url}/no/such/page")
    outside = await http.get(f"{gateway.url}/assets/..%2Findex.html")
    posted = await http.post(f"{gateway.url}/no/such/page")

    assert asset.status_code == 200
    assert "immutable" in asset.headers["cache-control"]
    for answer in (missing, unknown, outside, posted):
        assert answer.status_code == 404, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.headers["content-security-policy"] == API_POLICY


async def test_api_and_docs_keep_their_paths(
    start_gateway: StartGateway, alpha: LiveServer, http: httpx.AsyncClient, dist: Path
) -> None:
    gateway = start_gateway(services={"booking": [alpha.url]}, portal_dir=dist)

    openapi: Any = (await http.get(f"{gateway.url}/openapi.json")).json()
    livez = await http.get(f"{gateway.url}/livez")

    assert not any(path in openapi["paths"] for path in ("/", "/{path}"))
    assert livez.status_code == 200


async def test_without_a_build_there_are_no_pages(
    start_gateway: StartGateway, alpha: LiveServer, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    gateway = start_gateway(services={"booking": [alpha.url]}, portal_dir=tmp_path / "nothing")

    assert (await http.get(f"{gateway.url}/")).status_code == 404
