"""Shared pieces of the hardening tests: a loopback trap port, a host-routing transport and a fake resolver.

Nothing here ever sends traffic beyond loopback: names such as ``registry.test`` are routed to loopback
ports by :class:`Routing`, and the classes the SSRF guard sees for them come from :func:`resolver`.
"""

from __future__ import annotations

import copy
import ipaddress
import os
import socket
import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: multiplies every fuzz example count (SEALGATE_FUZZ_SCALE=10 for a soak)
SCALE = float(os.environ.get("SEALGATE_FUZZ_SCALE", "1"))


def examples(n: int) -> int:
    return max(1, int(n * SCALE))


class Trap:
    """A loopback TCP port that no policy names: it counts every connection and closes it at once."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self._sock.settimeout(0.05)
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def port(self) -> int:
        return int(self._sock.getsockname()[1])

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            conn.close()

    def __enter__(self) -> Trap:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._sock.close()


class Routing(httpx.AsyncBaseTransport):
    """Sends requests for the named hosts to loopback ports (``{"registry.test": 5000}``), the rest as asked.

    Hosts not in ``routes`` go to the real network only if they are loopback; anything else is refused here,
    so even a bug cannot send traffic off the machine.
    """

    def __init__(self, routes: Mapping[str, int]) -> None:
        self.routes = dict(routes)
        self.seen: list[str] = []
        self._inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        self.seen.append(f"{host}:{request.url.port}")
        if host in self.routes:
            request.url = request.url.copy_with(host="127.0.0.1", port=self.routes[host])
        elif host not in ("127.0.0.1", "localhost", "::1"):
            raise httpx.ConnectError(f"test transport refuses non-loopback host {host}")
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def resolver(table: Mapping[str, Sequence[str]]) -> Callable[[str], Awaitable[list[IPAddress]]]:
    """A resolver answering from ``table`` only (no DNS); unknown names fail like NXDOMAIN."""

    async def resolve(host: str) -> list[IPAddress]:
        if host not in table:
            raise OSError(f"unknown test host {host}")
        return [ipaddress.ip_address(a) for a in table[host]]

    return resolve


def json_paths(node: object, at: tuple[object, ...] = (), *, per_list: int = 40) -> list[tuple[object, ...]]:
    """Every path to a value in a JSON document (keys and list indices; the first ``per_list`` items of a list)."""
    found = [at] if at else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += json_paths(value, (*at, key), per_list=per_list)
    elif isinstance(node, list):
        for i, value in enumerate(node[:per_list]):
            found += json_paths(value, (*at, i), per_list=per_list)
    return found


def swap_values(
    doc: object,
    paths: Sequence[tuple[object, ...]],
    swaps: Sequence[tuple[int, object]],
    keep: Callable[[tuple[object, ...]], bool] = lambda path: False,
) -> None:
    """Put each swap's value at ``paths[i % len(paths)]`` in ``doc`` (in place), except where ``keep`` says not
    to; a path an earlier swap cut (its parent replaced by a value) is skipped."""
    for at, value in swaps:
        path = paths[at % len(paths)]
        if keep(path):
            continue
        target: Any = doc
        try:
            for step in path[:-1]:
                target = target[step]
            target[path[-1]] = copy.deepcopy(value)  # a shared list or dict could end up inside itself
        except (KeyError, IndexError, TypeError):
            continue
