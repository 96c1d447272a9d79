"""The async OCI registry client: transport, credentials and token auth, circuit breakers, deadlines, SSRF guard.

>>> from verifier.oci import Reference
>>> from verifier.registry import RegistryClient, RegistryConfig
>>> RegistryConfig().scheme_for("registry.example"), RegistryConfig().scheme_for("127.0.0.1:5000")
('https', 'http')

``async with RegistryClient() as client: await client.get_manifest(Reference.parse("nginx:1.27"))`` fetches
and digest-checks a manifest; see :class:`RegistryClient` for blobs, tags, referrers and pushes. The values it
reads and returns (references, digests, media types, manifests) live in :mod:`verifier.oci`.
"""

from ._auth import (
    Challenge,
    Credentials,
    CredentialStore,
    DockerConfigCredentials,
    StaticCredentials,
    docker_config_path,
    parse_challenges,
    registry_key,
)
from ._breaker import BreakerState, CircuitBreaker, SharedDeadline, following, remaining, request_deadline
from ._client import RegistryClient
from ._config import RegistryConfig, is_loopback_host
from ._ssrf import HostClass, HostGuard

__all__ = [
    "BreakerState",
    "Challenge",
    "CircuitBreaker",
    "CredentialStore",
    "Credentials",
    "DockerConfigCredentials",
    "HostClass",
    "HostGuard",
    "RegistryClient",
    "RegistryConfig",
    "SharedDeadline",
    "StaticCredentials",
    "docker_config_path",
    "following",
    "is_loopback_host",
    "parse_challenges",
    "registry_key",
    "remaining",
    "request_deadline",
]
