"""The SSRF guard: where a registry's answers may send sealgate.

A registry is contacted because a policy names it (configuration). Its answers can point elsewhere: a blob
redirect to storage, a token realm in ``WWW-Authenticate``. Those targets are attacker-influenced, so a target
host is accepted only when

- it is the registry's own host, or
- every address it resolves to is *public*, or belongs to the same network class as the registry itself
  (a loopback registry may use a loopback token server; a registry on a private network may redirect within
  that class; a public registry may not reach loopback, link-local/metadata or private addresses).

Unspecified, multicast, broadcast and reserved addresses are never accepted (``0.0.0.0`` reaches loopback on
Linux). Names are resolved and then checked ("resolve-then-check"): a name resolving to ``127.0.0.1`` counts
as loopback. ``localhost`` and ``*.localhost`` are loopback without asking DNS (RFC 6761).

Known gap: the HTTP client resolves the name again when it connects, so a DNS server that answers differently
the second time (rebinding) is not stopped here; pinning the checked address would need a custom connector.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from enum import Enum

from verifier.errors import RegistryProtocolError, RegistryUnavailableError

from ._breaker import LRUMap

__all__ = ["HostClass", "HostGuard", "IPAddress", "Resolver", "address_class", "split_host", "system_resolver"]

_logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
#: ``host`` (no port, no brackets) -> the addresses it resolves to
Resolver = Callable[[str], Awaitable[Sequence[IPAddress]]]

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
#: seconds a resolution is reused
_RESOLVE_TTL = 30.0


class HostClass(Enum):
    PUBLIC = "public"
    PRIVATE = "private"
    LOOPBACK = "loopback"
    LINK_LOCAL = "link-local"
    SPECIAL = "special"  # unspecified, multicast, broadcast, reserved: never a legitimate target


def address_class(address: IPAddress) -> HostClass:
    """The network class of one address (IPv4 embedded in IPv6 is judged as the IPv4 address)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return address_class(embedded)
    if address.is_loopback:
        return HostClass.LOOPBACK
    if address.is_unspecified or address.is_multicast or address.is_reserved:
        return HostClass.SPECIAL
    if isinstance(address, ipaddress.IPv4Address) and address == ipaddress.IPv4Address("255.255.255.255"):
        return HostClass.SPECIAL
    if address.is_link_local:
        return HostClass.LINK_LOCAL
    if address.is_global:
        return HostClass.PUBLIC
    return HostClass.PRIVATE  # RFC 1918, ULA, CGNAT (100.64/10, e.g. Alibaba's metadata), documentation ...


def split_host(netloc: str) -> str:
    """``host[:port]`` or ``[v6]:port`` -> the bare host, lowercased, without a trailing dot."""
    host = netloc.strip().lower()
    if host.startswith("["):
        host = host[1 : host.find("]")] if "]" in host else host[1:]
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


async def system_resolver(host: str) -> list[IPAddress]:
    """Every address the system resolver gives for ``host``."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    found: list[IPAddress] = []
    for info in infos:
        raw = str(info[4][0]).split("%", 1)[0]  # drop an IPv6 zone
        address = ipaddress.ip_address(raw)
        if address not in found:
            found.append(address)
    return found


class HostGuard:
    """Classifies hosts (resolving names, with a small cache) and refuses targets a registry may not use."""

    def __init__(self, resolver: Resolver | None = None, *, max_entries: int = 256) -> None:
        self._resolve = resolver or system_resolver
        self._cache: LRUMap[str, tuple[float, frozenset[HostClass]]] = LRUMap(max_entries)

    async def classes(self, netloc: str) -> frozenset[HostClass]:
        """The classes of every address ``netloc`` resolves to; raises RegistryUnavailableError if unresolvable."""
        host = split_host(netloc)
        if host == "localhost" or host.endswith(".localhost"):
            return frozenset({HostClass.LOOPBACK})
        try:
            return frozenset({address_class(ipaddress.ip_address(host))})
        except ValueError:
            pass
        cached = self._cache.get(host)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        try:
            addresses = await self._resolve(host)
        except (OSError, UnicodeError, ValueError) as exc:
            raise RegistryUnavailableError(f"cannot resolve host {host[:100]!r}: {exc}") from None
        if not addresses:
            raise RegistryUnavailableError(f"cannot resolve host {host[:100]!r}: no addresses")
        found = frozenset(address_class(a) for a in addresses)
        self._cache[host] = (time.monotonic() + _RESOLVE_TTL, found)
        return found

    async def check(self, registry: str, target: str, *, what: str, purpose: str) -> None:
        """Refuse (RegistryProtocolError) a ``target`` host that registry ``registry`` may not send us to."""
        if split_host(target) == split_host(registry):
            return
        target_classes = await self.classes(target)
        refused = sorted(c.value for c in target_classes if c is not HostClass.PUBLIC)
        if not refused:
            return
        own = await self.classes(registry)
        refused = sorted(c.value for c in target_classes - own if c is not HostClass.PUBLIC)
        if HostClass.SPECIAL in target_classes:
            refused = sorted({*refused, HostClass.SPECIAL.value})
        if refused:
            _logger.debug("refused %s to %s from registry %s (%s)", purpose, target, registry, refused)
            raise RegistryProtocolError(
                f"{what}: registry {registry} sent a {purpose} to {target[:100]!r}, a {' and '.join(refused)} "
                "address it may not send sealgate to (SSRF guard)"
            )
