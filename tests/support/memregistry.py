"""An in-memory registry satisfying :class:`verifier.oci.Registry`, for engine unit tests without HTTP.

It keeps manifests (by digest, tags pointing at them) and blobs per repository, answers the referrers API from
the ``subject`` of the manifests it holds (or not at all: ``referrers_api=False`` makes cosign material go to
the fallback tag, as on a registry without the API), and checks what it returns as the HTTP client does
(digests, ``accept`` media types, blob caps). It also takes pushes (``push_blob``/``put_manifest``), so the
project's own ``sign_image`` and ``attest_image`` write cosign material into it exactly as into a registry::

    reg = MemRegistry()
    image = reg.add_image("mem.test/team/app", "v1")           # -> "mem.test/team/app@sha256:..."
    await reg.sign(image, key)                                 # a .sig manifest, key-signed payload
    await reg.attest(image, key, predicate=b"{}", predicate_type="custom")

``down`` makes every call a ``RegistryUnavailableError`` (an outage), ``delay`` makes every call slow (seconds;
a call that would end past the caller's ``request_deadline`` fails at it, as the HTTP client's does), and
``calls`` counts the calls by method, so tests can assert what was (not) read.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from verifier.attachments import AttestedImage, SignedImage, attest_image, sign_image
from verifier.cosign import SigningKey
from verifier.errors import BlobTooLargeError, ManifestUnknownError, RegistryProtocolError, RegistryUnavailableError
from verifier.limits import Limits
from verifier.oci import (
    MANIFEST_ACCEPT,
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER,
    OCI_MANIFEST,
    OCTET_STREAM,
    Descriptor,
    Digest,
    Manifest,
    Reference,
)
from verifier.registry import remaining

__all__ = ["MemRegistry"]


@dataclass
class _Repository:
    manifests: dict[Digest, Manifest] = field(default_factory=dict)
    tags: dict[str, Digest] = field(default_factory=dict)
    blobs: dict[Digest, bytes] = field(default_factory=dict)


class MemRegistry:
    """Repositories in memory, keyed by ``Reference.name`` (``registry/repository``)."""

    def __init__(self, limits: Limits | None = None, *, referrers_api: bool = True) -> None:
        self._limits = limits or Limits()
        self.referrers_api = referrers_api
        self.down = False
        self.delay = 0.0
        self.calls: Counter[str] = Counter()
        self._repos: dict[str, _Repository] = {}

    @property
    def limits(self) -> Limits:
        return self._limits

    def time_left(self) -> float | None:
        return remaining()  # the engine's request deadline, as the HTTP client sees it

    # --- the Registry protocol ------------------------------------------------------------------------

    async def resolve(self, ref: Reference) -> Descriptor:
        return (await self._manifest(ref, "resolve", MANIFEST_ACCEPT)).descriptor

    async def get_manifest(self, ref: Reference, *, accept: Sequence[str] = MANIFEST_ACCEPT) -> Manifest:
        return await self._manifest(ref, "get_manifest", accept)

    async def get_referrers(
        self, ref: Reference, digest: Digest, *, artifact_type: str | None = None
    ) -> Manifest | None:
        await self._call("get_referrers", ref)
        if not self.referrers_api:
            return None
        entries = []
        for manifest in self._repo(ref).manifests.values():
            doc = manifest.json()
            subject = doc.get("subject")
            if not isinstance(subject, dict) or subject.get("digest") != str(digest):
                continue
            kind = doc.get("artifactType") or (doc.get("config") or {}).get("mediaType")
            if artifact_type is not None and kind != artifact_type:
                continue
            entry = Descriptor(manifest.media_type, manifest.digest, len(manifest.raw), doc.get("annotations"), kind)
            entries.append(entry.to_dict())
        raw = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}).encode()
        return Manifest(raw, OCI_INDEX, Digest.of(raw))

    async def get_blob(
        self, ref: Reference, digest: Digest, *, max_bytes: int | None = None, limit_name: str | None = None
    ) -> bytes:
        await self._call("get_blob", ref)
        data = self._repo(ref).blobs.get(digest)
        if data is None:
            raise ManifestUnknownError(f"blob {digest} in {ref.name} not found (HTTP 404)")
        cap = self._limits.max_blob_bytes if max_bytes is None else max_bytes
        if len(data) > cap:
            name = limit_name or ("max_blob_bytes" if max_bytes is None else "max_bytes")
            raise BlobTooLargeError(f"blob {digest} in {ref.name} is above the {cap}-byte limit {name}")
        return data

    # --- pushes (what sign_image / attest_image call) -------------------------------------------------

    async def push_blob(self, ref: Reference, data: bytes, *, media_type: str = OCTET_STREAM) -> Descriptor:
        await self._call("push_blob", ref)
        return self.add_blob(ref.name, data, media_type)

    async def put_manifest(self, ref: Reference, data: bytes, media_type: str) -> Digest:
        await self._call("put_manifest", ref)
        return self.add_manifest(ref.name, data, media_type, tag=ref.tag if ref.digest is None else None)

    # --- setting up ------------------------------------------------------------------------------------

    def add_blob(self, name: str, data: bytes, media_type: str = OCTET_STREAM) -> Descriptor:
        digest = Digest.of(data)
        self._repos.setdefault(name, _Repository()).blobs[digest] = data
        return Descriptor(media_type, digest, len(data))

    def add_manifest(self, name: str, raw: bytes, media_type: str = OCI_MANIFEST, tag: str | None = None) -> Digest:
        repo = self._repos.setdefault(name, _Repository())
        digest = Digest.of(raw)
        repo.manifests[digest] = Manifest(raw, media_type, digest)
        if tag is not None:
            repo.tags[tag] = digest
        return digest

    def add_image(self, name: str, tag: str | None = None, layer: bytes = b"layer") -> str:
        """A one-layer image in ``name`` (``registry/repository``); returns its ``name@digest``."""
        config = self.add_blob(name, b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers"}}')
        blob = self.add_blob(name, layer, OCI_LAYER)
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, **_size_digest(config)},
            "layers": [{"mediaType": OCI_LAYER, **_size_digest(blob)}],
        }
        digest = self.add_manifest(name, json.dumps(manifest).encode(), OCI_MANIFEST, tag)
        return f"{name}@{digest}"

    async def sign(self, image: str, key: SigningKey, *, annotations: Mapping[str, str] | None = None) -> SignedImage:
        """Sign ``image`` as ``cosign sign --key`` does (the project's own signer: payload, ``.sig`` manifest)."""
        [signed] = await sign_image(self, Reference.parse(image), key, annotations=annotations)
        return signed

    async def attest(
        self, image: str, key: SigningKey, *, predicate: bytes, predicate_type: str, bundle_format: bool = False
    ) -> AttestedImage:
        """Attest ``image`` as ``cosign attest --key`` does (legacy ``.att`` DSSE layer, or a bundle referrer)."""
        return await attest_image(
            self,
            Reference.parse(image),
            key,
            predicate=predicate,
            predicate_type=predicate_type,
            bundle_format=bundle_format,
        )

    # --- internals -------------------------------------------------------------------------------------

    def _repo(self, ref: Reference) -> _Repository:
        return self._repos.get(ref.name) or _Repository()

    async def _call(self, method: str, ref: Reference) -> None:
        self.calls[method] += 1
        if self.delay:
            left = remaining()  # the caller's request deadline, honoured as the HTTP client honours it
            if left is not None and left < self.delay:
                await asyncio.sleep(max(left, 0.0))
                raise RegistryUnavailableError(
                    f"registry {ref.registry} unavailable: no answer within the request deadline ({method})"
                )
            await asyncio.sleep(self.delay)
        if self.down:
            raise RegistryUnavailableError(f"registry {ref.registry} unavailable: connection refused ({method})")

    async def _manifest(self, ref: Reference, method: str, accept: Sequence[str]) -> Manifest:
        await self._call(method, ref)
        repo = self._repo(ref)
        digest = ref.digest or repo.tags.get(ref.tag or "")
        manifest = repo.manifests.get(digest) if digest is not None else None
        if manifest is None:
            raise ManifestUnknownError(f"manifest {ref} not found (HTTP 404)")
        if manifest.media_type not in accept:
            raise RegistryProtocolError(f"manifest {ref}: unexpected Content-Type {manifest.media_type!r}")
        return manifest


def _size_digest(descriptor: Descriptor) -> dict[str, object]:
    return {"size": descriptor.size, "digest": str(descriptor.digest)}
