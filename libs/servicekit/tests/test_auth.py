"""servicekit.auth on a tiny service built with create_service_app: forged tokens get 401."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from fastapi import APIRouter, FastAPI
from jose import jwk
from jose import jwt as jose_jwt

from servicekit.app import create_service_app
from servicekit.auth import (
    AUTH_PROBLEMS,
    CurrentPrincipal,
    InsufficientScope,
    OptionalPrincipal,
    Principal,
    RemoteJwks,
    TokenVerifier,
    require_roles,
    require_scopes,
)
from servicekit.auth import verifier as verifier_module
from servicekit.auth.jose_safe import (
    TokenRejected,
    _verifying_key,
    sign,
    verify,
    verify_id_token,
)
from servicekit.auth.verifier import VerifiedTokens
from servicekit.problems import problem_responses
from servicekit.settings import Environment, ServiceSettings
from servicekit.testing.tokens import TokenFactory

JWKS_URL = "http://identity.test/identity/v1/jwks"

router = APIRouter(prefix="/kit/v1")


@router.get("/me", responses=problem_responses(*AUTH_PROBLEMS))
async def me(principal: CurrentPrincipal) -> dict[str, Any]:
    return {
        "sub": principal.subject,
        "tenant": principal.tenant,
        "roles": sorted(principal.roles),
        "scopes": sorted(principal.scopes),
        "client_id": principal.client_id,
    }


@router.get("/maybe")
async def maybe(principal: OptionalPrincipal) -> dict[str, str | None]:
    return {"sub": principal.subject if principal else None}


@router.get("/desk")
async def desk(principal: Annotated[Principal, require_roles("clerk", "admin")]) -> dict[str, str]:
    return {"sub": principal.subject}


@router.get("/partner", responses=problem_responses(InsufficientScope))
async def partner(
    principal: Annotated[Principal, require_scopes("booking:read", "booking:search")],
) -> dict[str, str]:
    return {"sub": principal.subject}


class FakeIdentity:
    """Serves a TokenFactory's JWKS to RemoteJwks through httpx.MockTransport, counting fetches."""

    def __init__(self, factory: TokenFactory) -> None:
        self.factory = factory
        self.fetches = 0
        self.down = False
        self.answer_after: asyncio.Event | None = None
        """When set, each fetch waits for this event (a slow identity)."""

    async def handler(self, request: httpx.Request) -> httpx.Response:
        self.fetches += 1
        if self.answer_after is not None:
            await self.answer_after.wait()
        if self.down:
            raise httpx.ConnectError("identity is down", request=request)
        return httpx.Response(200, json=self.factory.public_jwks())


