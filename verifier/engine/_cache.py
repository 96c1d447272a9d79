"""A bounded TTL cache and a singleflight group: the two pieces that make repeat admissions cheap."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from verifier.errors import RegistryUnavailableError
from verifier.registry import SharedDeadline, following, remaining

__all__ = ["SingleFlight", "TTLCache"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TTLCache(Generic[K, V]):
    """Least-recently-used cache whose entries each carry their own expiry time.

    ``clock`` is injectable (monotonic seconds) so tests can move time. ``max_entries`` 0 keeps nothing (the
    policy's ``cache.maxEntries: 0``, "no cache").
    """

    def __init__(self, max_entries: int, clock: Callable[[], float]) -> None:
        if max_entries < 0:
            raise ValueError("max_entries must be >= 0")
        self._max = max_entries
        self._clock = clock
        self._data: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def get(self, key: K) -> V | None:
        entry = self.get_entry(key)
        return None if entry is None else entry[1]

    def get_entry(self, key: K) -> tuple[float, V] | None:
        """``(expires_at, value)`` of a live entry (the clock's time base), or None."""
        entry = self._data.get(key)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            del self._data[key]
            return None
        self._data.move_to_end(key)
        return entry

    def put_until(self, key: K, value: V, expires_at: float) -> None:
        """Store ``value`` until the absolute time ``expires_at``."""
        self.put(key, value, expires_at - self._clock())

    def put(self, key: K, value: V, ttl: float) -> None:
        if ttl <= 0 or self._max == 0:
            self._data.pop(key, None)
            return
        self._data[key] = (self._clock() + ttl, value)
        self._data.move_to_end(key)
        while len(self._data) > self._max:
            self._data.popitem(last=False)

    def clear(self) -> None:
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


class SingleFlight(Generic[K, V]):
    """Concurrent callers asking for the same key share one in-flight computation.

    The computation runs in its own task, so a caller that is cancelled does not cancel the work the others wait
    for. Each caller keeps its own request deadline (:func:`~verifier.registry.request_deadline`): the shared work runs
    until the latest deadline of those waiting for it (a :class:`~verifier.registry.SharedDeadline`), and a caller
    whose own deadline passes first stops waiting with a ``RegistryUnavailableError``, as the transport does.
    """

    def __init__(self) -> None:
        self._inflight: dict[K, tuple[asyncio.Task[V], SharedDeadline]] = {}

    async def do(self, key: K, fn: Callable[[], Awaitable[V]]) -> V:
        entry = self._inflight.get(key)
        if entry is None:
            deadline = SharedDeadline()

            async def run() -> V:
                try:
                    with deadline.applied():
                        return await fn()
                finally:
                    self._inflight.pop(key, None)

            task = asyncio.ensure_future(run())
            self._inflight[key] = (task, deadline)
        else:
            task, deadline = entry
            deadline.join()
        left = remaining()
        if left is None:
            return await asyncio.shield(task)
        mine = time.monotonic() + left
        try:
            return await _wait(task, left)
        except _OwnDeadline:
            shared = deadline.when
            if shared is not None and shared <= mine:
                # the work is bound by this same deadline and ends with its own reason (naming the registry)
                with contextlib.suppress(_OwnDeadline):
                    return await _wait(task, _GRACE)
            raise RegistryUnavailableError(
                "request deadline reached while waiting for a registry verification already in progress"
            ) from None

    def __len__(self) -> int:
        return len(self._inflight)


#: how long a caller whose deadline has passed still waits for shared work bound by that same deadline
_GRACE = 1.0


class _OwnDeadline(Exception):
    """The caller's own wait ran out (as opposed to a TimeoutError raised by the work)."""


async def _wait(task: asyncio.Task[V], seconds: float) -> V:
    timeout = asyncio.timeout(max(seconds, 0.0))
    try:
        async with timeout:
            with following(timeout):  # nested shared work: this wait moves with the outer deadline
                return await asyncio.shield(task)
    except TimeoutError:
        if timeout.expired():
            raise _OwnDeadline from None
        raise
