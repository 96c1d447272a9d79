"""OCI values: references, digests, media types, descriptors and manifests. Pure: no I/O.

>>> from verifier.oci import Reference
>>> ref = Reference.parse("nginx:1.27")
>>> ref.name, ref.api_host
('docker.io/library/nginx', 'registry-1.docker.io')

The registry client that fetches these values lives in :mod:`verifier.registry`.
"""

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
from ._protocol import Registry, RegistryWriter
from ._reference import DOCKER_HUB, Reference

__all__ = [
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
    "Descriptor",
    "Digest",
    "Manifest",
    "Reference",
    "Registry",
    "RegistryWriter",
]
