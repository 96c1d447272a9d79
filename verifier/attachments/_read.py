"""Find every cosign signature and attestation of an image, whatever layout stored it (FORMATS.md §1, §6).

Layouts, each reported on the :class:`Attachment` it produced:

- ``legacy-sig`` / ``legacy-att``: the layers of ``<repo>:sha256-<hex>.sig`` / ``.att``;
- ``referrers``: manifests the OCI 1.1 referrers API lists for the digest;
- ``fallback-tag``: manifests listed in the referrers fallback tag ``<repo>:sha256-<hex>`` (an OCI index),
  used when the registry has no referrers API. The index is never filtered by artifactType or annotations:
  every manifest is fetched and judged by its content (cosign 3.0.x wrote ``application/vnd.oci.empty.v1+json``
  there, 3.1 the bundle type).

A referring manifest is cosign material when it has exactly one layer that is a sigstore bundle
(``application/vnd.dev.sigstore.bundle*``; v3 ``cosign sign``/``attest``) or when its layers are cosign
simple-signing / DSSE layers (``--registry-referrers-mode=oci-1-1``). Other referrers (SBOMs pushed by other
tools, notation signatures, ...) are skipped, as cosign skips them. Everything that *claims* to be cosign
material but cannot be read becomes an :class:`Attachment` whose ``payload`` is the error, so one bad entry
never hides the others and never counts as verified.

Time: anyone with push rights decides how many entries the listings name (up to ``max_signatures`` layers,
``max_referrers`` manifests), so fetching them may take only part of the time the request has: once discovery
has spent as long as it has left (half its time, measured against the deadline as it stands, which a joining
request may move), no further entry is fetched and the rest become failed candidates (``LIMIT_EXCEEDED``).
Fetches already running finish. Without this, a thousand bogus layers on a registry 50 ms away used up the
deadline, and a deadline counts as "could not verify", which ``onError: allow`` admits.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from typing import Any

from verifier.attachments._budget import Downloads
from verifier.cosign import (
    BUNDLE_PREDICATE_ANNOTATION,
    COSIGN_SIGN_PREDICATE,
    DSSE_MEDIA_TYPE,
    FALLBACK_TAG,
    LAYOUTS,
    LEGACY_ATT,
    LEGACY_SIG,
    REFERRERS,
    SIMPLE_SIGNING_MEDIA_TYPE,
    Attachment,
    attachment_tag,
    is_bundle_media_type,
    parse_signature_manifest,
)
from verifier.errors import (
    BlobTooLargeError,
    DigestMismatchError,
    LimitExceededError,
    ManifestUnknownError,
    RegistryProtocolError,
    SealgateError,
    UnsupportedAttachmentError,
    VerificationError,
)
from verifier.oci import (
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    Descriptor,
    Digest,
    Manifest,
    Reference,
    Registry,
)

__all__ = ["discover"]

_logger = logging.getLogger(__name__)

#: fetch failures that concern one entry only (the rest of the image can still be judged); others
#: (registry unavailable, unauthorised) concern the whole image and propagate
_ENTRY_ERRORS = (ManifestUnknownError, DigestMismatchError, LimitExceededError, RegistryProtocolError)

#: at most this many blob/manifest fetches run at once per ``discover`` call
_CONCURRENCY = 8
#: the share of its time (spent so far plus left before the deadline) discovery may spend before it starts no
#: further fetch of a listed entry
_ENTRY_SHARE = 0.5


def _wanted(attachment: Attachment, signatures: bool, attestations: bool) -> bool:
    if attachment.is_signature and signatures:
        return True
    if attachment.is_attestation and attestations:
        return True
    # unreadable entries that could be either are kept so their reason is reported
    return not attachment.is_signature and not attachment.is_attestation


class _Discovery:
    def __init__(self, client: Registry, repository: Reference, digest: Digest) -> None:
        self.client = client
        self.repository = repository
        self.digest = digest
        self.limits = client.limits
        self._gate = asyncio.Semaphore(_CONCURRENCY)
        self.downloads = Downloads(client, repository)
        self._started = time.monotonic()
        self.not_fetched = 0

    def _out_of_time(self, what: str) -> LimitExceededError | None:
        """The failure of an entry not fetched because the entries before it took the time they may have.

        Asked afresh each time: the deadline may move (a request with a later one joined this verification)."""
        left = self.client.time_left()
        if left is None:
            return None
        spent = time.monotonic() - self._started
        if spent * (1 - _ENTRY_SHARE) < _ENTRY_SHARE * left:
            return None
        self.not_fetched += 1
        return LimitExceededError(
            f"{what} not fetched: the entries listed before it took half the time the verification had "
            "(an image cannot buy time with attachments)"
        )

    async def _bounded(self, call: Callable[[], Awaitable[bytes]], what: str) -> bytes | SealgateError:
        async with self._gate:
            late = self._out_of_time(what)
            if late is not None:
                return late
            try:
                return await call()
            except _ENTRY_ERRORS as exc:
                return exc

    async def _payload(self, descriptor: Descriptor, *, predicate: str | None = None) -> bytes | SealgateError:
        """A signature payload or bundle, or an attestation (a DSSE layer, or a bundle whose referrer names a
        ``predicate`` other than cosign's signature): attestations carry documents such as SBOMs, so they have
        their own, larger cap."""
        bundle = is_bundle_media_type(descriptor.media_type)
        if descriptor.media_type == DSSE_MEDIA_TYPE or (bundle and predicate not in (None, COSIGN_SIGN_PREDICATE)):
            name, limit = "max_attestation_bytes", self.limits.max_attestation_bytes
        elif bundle:
            name, limit = "max_bundle_bytes", self.limits.max_bundle_bytes
        else:
            name, limit = "max_payload_bytes", self.limits.max_payload_bytes
        if descriptor.size > limit:
            return BlobTooLargeError(
                f"layer {descriptor.digest} is {descriptor.size} bytes, above the {limit}-byte limit {name}"
            )
        return await self._bounded(
            lambda: self.downloads.blob(descriptor, max_bytes=limit, limit_name=name), f"layer {descriptor.digest}"
        )

    # --- legacy tags ------------------------------------------------------------------------------------

    async def legacy(self, suffix: str, layout: str, expected: str) -> list[Attachment]:
        tag_ref = self.repository.with_tag(attachment_tag(self.digest, suffix))
        try:
            manifest = await self.client.get_manifest(tag_ref, accept=(OCI_MANIFEST, DOCKER_MANIFEST))
        except ManifestUnknownError:
            return []
        except (RegistryProtocolError, LimitExceededError) as exc:
            return [self._broken(layout, tag_ref.tag or suffix, exc)]
        self.downloads.fetched(manifest)
        try:
            layers = parse_signature_manifest(manifest, max_layers=self.limits.max_signatures)
        except (RegistryProtocolError, LimitExceededError) as exc:
            return [Attachment(layout, OCI_MANIFEST, manifest.digest, exc, {}, manifest=manifest.digest)]
        return await self._layers(layout, manifest.digest, [layer.descriptor for layer in layers], expected)

    async def _layers(
        self, layout: str, manifest: Digest, layers: list[Descriptor], expected: str | None
    ) -> list[Attachment]:
        async def one(desc: Descriptor) -> Attachment:
            annotations = dict(desc.annotations or {})
            if desc.media_type not in (SIMPLE_SIGNING_MEDIA_TYPE, DSSE_MEDIA_TYPE) or (
                expected is not None and desc.media_type != expected
            ):
                error = UnsupportedAttachmentError(
                    f"layer {desc.digest} of {manifest} has unsupported media type {desc.media_type[:100]!r}"
                )
                return Attachment(layout, desc.media_type, desc.digest, error, annotations, manifest=manifest)
            payload = await self._payload(desc)
            return Attachment(layout, desc.media_type, desc.digest, payload, annotations, manifest=manifest)

        return list(await asyncio.gather(*(one(desc) for desc in layers)))

    def _broken(self, layout: str, where: str, exc: SealgateError) -> Attachment:
        # a listing that cannot be read at all: reported once, under the subject's digest
        _logger.debug("%s listing %s unreadable: %s", layout, where, exc)
        return Attachment(layout, OCI_INDEX, self.digest, exc, {})

    # --- referrers --------------------------------------------------------------------------------------

    async def referrers(self) -> list[Attachment]:
        layout = REFERRERS
        index: Manifest | None
        try:
            index = await self.client.get_referrers(self.repository, self.digest)
            if index is not None:
                self.downloads.fetched(index)
        except RegistryProtocolError as exc:
            # like ggcr: a registry that answers the referrers endpoint with nonsense has no usable API
            _logger.debug("referrers API of %s unusable (%s); using the fallback tag", self.repository.name, exc)
            index = None
        entries: list[Descriptor] = []
        if index is not None:
            try:
                entries = self._index_entries(index)
            except (RegistryProtocolError, LimitExceededError) as exc:
                return [self._broken(layout, "referrers index", exc)]
        if index is None or not entries:
            # no API, or an API that knows nothing: cosign < 3 / pre-upgrade pushes live in the fallback tag
            layout = FALLBACK_TAG
            tag_ref = self.repository.with_tag(self.digest.tag_form)
            try:
                index = self.downloads.fetched(await self.client.get_manifest(tag_ref, accept=(OCI_INDEX,)))
                entries = self._index_entries(index)
            except ManifestUnknownError:
                return []
            except (RegistryProtocolError, LimitExceededError) as exc:
                return [self._broken(layout, tag_ref.tag or "fallback tag", exc)]
        found = await asyncio.gather(*(self._referrer(layout, entry) for entry in entries))
        return [attachment for group in found for attachment in group]

    def _index_entries(self, index: Manifest) -> list[Descriptor]:
        doc = index.json()
        manifests = doc.get("manifests")
        if manifests is None:
            return []
        if not isinstance(manifests, list):
            raise RegistryProtocolError(f"referrers index {index.digest} has no manifests list")
        if len(manifests) > self.limits.max_referrers:
            raise LimitExceededError(
                f"referrers index {index.digest} lists {len(manifests)} manifests, "
                f"more than the limit max_referrers of {self.limits.max_referrers}"
            )
        entries, seen = [], set()
        for i, raw in enumerate(manifests):
            entry = Descriptor.from_dict(raw, f"entry {i} of referrers index {index.digest}")
            if entry.digest not in seen:
                seen.add(entry.digest)
                entries.append(entry)
        return entries

    async def _referrer(self, layout: str, entry: Descriptor) -> list[Attachment]:
        media_type = entry.artifact_type or entry.media_type

        def broken(exc: SealgateError) -> list[Attachment]:
            return [
                Attachment(layout, media_type, entry.digest, exc, dict(entry.annotations or {}), manifest=entry.digest)
            ]

        if entry.size > self.limits.max_manifest_bytes:
            return broken(BlobTooLargeError(f"referrer {entry.digest} is {entry.size} bytes, above the limit"))
        ref = self.repository.with_digest(entry.digest)
        async with self._gate:
            late = self._out_of_time(f"referrer {entry.digest}")
            if late is not None:
                return broken(late)
            self.downloads.charge(entry.size, f"referrer {entry.digest}")
            try:
                manifest = await self.client.get_manifest(ref, accept=(OCI_MANIFEST, DOCKER_MANIFEST, OCI_INDEX))
            except _ENTRY_ERRORS as exc:
                return broken(exc)
        self.downloads.fetched(manifest, entry.size)
        if manifest.media_type == OCI_INDEX:
            _logger.debug("referrer %s is an index; not cosign material", entry.digest)
            return []
        try:
            doc = manifest.json()
            layers_raw = doc.get("layers")
            if not isinstance(layers_raw, list):
                raise RegistryProtocolError(f"referrer {entry.digest} has no layers list")
            if len(layers_raw) > self.limits.max_signatures:
                raise LimitExceededError(f"referrer {entry.digest} has {len(layers_raw)} layers, above the limit")
            layers = [
                Descriptor.from_dict(x, f"layer {i} of referrer {entry.digest}") for i, x in enumerate(layers_raw)
            ]
            self._check_subject(doc, entry.digest)
        except SealgateError as exc:
            return broken(exc)
        annotations = doc.get("annotations")
        manifest_annotations = (
            {k: v for k, v in annotations.items() if isinstance(v, str)} if isinstance(annotations, dict) else {}
        )
        artifact_type = doc.get("artifactType") if isinstance(doc.get("artifactType"), str) else None
        bundle_layers = [layer for layer in layers if is_bundle_media_type(layer.media_type)]
        if bundle_layers or (artifact_type is not None and is_bundle_media_type(artifact_type)):
            if len(layers) != 1 or len(bundle_layers) != 1:
                return broken(
                    UnsupportedAttachmentError(
                        f"bundle referrer {entry.digest} has {len(layers)} layers; cosign writes exactly one bundle"
                    )
                )
            layer = bundle_layers[0]
            payload = await self._payload(layer, predicate=manifest_annotations.get(BUNDLE_PREDICATE_ANNOTATION))
            bundle = payload if isinstance(payload, bytes) else None
            return [
                Attachment(
                    layout, layer.media_type, layer.digest, payload, manifest_annotations, bundle, manifest=entry.digest
                )
            ]
        if any(layer.media_type in (SIMPLE_SIGNING_MEDIA_TYPE, DSSE_MEDIA_TYPE) for layer in layers):
            return await self._layers(layout, entry.digest, layers, None)
        _logger.debug("referrer %s (%s) is not cosign material; skipped", entry.digest, media_type)
        return []

    def _check_subject(self, doc: Mapping[str, Any], where: Digest) -> None:
        subject = doc.get("subject")
        if subject is None:
            raise RegistryProtocolError(f"referrer {where} has no subject")
        described = Descriptor.from_dict(subject, f"subject of referrer {where}")
        if described.digest != self.digest:
            raise VerificationError(f"referrer {where} refers to {described.digest}, not to {self.digest}")


def _distinct(found: Iterable[Attachment]) -> list[Attachment]:
    """One of each identical candidate (same blob, media type and annotations, read or not): 400 layers naming
    one blob are one signature to judge, not 400."""
    seen: set[tuple[object, ...]] = set()
    out = []
    for attachment in found:
        error = attachment.error()
        key = (
            attachment.layout,
            attachment.media_type,
            attachment.digest,
            tuple(sorted(attachment.annotations.items())),
            None if error is None else (error.code, error.message),
        )
        if key not in seen:
            seen.add(key)
            out.append(attachment)
    return out


async def discover(
    client: Registry,
    repository: Reference,
    digest: Digest,
    *,
    signatures: bool = True,
    attestations: bool = True,
    layouts: Collection[str] = LAYOUTS,
) -> list[Attachment]:
    """Every signature (``signatures``) and/or attestation (``attestations``) of ``repository@digest``.

    Looks at the ``.sig`` and ``.att`` tags and at the referrers (API, else the fallback tag) of
    ``repository`` (pass cosign's ``COSIGN_REPOSITORY`` here to look elsewhere); ``layouts`` narrows that
    (``(LEGACY_SIG,)`` is the fast path: the ``.sig`` tag alone, two requests). Unreadable entries come
    back with their error as ``payload``; at most ``client.limits.max_signatures`` attachments are
    returned (more is a :class:`LimitExceededError`). Registry failures that concern the whole image
    (unavailable, unauthorised) propagate as :class:`RegistryError`.
    """
    run = _Discovery(client, repository, digest)
    jobs = []
    if signatures and LEGACY_SIG in layouts:
        jobs.append(run.legacy("sig", LEGACY_SIG, SIMPLE_SIGNING_MEDIA_TYPE))
    if attestations and LEGACY_ATT in layouts:
        jobs.append(run.legacy("att", LEGACY_ATT, DSSE_MEDIA_TYPE))
    if REFERRERS in layouts or FALLBACK_TAG in layouts:
        jobs.append(run.referrers())
    groups = await asyncio.gather(*jobs)
    found = _distinct(a for group in groups for a in group if _wanted(a, signatures, attestations))
    if len(found) > client.limits.max_signatures:
        raise LimitExceededError(
            f"{repository.name}@{digest} has {len(found)} signatures and attestations, "
            f"more than the limit of {client.limits.max_signatures}"
        )
    _logger.debug(
        "discovered %d attachments for %s@%s (%d entries not fetched: out of time)",
        len(found),
        repository.name,
        digest,
        run.not_fetched,
    )
    return found
