"""How the registry client connects: insecure hosts, CA bundle, limits, user agent, docker config."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from verifier import __version__
from verifier.limits import DEFAULT_LIMITS, Limits

from ._ssrf import split_host

__all__ = ["RegistryConfig", "is_loopback_host"]


def is_loopback_host(host: str) -> bool:
    """True for ``localhost``, ``127.0.0.0/8`` and ``::1`` (with or without a port)."""
    bare = split_host(host)
    if bare == "localhost":
        return True
    try:
        return ipaddress.ip_address(bare).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class RegistryConfig:
    """Connection settings for :class:`RegistryClient`.

    HTTPS is used everywhere except loopback hosts and the hosts named in ``insecure`` (``host`` or
    ``host:port``), which are spoken to over plain HTTP. ``ca_bundle`` adds a CA file to the system
    roots. ``docker_config`` defaults to ``$DOCKER_CONFIG/config.json`` or ``~/.docker/config.json``.
    """

    insecure: frozenset[str] = frozenset()
    ca_bundle: str | None = None
    limits: Limits = DEFAULT_LIMITS
    user_agent: str = f"sealgate/{__version__}"
    docker_config: str | None = None

    def plain_http_allowed(self, host: str) -> bool:
        """Whether ``host[:port]`` may be spoken to over plain HTTP."""
        host = host.lower()
        insecure = {name.lower() for name in self.insecure}
        return is_loopback_host(host) or host in insecure or split_host(host) in insecure

    def scheme_for(self, host: str) -> str:
        return "http" if self.plain_http_allowed(host) else "https"