def make_app(
    factory: TokenFactory,
    identity: FakeIdentity,
    *,
    clock: Callable[[], float],
    ttl_s: float = 300.0,
    min_refetch_interval_s: float = 30.0,
) -> FastAPI:
    settings = ServiceSettings(service_name="kit", environment=Environment.TEST)
    source = RemoteJwks(
        JWKS_URL,
        client=httpx.AsyncClient(transport=httpx.MockTransport(identity.handler)),
        ttl_s=ttl_s,
        min_refetch_interval_s=min_refetch_interval_s,
        clock=clock,
    )
    verifier = TokenVerifier(issuer=factory.issuer, audience=factory.audience, sources=[source])
    return create_service_app(
        settings,
        title="Kit auth",
        version="1.0.0",
        description="kit auth test app",
        routers=[router],
        with_database=False,
        token_verifier=verifier,
    )


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def segment(value: dict[str, Any]) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def hs256_token(secret: bytes, header: dict[str, Any], claims: dict[str, Any]) -> str:
    signing_input = f"{segment(header)}.{segment(claims)}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def public_key_bytes(public: dict[str, Any], encoding: str) -> bytes:
    """The factory's public key as PEM or DER, as an attacker would download and encode it."""
    key = jwk.construct(public, public["alg"]).prepared_key
    if encoding == "PEM":
        return bytes(
            key.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
    return bytes(
        key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def factory() -> TokenFactory:
    return TokenFactory()


@pytest.fixture
def identity(factory: TokenFactory) -> FakeIdentity:
    return FakeIdentity(factory)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def kit(
    factory: TokenFactory, identity: FakeIdentity, clock: FakeClock
) -> AsyncIterator[httpx.AsyncClient]:
    app = make_app(factory, identity, clock=clock)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        yield http
    await app.state.token_verifier.aclose()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_invalid_token(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "urn:rathaus:problem:invalid-token"
    assert response.headers["www-authenticate"].startswith("Bearer")


def unsigned_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header, payload, _ = token.split(".")
    return (
        json.loads(base64.urlsafe_b64decode(header + "==")),
        json.loads(base64.urlsafe_b64decode(payload + "==")),
    )


# --- the genuine article -------------------------------------------------------------------


async def test_valid_token_gives_the_principal(
    kit: httpx.AsyncClient, factory: TokenFactory
) -> None:
    headers = factory.headers(
        sub="clerk-7", tenant="06999001", roles=["clerk", "made-up"], scopes=["a", "b"]
    )

    response = await kit.get("/kit/v1/me", headers=headers)

    assert response.status_code == 200
    assert response.json() == {
        "sub": "clerk-7",
        "tenant": "06999001",
        "roles": ["clerk"],
        "scopes": ["a", "b"],
        "client_id": None,
    }


async def test_missing_token_is_401_with_bearer_challenge(kit: httpx.AsyncClient) -> None:
    response = await kit.get("/kit/v1/me")

    assert_invalid_token(response)
    assert response.headers["www-authenticate"] == "Bearer"


async def test_other_authorization_scheme_is_401(kit: httpx.AsyncClient) -> None:
    response = await kit.get("/kit/v1/me", headers={"Authorization": "Basic dXNlcjpwdw=="})

    assert_invalid_token(response)


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "a.b", "....", "eyJ.eyJ.x"])
async def test_garbage_token_is_401_not_500(kit: httpx.AsyncClient, garbage: str) -> None:
    response = await kit.get("/kit/v1/me", headers={"Authorization": f"Bearer {garbage}"})

    assert_invalid_token(response)


# --- forged tokens: docs/architecture.md, "Using python-jose safely" ------------------------


async def test_alg_none_is_401(kit: httpx.AsyncClient, factory: TokenFactory) -> None:
    header, claims = unsigned_parts(factory.issue(roles=["admin"]))
    header["alg"] = "none"

    for token in (f"{segment(header)}.{segment(claims)}.", f"{segment(header)}.{segment(claims)}"):
        assert_invalid_token(await kit.get("/kit/v1/me", headers=bearer(token)))


@pytest.mark.parametrize("encoding", ["PEM", "DER"])
async def test_hs256_signed_with_the_public_key_is_401(
    kit: httpx.AsyncClient, factory: TokenFactory, encoding: str
) -> None:
    header, claims = unsigned_parts(factory.issue(roles=["admin"]))
    public = factory.public_jwks()["keys"][0]
    secret = public_key_bytes(public, encoding)
    header["alg"] = "HS256"

    response = await kit.get("/kit/v1/me", headers=bearer(hs256_token(secret, header, claims)))

    assert_invalid_token(response)


async def test_hs256_with_the_jwk_json_as_secret_is_401(
    kit: httpx.AsyncClient, factory: TokenFactory
) -> None:
    header, claims = unsigned_parts(factory.issue())
    public = factory.public_jwks()["keys"][0]
    header["alg"] = "HS256"
    token = hs256_token(json.dumps(public).encode(), header, claims)

    assert_invalid_token(await kit.get("/kit/v1/me", headers=bearer(token)))


async def test_tampered_payload_is_401(kit: httpx.AsyncClient, factory: TokenFactory) -> None:
    token = factory.issue(sub="citizen-1", roles=["citizen"])
    header_part, _, signature = token.split(".")
    _, claims = unsigned_parts(token)
    claims["roles"] = ["admin"]

    response = await kit.get(
        "/kit/v1/me", headers=bearer(f"{header_part}.{segment(claims)}.{signature}")
    )

    assert_invalid_token(response)


async def test_expired_token_is_401(kit: httpx.AsyncClient, factory: TokenFactory) -> None:
    token = factory.issue(expires_in=-60)

    assert_invalid_token(await kit.get("/kit/v1/me", headers=bearer(token)))


async def test_not_yet_valid_token_is_401(kit: httpx.AsyncClient, factory: TokenFactory) -> None:
    token = factory.issue(not_before=time.time() + 600)

    assert_invalid_token(await kit.get("/kit/v1/me", headers=bearer(token)))


async def test_token_issued_in_the_future_is_401(
    kit: httpx.AsyncClient, factory: TokenFactory
) -> None:
    token = factory.issue(issued_at=time.time() + 600)

    assert_invalid_token(await kit.get("/kit/v1/me", headers=bearer(token)))


async def test_wrong_issuer_is_401(kit: httpx.AsyncClient, factory: TokenFactory) -> None:
    token = factory.issue(issuer="https://evil.example/identity")

    assert_invalid_token(await kit.get("/kit/v1/me", headers=bearer(token)))


async def test_wrong_audience_is_401(kit: httpx.AsyncClient, factory: TokenFactory) -> None:
    token = factory.issue(audience="other")

    assert_invalid_token(await kit.get("/kit/v1/me", headers=bearer(token)))


@pytest.mark.parametrize("claim", ["iss", "aud", "exp", "iat", "sub", "jti", "tenant"])
async def test_token_missing_a_required_claim_is_401(
    kit: httpx.AsyncClient, factory: TokenFactory, claim: str
) -> None:
    claims = factory.claims()
    del claims[claim]
    token = sign(claims, factory.private_jwk())

    assert_invalid_token(await kit.get("/kit/v1/me", headers=bearer(token)))


@pytest.mark.parametrize(
    "claims",
    [
        {"roles": "admin"},
        {"roles": [1]},
        {"scope": ["a"]},
        {"iat": "yesterday"},
        {"exp": [1]},
        {"nbf": "later"},
        {"tenant": "6999001"},
        {"sub": 42},
        {"client_id": 7},
    ],
)
async def test_malformed_claims_are_401_not_500(
    kit: httpx.AsyncClient, factory: TokenFactory, claims: dict[str, Any]
) -> None:
    token = factory.issue(claims=claims)

    assert_invalid_token(await kit.get("/kit/v1/me", headers=bearer(token)))


async def test_unknown_kid_is_401(kit: httpx.AsyncClient, factory: TokenFactory) -> None:
    stranger = TokenFactory()

    assert_invalid_token(await kit.get("/kit/v1/me", headers=stranger.headers()))


async def test_token_without_kid_is_401(kit: httpx.AsyncClient, factory: TokenFactory) -> None:
    header, claims = unsigned_parts(factory.issue())
    del header["kid"]
    private = jwk.construct(factory.private_jwk(), "RS256")
    token = jose_jwt.encode(claims, private, algorithm="RS256", headers={"typ": "at+jwt"})

    assert_invalid_token(await kit.get("/kit/v1/me", headers=bearer(token)))


async def test_kid_of_one_key_with_signature_of_another_is_401(
    kit: httpx.AsyncClient, factory: TokenFactory
) -> None:
    stranger = TokenFactory()
    forged_key = stranger.private_jwk()
    forged_key["kid"] = factory.active_kid

    assert_invalid_token(
        await kit.get("/kit/v1/me", headers=bearer(sign(factory.claims(), forged_key)))
    )


async def test_token_with_another_typ_than_access_token_is_401(
    kit: httpx.AsyncClient, factory: TokenFactory
) -> None:
    private = jwk.construct(factory.private_jwk(), "RS256")
    token = jose_jwt.encode(
        factory.claims(), private, algorithm="RS256", headers={"kid": factory.active_kid}
    )

    assert_invalid_token(await kit.get("/kit/v1/me", headers=bearer(token)))


async def test_algorithm_is_pinned_to_the_key_not_taken_from_the_header(
    factory: TokenFactory, identity: FakeIdentity, clock: FakeClock
) -> None:
    # An ES256 key published without "alg" must not verify anything: the verifier never
    # guesses the algorithm from the token.
    ec_factory = TokenFactory(algorithm="ES256")
    published = ec_factory.public_jwks()
    for key in published["keys"]:
        del key["alg"]
    keys = {key["kid"]: key for key in published["keys"]}

    with pytest.raises(TokenRejected, match="algorithm"):
        verify(ec_factory.issue(), keys, issuer=factory.issuer, audience=factory.audience)


def test_a_published_key_with_list_members_verifies_and_is_built_once(
    factory: TokenFactory,
) -> None:
    # Constructed keys are kept per key; a JWK may carry lists (key_ops, x5c).
    published = factory.public_jwks()
    for key in published["keys"]:
        key["key_ops"] = ["verify"]
    keys = {key["kid"]: key for key in published["keys"]}
    _verifying_key.cache_clear()

    for _ in range(3):
        claims = verify(factory.issue(), keys, issuer=factory.issuer, audience=factory.audience)
        assert claims["iss"] == factory.issuer

    assert _verifying_key.cache_info().misses == 1
    assert _verifying_key.cache_info().hits == 2


async def test_rs256_header_on_an_es256_key_is_401(
    factory: TokenFactory, identity: FakeIdentity, clock: FakeClock
) -> None:
    factory.add_key("ES256")
    try:
        ec_kid = factory.public_jwks()["keys"][-1]["kid"]
        header, claims = unsigned_parts(factory.issue())
        header["kid"] = ec_kid
        rsa_key = jwk.construct(factory.private_jwk(), "RS256")
        token = jose_jwt.encode(claims, rsa_key, algorithm="RS256", headers=header)
        app = make_app(factory, identity, clock=clock)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as http:
            assert_invalid_token(await http.get("/kit/v1/me", headers=bearer(token)))
    finally:
        factory.retire(ec_kid)


# --- keys: passive, retired, rotated, rate-limited refetch -----------------------------------


async def test_token_of_a_passive_key_is_accepted(clock: FakeClock) -> None:
    factory = TokenFactory(algorithm="ES256")
    passive = factory.add_key("ES256")
    app = make_app(factory, FakeIdentity(factory), clock=clock)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        response = await http.get("/kit/v1/me", headers=factory.headers(kid=passive))

    assert response.status_code == 200


async def test_token_of_a_retired_key_is_401_once_the_cache_expires(clock: FakeClock) -> None:
    factory = TokenFactory(algorithm="ES256")
    old = factory.active_kid
    factory.add_key("ES256", activate=True)
    app = make_app(factory, FakeIdentity(factory), clock=clock, ttl_s=300)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        assert (await http.get("/kit/v1/me", headers=factory.headers(kid=old))).status_code == 200
        factory.retire(old)
        clock.now += 301

        response = await http.get("/kit/v1/me", headers=factory.headers(kid=old))

    assert_invalid_token(response)


async def test_token_of_a_retired_key_is_401(clock: FakeClock) -> None:
    factory = TokenFactory(algorithm="ES256")
    old = factory.active_kid
    factory.add_key("ES256", activate=True)
    factory.retire(old)
    app = make_app(factory, FakeIdentity(factory), clock=clock)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        response = await http.get("/kit/v1/me", headers=factory.headers(kid=old))

    assert_invalid_token(response)


async def test_unknown_kid_refetches_the_jwks_and_accepts_a_new_key(clock: FakeClock) -> None:
    factory = TokenFactory(algorithm="ES256")
    identity = FakeIdentity(factory)
    app = make_app(factory, identity, clock=clock, min_refetch_interval_s=30)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        assert (await http.get("/kit/v1/me", headers=factory.headers())).status_code == 200
        clock.now += 31
        new = factory.add_key("ES256", activate=True)

        response = await http.get("/kit/v1/me", headers=factory.headers(kid=new))

    assert response.status_code == 200
    assert identity.fetches == 2


async def test_unknown_kids_refetch_at_most_once_per_interval(clock: FakeClock) -> None:
    factory = TokenFactory(algorithm="ES256")
    identity = FakeIdentity(factory)
    strangers = [TokenFactory(algorithm="ES256") for _ in range(3)]
    app = make_app(factory, identity, clock=clock, min_refetch_interval_s=30)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        await http.get("/kit/v1/me", headers=factory.headers())
        clock.now += 31
        for stranger in strangers:
            assert_invalid_token(await http.get("/kit/v1/me", headers=stranger.headers()))
        # The valid kid is still served from the cache.
        assert (await http.get("/kit/v1/me", headers=factory.headers())).status_code == 200

    assert identity.fetches == 2


async def test_requests_during_the_first_fetch_wait_for_it_instead_of_503(
    clock: FakeClock,
) -> None:
    factory = TokenFactory(algorithm="ES256")
    identity = FakeIdentity(factory)
    identity.answer_after = release = asyncio.Event()
    app = make_app(factory, identity, clock=clock)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        calls = [
            asyncio.create_task(http.get("/kit/v1/me", headers=factory.headers()))
            for _ in range(20)
        ]
        await asyncio.sleep(0.05)  # every request is now waiting on the one fetch
        release.set()
        responses = await asyncio.gather(*calls)

    assert [response.status_code for response in responses] == [200] * 20
    assert identity.fetches == 1


async def test_a_caller_that_goes_away_does_not_cancel_the_others_fetch(
    clock: FakeClock,
) -> None:
    factory = TokenFactory(algorithm="ES256")
    identity = FakeIdentity(factory)
    identity.answer_after = release = asyncio.Event()
    source = RemoteJwks(
        JWKS_URL,
        client=httpx.AsyncClient(transport=httpx.MockTransport(identity.handler)),
        clock=clock,
    )
    kid = factory.active_kid
    impatient = asyncio.create_task(source.get(kid))
    patient = asyncio.create_task(source.get(kid))
    await asyncio.sleep(0.05)
    impatient.cancel()
    release.set()

    key = await patient
    assert key is not None
    assert key["kid"] == kid
    assert impatient.cancelled()
    assert identity.fetches == 1


async def test_unreachable_jwks_without_cached_keys_is_503(clock: FakeClock) -> None:
    factory = TokenFactory(algorithm="ES256")
    identity = FakeIdentity(factory)
    identity.down = True
    app = make_app(factory, identity, clock=clock)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        response = await http.get("/kit/v1/me", headers=factory.headers())

    assert response.status_code == 503
    assert response.json()["type"] == "urn:rathaus:problem:token-keys-unavailable"


async def test_cached_keys_keep_working_while_the_jwks_is_unreachable(clock: FakeClock) -> None:
    factory = TokenFactory(algorithm="ES256")
    identity = FakeIdentity(factory)
    app = make_app(factory, identity, clock=clock)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        await http.get("/kit/v1/me", headers=factory.headers())
        identity.down = True
        clock.now += 400

        response = await http.get("/kit/v1/me", headers=factory.headers())

    assert response.status_code == 200


# --- verified tokens remembered ----------------------------------------------------------------


async def test_a_token_sent_again_is_not_verified_again(
    kit: httpx.AsyncClient, factory: TokenFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks: list[str] = []

    def counting_verify(token: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        checks.append(token)
        return verify(token, *args, **kwargs)

    monkeypatch.setattr(verifier_module, "verify", counting_verify)
    token, other = factory.issue(sub="one"), factory.issue(sub="two")

    answers = [await kit.get("/kit/v1/me", headers=bearer(t)) for t in (token, token, other)]

    assert [a.json()["sub"] for a in answers] == ["one", "one", "two"]
    assert checks == [token, other]


async def test_a_remembered_token_of_a_retired_key_is_401(clock: FakeClock) -> None:
    factory = TokenFactory(algorithm="ES256")
    old = factory.active_kid
    factory.add_key("ES256", activate=True)
    token = factory.issue(kid=old)
    app = make_app(factory, FakeIdentity(factory), clock=clock, ttl_s=300)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        assert (await http.get("/kit/v1/me", headers=bearer(token))).status_code == 200
        factory.retire(old)
        clock.now += 301

        response = await http.get("/kit/v1/me", headers=bearer(token))

    assert_invalid_token(response)


async def test_a_remembered_token_is_not_taken_with_another_key_under_its_kid(
    factory: TokenFactory,
) -> None:
    """A key set that publishes another key under the same kid does not inherit the verdict."""
    published = {"kid": "k1", "alg": "ES256", "x": "1"}
    tokens = VerifiedTokens(10)
    principal = Principal.from_claims(unsigned_parts(factory.issue())[1])
    claims = {"iat": time.time(), "exp": time.time() + 300}
    tokens.add(b"digest", published, principal, claims, 30)

    assert tokens.get(b"digest", dict(published)) == principal
    assert tokens.get(b"digest", {**published, "x": "2"}) is None
    assert tokens.get(b"digest", dict(published)) is None  # forgotten after the mismatch


def test_a_remembered_token_counts_only_inside_its_lifetime(factory: TokenFactory) -> None:
    clock = FakeClock()
    tokens = VerifiedTokens(10, clock=clock)
    key = {"kid": "k1"}
    principal = Principal.from_claims(unsigned_parts(factory.issue())[1])
    tokens.add(b"a", key, principal, {"iat": 1000, "nbf": 1100, "exp": 1300}, 30)

    clock.now = 1069
    assert tokens.get(b"a", key) is None  # before nbf, beyond the leeway
    tokens.add(b"a", key, principal, {"iat": 1000, "nbf": 1100, "exp": 1300}, 30)
    clock.now = 1070
    assert tokens.get(b"a", key) == principal
    clock.now = 1329.9
    assert tokens.get(b"a", key) == principal
    clock.now = 1330
    assert tokens.get(b"a", key) is None


def test_remembered_tokens_are_bounded_and_the_oldest_leave_first(factory: TokenFactory) -> None:
    tokens = VerifiedTokens(3)
    key = {"kid": "k1"}
    principal = Principal.from_claims(unsigned_parts(factory.issue())[1])
    claims = {"iat": time.time(), "exp": time.time() + 300}
    for name in (b"a", b"b", b"c", b"d"):
        tokens.add(name, key, principal, claims, 30)

    assert [tokens.get(name, key) is not None for name in (b"a", b"b", b"c", b"d")] == [
        False,
        True,
        True,
        True,
    ]


def test_remembering_can_be_turned_off(factory: TokenFactory) -> None:
    tokens = VerifiedTokens(0)
    principal = Principal.from_claims(unsigned_parts(factory.issue())[1])
    tokens.add(b"a", {"kid": "k1"}, principal, {"iat": time.time(), "exp": time.time() + 60}, 30)

    assert tokens.get(b"a", {"kid": "k1"}) is None


# --- dependencies ----------------------------------------------------------------------------


async def test_optional_principal_is_none_without_a_header(kit: httpx.AsyncClient) -> None:
    response = await kit.get("/kit/v1/maybe")

    assert response.json() == {"sub": None}


async def test_optional_principal_with_a_bad_token_is_401(kit: httpx.AsyncClient) -> None:
    assert_invalid_token(await kit.get("/kit/v1/maybe", headers=bearer("nope")))


async def test_missing_role_is_403_problem(kit: httpx.AsyncClient, factory: TokenFactory) -> None:
    response = await kit.get("/kit/v1/desk", headers=factory.headers(roles=["citizen"]))

    assert response.status_code == 403
    assert response.json()["type"] == "urn:rathaus:problem:insufficient-role"


async def test_any_of_the_roles_is_enough(kit: httpx.AsyncClient, factory: TokenFactory) -> None:
    response = await kit.get("/kit/v1/desk", headers=factory.headers(roles=["admin"]))

    assert response.status_code == 200


async def test_scopes_must_all_be_held(kit: httpx.AsyncClient, factory: TokenFactory) -> None:
    partial = factory.headers(roles=["partner"], scopes=["booking:read"])
    full = factory.headers(roles=["partner"], scopes=["booking:read", "booking:search", "x"])

    denied = await kit.get("/kit/v1/partner", headers=partial)
    allowed = await kit.get("/kit/v1/partner", headers=full)

    assert denied.status_code == 403
    assert denied.json()["type"] == "urn:rathaus:problem:insufficient-scope"
    assert allowed.status_code == 200


async def test_openapi_documents_the_bearer_scheme(kit: httpx.AsyncClient) -> None:
    document = (await kit.get("/openapi.json")).json()

    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert document["paths"]["/kit/v1/me"]["get"]["security"] == [{"HTTPBearer": []}]
    assert "401" in document["paths"]["/kit/v1/me"]["get"]["responses"]


async def test_openapi_shows_required_scopes_as_a_client_credentials_requirement(
    kit: httpx.AsyncClient, factory: TokenFactory
) -> None:
    document = (await kit.get("/openapi.json")).json()

    scheme = document["components"]["securitySchemes"]["clientCredentials"]
    assert scheme["type"] == "oauth2"
    flow = scheme["flows"]["clientCredentials"]
    assert flow["tokenUrl"] == "/identity/v1/oauth2/token"
    assert sorted(flow["scopes"]) == ["booking:read", "booking:search"]
    assert document["paths"]["/kit/v1/partner"]["get"]["security"] == [
        {"HTTPBearer": []},
        {"clientCredentials": ["booking:read", "booking:search"]},
    ]
    # A scoped route without a token is 401, not 403.
    anonymous = await kit.get("/kit/v1/partner")
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"


async def test_settings_wire_a_remote_jwks_verifier() -> None:
    settings = ServiceSettings(
        service_name="kit",
        environment=Environment.TEST,
        auth_issuer="https://id.example/identity",
        auth_jwks_url="https://id.example/identity/v1/jwks",
    )
    app = create_service_app(settings, title="t", version="1", description="d", with_database=False)

    verifier = app.state.token_verifier
    assert verifier.issuer == "https://id.example/identity"
    assert [type(source) for source in verifier.sources] == [RemoteJwks]


async def test_the_tokens_fixture_is_trusted_without_fetching(tokens: TokenFactory) -> None:
    settings = ServiceSettings(service_name="kit", environment=Environment.TEST)
    app = create_service_app(
        settings, title="t", version="1", description="d", routers=[router], with_database=False
    )
    tokens.trust(app)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        response = await http.get(
            "/kit/v1/me", headers=tokens.headers(sub="citizen-1", roles=["citizen"])
        )

    assert response.status_code == 200
    assert response.json()["sub"] == "citizen-1"


# --- ID tokens of trusted external issuers ---------------------------------------------------


def _id_token(factory: TokenFactory, **claims: Any) -> str:
    private = factory.private_jwk()
    now = int(time.time())
    body = {"iss": factory.issuer, "aud": factory.audience, "sub": "p-1", "iat": now}
    token: str = jose_jwt.encode(
        {**body, "exp": now + 60, **claims},
        private,
        algorithm=private["alg"],
        headers={"kid": private["kid"]},
    )
    return token


def test_an_id_token_verifies_with_the_same_key_rules(factory: TokenFactory) -> None:
    keys = {k["kid"]: k for k in factory.public_jwks()["keys"]}

    claims = verify_id_token(
        _id_token(factory), keys, issuer=factory.issuer, audience=factory.audience
    )

    assert claims["sub"] == "p-1"


@pytest.mark.parametrize("forgery", ["access token", "hs256 with the public key", "no sub"])
def test_an_id_token_forgery_is_rejected(factory: TokenFactory, forgery: str) -> None:
    keys = {k["kid"]: k for k in factory.public_jwks()["keys"]}
    public = next(iter(keys.values()))
    if forgery == "access token":
        token = factory.issue()
    elif forgery == "no sub":
        token = _id_token(factory, sub=None)
    else:
        header = {"alg": "HS256", "kid": public["kid"], "typ": "JWT"}
        claims = {
            "iss": factory.issuer,
            "aud": factory.audience,
            "sub": "p-1",
            "iat": 1,
            "exp": 2**31,
        }
        token = hs256_token(public_key_bytes(public, "PEM"), header, claims)

    with pytest.raises(TokenRejected):
        verify_id_token(token, keys, issuer=factory.issuer, audience=factory.audience)
