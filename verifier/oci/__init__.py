"""OCI registry access: references, digests, media types, credentials and the async registry client.

>>> from verifier.oci import Reference, RegistryClient
>>> ref = Reference.parse("nginx:1.27")
>>> ref.name, ref.api_host
('docker.io/library/nginx', 'registry-1.docker.io')

``async with RegistryClient() as client: await client.get_manifest(ref)`` fetches and digest-checks a
manifest; see :class:`RegistryClient` for blobs, tags, referrers and pushes.
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
from ._digest import Digest
from ._mediatypes import (
    DOCKER_CONFIG,
    DOCKER_LAYER,
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    DSSE_MEDIA_TYPE,
    IMAGE_MANIFEST_TYPES,
    INDEX_TYPES,
    MANIFEST_ACCEPT,
    OCI_CONFIG,
    OCI_EMPTY,
    OCI_EMPTY_DIGEST,
    OCI_EMPTY_JSON,
    OCI_INDEX,
    OCI_LAYER,
    OCI_LAYER_TAR,
    OCI_MANIFEST,
    OCTET_STREAM,
    SIMPLE_SIGNING_MEDIA_TYPE,
)
from ._models import Descriptor, Manifest
from ._protocol import Registry
from ._reference import DOCKER_HUB, Reference
from ._ssrf import HostClass, HostGuard

__all__ = [
    "BreakerState",
    "CircuitBreaker",
    "HostClass",
    "HostGuard",
    "following",
    "remaining",
    "request_deadline",
    "SharedDeadline",
    "DOCKER_CONFIG",
    "DOCKER_HUB",
    "DOCKER_LAYER",
    "DOCKER_MANIFEST",
    "DOCKER_MANIFEST_LIST",
    "DSSE_MEDIA_TYPE",
    "IMAGE_MANIFEST_TYPES",
    "INDEX_TYPES",
    "MANIFEST_ACCEPT",
    "OCI_CONFIG",
    "OCI_EMPTY",
    "OCI_EMPTY_DIGEST",
    "OCI_EMPTY_JSON",
    "OCI_INDEX",
    "OCI_LAYER",
    "OCI_LAYER_TAR",
    "OCI_MANIFEST",
    "OCTET_STREAM",
    "SIMPLE_SIGNING_MEDIA_TYPE",
    "Challenge",
    "CredentialStore",
    "Credentials",
    "Descriptor",
    "Digest",
    "DockerConfigCredentials",
    "Manifest",
    "Reference",
    "Registry",
    "RegistryClient",
    "RegistryConfig",
    "StaticCredentials",
    "docker_config_path",
    "is_loopback_host",
    "parse_challenges",
    "registry_key",
]
