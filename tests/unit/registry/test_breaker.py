"""Registry resilience: circuit breaker, request deadline, Retry-After within it, per-host cap, bounded caches."""

from __future__ import annotations

import asyncio
import socket
import time

import httpx
import pytest

from tests.support.faultregistry import Fault, FaultRegistry
from verifier.errors import ConfigError, ManifestUnknownError, RegistryUnavailableError
from verifier.limits import DEFAULT_LIMITS, Limits
from verifier.oci import Reference
from verifier.registry import RegistryClient, RegistryConfig, StaticCredentials
from verifier.registry._breaker import BreakerState, CircuitBreaker, LRUMap, remaining, request_deadline


def client(limits: Limits, **kwargs: object) -> RegistryClient:
    return RegistryClient(RegistryConfig(limits=limits), credentials=StaticCredentials({}), **kwargs)  # type: ignore[arg-type]


def ref(reg: FaultRegistry, rest: str) -> Reference:
    return Reference.parse(f"{reg.host}/{rest}")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


# --- the breaker as a state machine ----------------------------------------------------------------------

# each step: (action, expected state after it); actions: "ok"/"fail" get a permit for one request and report it,
# "wait" moves the clock past the cool-down, "blocked" asserts a request is refused without a permit
STORIES = {
    "closed stays closed below the threshold": [("fail", "closed"), ("fail", "closed"), ("ok", "closed")],
    "a success resets the count of consecutive failures": [
        ("fail", "closed"),
        ("fail", "closed"),
        ("ok", "closed"),
        ("fail", "closed"),
        ("fail", "closed"),
    ],
    "three consecutive failures open it and it then fails fast": [
        ("fail", "closed"),
        ("fail", "closed"),
        ("fail", "open"),
        ("blocked", "open"),
    ],
    "after the cool-down one probe goes and its success closes it": [
        ("fail", "closed"),
        ("fail", "closed"),
        ("fail", "open"),
        ("wait", "half-open"),
        ("ok", "closed"),
        ("ok", "closed"),
    ],
    "a failed probe opens it again for a full cool-down": [
        ("fail", "closed"),
        ("fail", "closed"),
        ("fail", "open"),
        ("wait", "half-open"),
        ("fail", "open"),
        ("blocked", "open"),
        ("wait", "half-open"),
        ("ok", "closed"),
    ],
}


@pytest.mark.parametrize("story", list(STORIES.values()), ids=list(STORIES))
def test_breaker_state_machine(story: list[tuple[str, str]]) -> None:
    clock = Clock()
    breaker = CircuitBreaker(3, 5.0, clock)
    for action, expected in story:
        if action == "wait":
            clock.now += 5.0
        elif action == "blocked":
            assert breaker.permit() is None
        else:
            permit = breaker.permit()
            assert permit is not None, f"{action} was refused"
            (breaker.success if action == "ok" else breaker.failure)(permit)
        assert breaker.state.value == expected, (action, expected)


def test_half_open_lets_exactly_one_probe_through() -> None:
    clock = Clock()
    breaker = CircuitBreaker(1, 1.0, clock)
    breaker.failure(breaker.permit())  # type: ignore[arg-type]
    clock.now += 1.0
    probe = breaker.permit()
    assert probe is not None and probe.probe
    assert breaker.permit() is None, "a second request went through while the probe runs"
    breaker.release(probe)  # the probe was cancelled: the next request may probe
    second = breaker.permit()
    assert second is not None and second.probe
    breaker.success(second)
    assert breaker.state is BreakerState.CLOSED


# --- the breaker in the transport --------------------------------------------------------------------------

FAST = Limits(retries=0, backoff_base=0.001, breaker_failures=2, breaker_cooldown=0.3, read_timeout=2.0)


async def test_consecutive_failures_open_the_breaker_and_requests_then_fail_without_traffic() -> None:
    with FaultRegistry() as registry:
        registry.add_image("app", "1")
        registry.inject(Fault("status", path="/manifests/", status=503, times=-1))
        async with client(FAST) as c:
            for _ in range(2):
                with pytest.raises(RegistryUnavailableError, match="HTTP 503"):
                    await c.get_manifest(ref(registry, "app:1"))
            sent = registry.count()
            started = time.monotonic()
            with pytest.raises(RegistryUnavailableError) as caught:
                await c.get_manifest(ref(registry, "app:1"))
            assert time.monotonic() - started < 0.05
            assert registry.count() == sent, "an open breaker still sent a request"
            assert f"registry {registry.host} unavailable: circuit breaker open" in str(caught.value)
            assert c.breaker(registry.host).state is BreakerState.OPEN

            registry.faults.clear()  # the registry recovers
            await asyncio.sleep(0.35)
            manifest = await c.get_manifest(ref(registry, "app:1"))
            assert manifest.digest is not None
            assert c.breaker(registry.host).state is BreakerState.CLOSED


async def test_404_and_401_are_answers_not_failures() -> None:
    with FaultRegistry() as registry:
        async with client(FAST) as c:
            for _ in range(5):
                with pytest.raises(ManifestUnknownError):
                    await c.get_manifest(ref(registry, "missing:1"))
            assert c.breaker(registry.host).state is BreakerState.CLOSED


async def test_an_open_breaker_stops_the_retries_of_requests_already_running() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    limits = Limits(retries=5, backoff_base=0.1, breaker_failures=2, breaker_cooldown=5.0)
    async with client(limits) as c:
        running = asyncio.ensure_future(c.get_manifest(Reference.parse(f"127.0.0.1:{port}/app:1")))
        await asyncio.sleep(0.05)
        breaker = c.breaker(f"127.0.0.1:{port}")
        for _ in range(2):  # two other requests fail meanwhile
            breaker.failure(breaker.permit())  # type: ignore[arg-type]
        with pytest.raises(RegistryUnavailableError, match="circuit breaker opened after"):
            await running
        assert c.request_count <= 2, "retries went on after the breaker opened"


