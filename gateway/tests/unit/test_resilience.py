"""Circuit breaker, replica choice, token buckets and trace context, without any I/O."""

from __future__ import annotations

import pytest

from gateway.ratelimit import MemoryLimiter
from gateway.settings import Bucket
from gateway.tracing import request_id, traceparent
from gateway.upstreams import BreakerState, CircuitBreaker, Upstream


def _state(breaker: CircuitBreaker) -> BreakerState:
    return breaker.state


def test_breaker_opens_after_the_threshold_and_refuses_until_open_time_passed() -> None:
    breaker = CircuitBreaker(failure_threshold=2, open_s=10)

    breaker.failed(now=0)
    assert breaker.allow(now=0)
    breaker.failed(now=1)

    assert breaker.state is BreakerState.OPEN
    assert not breaker.allow(now=5)
    assert breaker.retry_after_s(now=5) == 6


def test_half_open_breaker_lets_exactly_one_probe_through() -> None:
    breaker = CircuitBreaker(failure_threshold=1, open_s=10)
    breaker.failed(now=0)

    assert breaker.allow(now=11)
    assert _state(breaker) is BreakerState.HALF_OPEN
    assert not breaker.allow(now=11)
    breaker.succeeded()
    assert _state(breaker) is BreakerState.CLOSED
    assert breaker.allow(now=11)


def test_success_resets_the_failure_run() -> None:
    breaker = CircuitBreaker(failure_threshold=2, open_s=10)
    breaker.failed(now=0)
    breaker.succeeded()
    breaker.failed(now=1)

    assert breaker.state is BreakerState.CLOSED


def test_round_robin_skips_ejected_replicas() -> None:
    upstream = Upstream(
        "a", ["http://h:1", "http://h:2", "http://h:3"], eject_s=5, failure_threshold=1, open_s=1
    )
    upstream.replicas[1].eject(now=100)

    chosen = [upstream.choose(now=101).port for _ in range(4)]

    assert chosen == [1, 3, 1, 3]
    assert {upstream.choose(now=106).port for _ in range(3)} == {1, 2, 3}


def test_all_replicas_ejected_picks_the_one_back_soonest() -> None:
    upstream = Upstream("a", ["http://h:1", "http://h:2"], eject_s=5, failure_threshold=1, open_s=1)
    upstream.replicas[0].eject(now=100)
    upstream.replicas[1].eject(now=101)

    assert upstream.choose(now=102).port == 1


def test_upstream_urls_must_be_plain_http() -> None:
    with pytest.raises(ValueError, match="plain http"):
        Upstream("a", ["https://h:1"], eject_s=1, failure_threshold=1, open_s=1)


def test_token_bucket_refills_at_its_rate_up_to_its_burst() -> None:
    limiter = MemoryLimiter()
    bucket = Bucket(burst=2, per_s=1)

    taken = [limiter.take_now("ip", "k", bucket, now=0).allowed for _ in range(3)]
    denied = limiter.take_now("ip", "k", bucket, now=0.5)
    refilled = limiter.take_now("ip", "k", bucket, now=1.6)
    later = limiter.take_now("ip", "k", bucket, now=100)

    assert taken == [True, True, False]
    assert not denied.allowed
    assert denied.retry_after_s == 1
    assert refilled.allowed
    assert later.remaining == 1


def test_valid_traceparent_keeps_trace_and_flags_with_a_new_parent() -> None:
    incoming = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"

    outgoing = traceparent(incoming).split(b"-")

    assert outgoing[1] == b"4bf92f3577b34da6a3ce929d0e0e4736"
    assert outgoing[3] == b"00"
    assert outgoing[2] != b"00f067aa0ba902b7"


@pytest.mark.parametrize(
    "incoming",
    [
        b"00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        b"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        b"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        b"garbage",
    ],
)
def test_invalid_traceparent_starts_a_new_trace(incoming: bytes) -> None:
    outgoing = traceparent(incoming).split(b"-")

    assert outgoing[1] != incoming.split(b"-")[1] if incoming.count(b"-") >= 3 else True
    assert len(outgoing[1]) == 32
    assert outgoing[3] == b"01"


def test_request_id_is_kept_when_well_formed_and_made_otherwise() -> None:
    assert request_id(b"abc-123") == b"abc-123"
    assert request_id(b"no spaces allowed") != b"no spaces allowed"
    assert len(request_id(None)) == 32


def test_default_route_classes_match_the_services_real_paths() -> None:
    from gateway.main import create_gateway
    from gateway.settings import GatewaySettings

    gateway = create_gateway(GatewaySettings(health_interval_s=0))

    def route(path: str, method: str = "GET") -> str | None:
        found = gateway.edge.route_of(path, method)
        return found.name if found else None

    assert route("/identity/v1/auth/login", "POST") == "login"
    assert route("/identity/v1/oauth2/token", "POST") == "login"
    assert route("/identity/v1/auth/external", "POST") == "login"
    assert route("/booking/v1/tenants/06999001/availability/slots") == "availability"
    assert route("/booking/v1/tenants/06999001/earliest/search") == "availability"
    assert route("/documents/v1/bookings/b1/items/i1/documents", "POST") == "uploads"
    assert route("/booking/v1/bookings") == "default"


def test_token_keys_come_from_the_routed_identity_service_unless_configured() -> None:
    from gateway.main import with_derived_defaults
    from gateway.settings import GatewaySettings

    derived = with_derived_defaults(GatewaySettings(identity_url="http://identity:8000"))
    explicit = with_derived_defaults(
        GatewaySettings(identity_url="http://identity:8000", auth_jwks_url="http://keys/jwks")
    )

    assert derived.auth_jwks_url == "http://identity:8000/identity/v1/jwks"
    assert explicit.auth_jwks_url == "http://keys/jwks"
