"""``Registry``: what reading signature material needs from a registry, and nothing else; ``RegistryWriter``:
that and the two pushes writing it needs (``verifier.attachments``, the one place cosign material meets a
registry, takes these, never the HTTP client).

The engine and cosign discovery type against this protocol, not the HTTP client: :class:`RegistryClient`
satisfies it (transport, auth, retries, breaker, SSRF guard), and so does the in-memory registry the unit tests
use. Each method checks what it returns the way the client does: a manifest or blob fetched by digest hashes
to it, a blob is no larger than its cap, too many layers or referrers is a ``LimitExceededError``.

Pure: values and limits only, no I/O import.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from verifier.limits import Limits

from ._digest import Digest
from ._mediatypes import MANIFEST_ACCEPT, OCTET_STREAM
from ._models import Descriptor, Manifest
from ._reference import Reference

__all__ = ["Registry", "RegistryWriter"]


class Registry(Protocol):
    """Read access to manifests, referrers and blobs of one or more registries (async)."""

    @property
    def limits(self) -> Limits:
        """The caps the reader applies (discovery reads its own budgets from them too)."""
        ...

    def time_left(self) -> float | None:
        """Seconds before the deadline of the current request's registry work (``<= 0`` once passed), or None
        when it has none: discovery spends only part of it on what an image's attachment listings name."""
        ...

    async def resolve(self, ref: Reference) -> Descriptor:
        """The descriptor of the manifest ``ref`` (tag or digest) names; ``ManifestUnknownError`` when absent."""
        ...

    async def get_manifest(self, ref: Reference, *, accept: Sequence[str] = MANIFEST_ACCEPT) -> Manifest:
        """The manifest ``ref`` names, of one of the ``accept`` media types, checked against its digest."""
        ...

    async def get_referrers(
        self, ref: Reference, digest: Digest, *, artifact_type: str | None = None
    ) -> Manifest | None:
        """The OCI 1.1 referrers index of ``digest`` in ``ref``'s repository, or None without a referrers API."""
        ...

    async def get_blob(
        self, ref: Reference, digest: Digest, *, max_bytes: int | None = None, limit_name: str | None = None
    ) -> bytes:
        """The blob ``digest`` in ``ref``'s repository, checked, at most ``max_bytes`` (default
        ``limits.max_blob_bytes``; above it a ``BlobTooLargeError`` naming ``limit_name``)."""
        ...


class RegistryWriter(Registry, Protocol):
    """A :class:`Registry` that also takes pushes: what ``sign_image`` and ``attest_image`` need (async)."""

    async def push_blob(self, ref: Reference, data: bytes, *, media_type: str = OCTET_STREAM) -> Descriptor:
        """Store ``data`` as a blob of ``ref``'s repository (a no-op when it is there); its descriptor."""
        ...

    async def put_manifest(self, ref: Reference, data: bytes, media_type: str) -> Digest:
        """Store the manifest ``data`` under ``ref`` (a tag, or its own digest); the digest it is stored as."""
        ...
