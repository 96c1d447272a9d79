"""Registry resilience: the request deadline, a per-registry circuit breaker and a small LRU map.

**Deadline.** A caller (the webhook, per admission request) says how long registry work may take::

    with request_deadline(7.5):
        await client.get_manifest(ref)

The deadline lives in a :mod:`contextvars` variable, so it follows the task and the tasks it starts. Work that
several requests share (a singleflight) runs under a :class:`SharedDeadline`: the latest deadline of the
requests waiting for it, so a request that joins late is never held to the first one's deadline (each waiter
stops waiting at its own). The transport never sleeps past it
(``Retry-After`` and back-off included) and stops waiting for a registry when it is reached; a hung registry
so costs one deadline, and the failure is a ``RegistryUnavailableError`` naming the registry (counted by the
breaker), not a cancelled task. Nested deadlines only ever shorten the time left.

**Breaker.** After ``failures`` consecutive failed requests to a registry host the breaker *opens*: requests
fail at once for ``cooldown`` seconds. Then it is *half-open*: exactly one probe request goes through while
the others keep failing fast; the probe's success closes the breaker, its failure opens it again.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from typing import Generic, TypeVar

__all__ = [
    "BreakerState",
    "CircuitBreaker",
    "LRUMap",
    "Permit",
    "SharedDeadline",
    "following",
    "remaining",
    "request_deadline",
]

K = TypeVar("K")
V = TypeVar("V")


class SharedDeadline:
    """The deadline of work several requests wait for: the latest of theirs, or none once one of them has none.

    Made in the context of the request that starts the work; each request that joins calls :meth:`join` in its
    own context; the work runs inside :meth:`applied`. Shared work nested in shared work follows the outer one.
    """

    __slots__ = ("_followers", "_waiters")

    def __init__(self) -> None:
        outer = _DEADLINE.get()
        self._waiters: list[float | SharedDeadline | None] = [outer]
        #: timeouts running under this deadline, and shared work nested in this one: moved when it moves
        self._followers: set[SharedDeadline | asyncio.Timeout] = set()
        if isinstance(outer, SharedDeadline):
            outer._followers.add(self)

    def join(self) -> None:
        """Count the calling request's deadline in (it may only make the shared deadline later)."""
        self._waiters.append(_DEADLINE.get())
        self._moved()

    @property
    def when(self) -> float | None:
        whens = [_when(w) for w in self._waiters]
        return None if any(w is None for w in whens) else max(w for w in whens if w is not None)

    def _moved(self) -> None:
        when = self.when
        for follower in list(self._followers):
            if isinstance(follower, SharedDeadline):
                follower._moved()
            elif not follower.expired():
                loop_when = None if when is None else asyncio.get_running_loop().time() + when - time.monotonic()
                follower.reschedule(loop_when)

    @contextmanager
    def applied(self) -> Iterator[None]:
        token = _DEADLINE.set(self)
        try:
            yield
        finally:
            _DEADLINE.reset(token)
            outer = self._waiters[0]
            if isinstance(outer, SharedDeadline):
                outer._followers.discard(self)


#: absolute ``time.monotonic()`` by which the current request's registry work must be done
_DEADLINE: contextvars.ContextVar[float | SharedDeadline | None] = contextvars.ContextVar(
    "sealgate_registry_deadline", default=None
)


def _when(value: float | SharedDeadline | None) -> float | None:
    return value.when if isinstance(value, SharedDeadline) else value


@contextmanager
def request_deadline(seconds: float) -> Iterator[float]:
    """Bound registry work in this context to ``seconds`` from now (or less, if an outer deadline is nearer).

    Yields the absolute ``time.monotonic()`` deadline in force.
    """
    if seconds != seconds or seconds < 0:  # NaN or negative
        raise ValueError(f"deadline must be >= 0 seconds, not {seconds}")
    when = time.monotonic() + seconds
    outer = _when(_DEADLINE.get())
    if outer is not None:
        when = min(when, outer)
    token = _DEADLINE.set(when)
    try:
        yield when
    finally:
        _DEADLINE.reset(token)


@contextmanager
def following(timeout: asyncio.Timeout) -> Iterator[None]:
    """Move ``timeout`` (set to :func:`remaining`) later whenever the shared deadline it runs under moves."""
    current = _DEADLINE.get()
    if not isinstance(current, SharedDeadline):
        yield
        return
    current._followers.add(timeout)
    try:
        yield
    finally:
        current._followers.discard(timeout)


def remaining() -> float | None:
    """Seconds left before the current deadline (``<= 0`` once passed), or None when there is none."""
    when = _when(_DEADLINE.get())
    return None if when is None else when - time.monotonic()


class BreakerState(Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


@dataclass(frozen=True, slots=True)
class Permit:
    """Permission for one request; ``probe`` when it is the half-open breaker's single trial."""

    probe: bool


class CircuitBreaker:
    """Consecutive-failure breaker for one registry host (not thread-safe; one event loop)."""

    def __init__(self, failures: int, cooldown: float, clock: Callable[[], float] = time.monotonic) -> None:
        if failures < 1:
            raise ValueError("failures must be >= 1")
        self.threshold = failures
        self.cooldown = cooldown
        self._clock = clock
        self.consecutive_failures = 0
        self._opened_at: float | None = None
        self._probing = False
        #: times the breaker went from closed (or half-open) to open
        self.trips = 0

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._probing or self._clock() - self._opened_at >= self.cooldown:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def retry_in(self) -> float:
        """Seconds until the cool-down ends (0 when closed or already past it)."""
        if self._opened_at is None:
            return 0.0
        return max(0.0, self.cooldown - (self._clock() - self._opened_at))

    def permit(self) -> Permit | None:
        """A :class:`Permit` for one request, or None when it must fail fast (open, or probe running)."""
        if self._opened_at is None:
            return Permit(probe=False)
        if self._probing or self._clock() - self._opened_at < self.cooldown:
            return None
        self._probing = True
        return Permit(probe=True)

    def allows_retry(self, permit: Permit) -> bool:
        """Whether a request already given a permit should keep retrying (no: the breaker opened meanwhile)."""
        return permit.probe or self._opened_at is None

    def success(self, permit: Permit) -> None:
        """The registry answered: close the breaker."""
        self.consecutive_failures = 0
        self._opened_at = None
        if permit.probe:
            self._probing = False

    def failure(self, permit: Permit) -> None:
        """The request failed for want of the registry (after its retries, or at the deadline)."""
        self.consecutive_failures += 1
        if permit.probe:
            self._probing = False
            self._opened_at = self._clock()
            self.trips += 1
        elif self._opened_at is None and self.consecutive_failures >= self.threshold:
            self._opened_at = self._clock()
            self.trips += 1

    def release(self, permit: Permit) -> None:
        """The request ended without telling anything about the registry (cancelled, local error)."""
        if permit.probe:
            self._probing = False


class LRUMap(Generic[K, V]):
    """A dict bounded to ``max_entries``; the least recently used entry is evicted first."""

    def __init__(self, max_entries: int) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be >= 1")
        self._max = max_entries
        self._data: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def __setitem__(self, key: K, value: V) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self._max:
            self._data.popitem(last=False)

    def pop(self, key: K) -> V | None:
        return self._data.pop(key, None)

    def setdefault(self, key: K, factory: Callable[[], V]) -> V:
        value = self.get(key)
        if value is None:
            value = factory()
            self[key] = value
        return value

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __len__(self) -> int:
        return len(self._data)