# --- deadline ----------------------------------------------------------------------------------------------


async def test_a_hanging_registry_costs_one_deadline_and_counts_as_a_failure() -> None:
    with FaultRegistry() as registry:
        registry.add_image("app", "1")
        registry.inject(Fault("hang", seconds=5, times=-1))
        async with client(Limits(retries=3, read_timeout=30, breaker_failures=1, breaker_cooldown=30)) as c:
            started = time.monotonic()
            with request_deadline(0.3), pytest.raises(RegistryUnavailableError) as caught:
                await c.get_manifest(ref(registry, "app:1"))
            assert time.monotonic() - started < 1.0
            assert "no answer within the request deadline" in str(caught.value)
            assert c.breaker(registry.host).state is BreakerState.OPEN


async def test_retry_after_past_the_deadline_fails_at_once_instead_of_sleeping() -> None:
    with FaultRegistry() as registry:
        registry.add_image("app", "1")
        registry.inject(Fault("status", status=429, headers={"Retry-After": "3"}, times=-1))
        async with client(Limits(retries=3)) as c:
            started = time.monotonic()
            with request_deadline(1.0), pytest.raises(RegistryUnavailableError) as caught:
                await c.get_manifest(ref(registry, "app:1"))
            assert time.monotonic() - started < 0.5
        assert "waiting 3.0s to retry would pass the request deadline" in str(caught.value)
        assert registry.count("GET") == 1


async def test_retry_after_inside_the_deadline_is_honoured() -> None:
    with FaultRegistry() as registry:
        registry.add_image("app", "1")
        registry.inject(Fault("status", status=503, headers={"Retry-After": "1"}, times=1))
        async with client(Limits(retries=3)) as c:
            started = time.monotonic()
            with request_deadline(3.0):
                await c.get_manifest(ref(registry, "app:1"))
            assert 0.9 < time.monotonic() - started < 2.5
        assert registry.count("GET") == 2


async def test_backoff_never_sleeps_past_the_deadline() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with client(Limits(retries=5, backoff_base=1.0)) as c:
        started = time.monotonic()
        with request_deadline(0.5), pytest.raises(RegistryUnavailableError, match="would pass the request deadline"):
            await c.get_manifest(Reference.parse(f"127.0.0.1:{port}/app:1"))
        assert time.monotonic() - started < 0.4


async def test_a_passed_deadline_sends_nothing() -> None:
    with FaultRegistry() as registry:
        registry.add_image("app", "1")
        async with client(DEFAULT_LIMITS) as c:
            with request_deadline(0.0), pytest.raises(RegistryUnavailableError, match="request deadline reached"):
                await c.get_manifest(ref(registry, "app:1"))
        assert registry.count() == 0


def test_nested_deadlines_only_shorten() -> None:
    assert remaining() is None
    with request_deadline(1.0):
        outer = remaining()
        assert outer is not None and 0.9 < outer <= 1.0
        with request_deadline(10.0):
            inner = remaining()
            assert inner is not None and inner <= 1.0
        with request_deadline(0.1):
            shortest = remaining()
            assert shortest is not None and shortest <= 0.1
    assert remaining() is None


async def test_a_task_started_inside_a_deadline_keeps_it() -> None:
    async def seen() -> float | None:
        return remaining()

    with request_deadline(2.0):
        task = asyncio.ensure_future(seen())
    left = await task
    assert left is not None and left <= 2.0


# --- per-host concurrency ----------------------------------------------------------------------------------


async def test_requests_in_flight_to_one_host_are_capped() -> None:
    in_flight = 0
    peak = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.02)
        in_flight -= 1
        return httpx.Response(404, json={"errors": [{"code": "MANIFEST_UNKNOWN", "message": "no"}]})

    async with client(Limits(max_requests_per_host=3), transport=httpx.MockTransport(handler)) as c:
        image = Reference.parse("127.0.0.1:5999/app:1")
        results = await asyncio.gather(*(c.get_manifest(image) for _ in range(20)), return_exceptions=True)
    assert all(isinstance(r, ManifestUnknownError) for r in results)
    assert peak == 3


# --- bounded caches and limits -----------------------------------------------------------------------------


async def test_bearer_tokens_are_kept_for_a_bounded_number_of_scopes() -> None:
    with FaultRegistry() as registry:
        registry.require_bearer()
        for n in range(8):
            registry.add_image(f"app{n}", "1")
        async with client(Limits(max_cached_tokens=3)) as c:
            for n in range(8):
                await c.get_manifest(ref(registry, f"app{n}:1"))
            assert len(c._t.auth.tokens) == 3


def test_lru_map_evicts_the_least_recently_used() -> None:
    lru: LRUMap[str, int] = LRUMap(2)
    lru["a"] = 1
    lru["b"] = 2
    assert lru.get("a") == 1
    lru["c"] = 3
    assert "b" not in lru and "a" in lru and "c" in lru and len(lru) == 2


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("max_manifest_bytes", 0, id="a zero byte cap is refused"),
        pytest.param("breaker_failures", -1, id="a negative failure count is refused"),
        pytest.param("read_timeout", float("nan"), id="a NaN timeout is refused"),
        pytest.param("max_referrers", True, id="a boolean is not a number"),
    ],
)
def test_nonsense_limits_are_a_config_error_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=field):
        Limits(**{field: value})  # type: ignore[arg-type]


def test_zero_retries_and_redirects_are_allowed() -> None:
    limits = Limits(retries=0, max_redirects=0, breaker_cooldown=0)
    assert (limits.retries, limits.max_redirects) == (0, 0)
