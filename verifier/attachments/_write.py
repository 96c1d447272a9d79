"""Pushing cosign material the way ``cosign sign --key`` / ``cosign attest --key`` do (FORMATS.md §1, §6, §7).

The bytes (payloads, signatures, statements, bundles, manifests, layer lists) are built by ``verifier.cosign``;
this module reads what is already attached, and pushes blobs and manifests through a
:class:`verifier.oci.RegistryWriter`:

- signatures: one simple-signing layer appended to ``<repo>:sha256-<hex>.sig`` (deduplicated as cosign does);
- legacy attestations (default): a DSSE envelope appended to ``<repo>:sha256-<hex>.att``; ``replace`` drops
  earlier layers of the same predicate type first;
- bundle attestations (``bundle_format``): a sigstore bundle v0.3 in a referring manifest whose ``subject`` is
  the image, pushed by digest and listed in the referrers fallback tag ``sha256-<hex>`` when the registry has
  no referrers API.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from verifier.cosign import (
    BUNDLE_V03_MEDIA_TYPE,
    FALLBACK_TAG,
    LEGACY_ATT,
    PREDICATE_ANNOTATION,
    REFERRERS,
    SigningKey,
    attachment_tag,
    attestation_layer,
    build_attestation_statement,
    build_bundle_referrer,
    build_key_bundle,
    build_predicate,
    build_signature_manifest,
    layer_predicate_type,
    parse_signature_manifest,
    predicate_type_for,
    sign_envelope,
    sign_payload,
    with_fallback_entry,
    with_signature,
)
from verifier.crypto import VerifyingKey
from verifier.errors import LimitExceededError, ManifestUnknownError, RegistryProtocolError, UsageError
from verifier.oci import (
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    OCI_EMPTY_JSON,
    OCI_INDEX,
    OCI_MANIFEST,
    Descriptor,
    Digest,
    Reference,
    RegistryWriter,
)

__all__ = ["AttestedImage", "SignedImage", "attach_bundle", "attach_signature", "attest_image", "sign_image"]

_logger = logging.getLogger(__name__)

_INDEX_TYPES = (OCI_INDEX, DOCKER_MANIFEST_LIST)
_SIGNATURE_MANIFESTS = (OCI_MANIFEST, DOCKER_MANIFEST)


@dataclass(frozen=True, slots=True)
class SignedImage:
    """What ``sign_image`` did for one manifest."""

    reference: Reference  # repository@digest (tag kept for display)
    digest: Digest
    media_type: str
    payload: bytes
    signature: bytes
    #: False when an equivalent signature by the same key was already attached
    appended: bool
    signature_tag: str


@dataclass(frozen=True, slots=True)
class AttestedImage:
    """What ``attest_image`` wrote."""

    reference: Reference  # repository@digest of the attested image
    digest: Digest
    predicate_type: str
    statement: bytes
    #: the DSSE envelope (legacy layer bytes) or the bundle JSON
    attachment: bytes
    layout: str  # "legacy-att" | "referrers" | "fallback-tag"
    #: where it went: the ``.att`` tag, or the referring manifest's reference
    location: str
    #: legacy layers dropped by ``replace``
    replaced: int = 0


async def _push_layers(client: RegistryWriter, tag_ref: Reference, layers: list[Descriptor], blob: bytes) -> None:
    manifest, config = build_signature_manifest(layers)
    await client.push_blob(tag_ref, blob)
    await client.push_blob(tag_ref, config)
    await client.put_manifest(tag_ref, manifest, OCI_MANIFEST)


async def attach_signature(
    client: RegistryWriter,
    repository: Reference,
    digest: Digest,
    payload: bytes,
    signature: bytes,
    key: VerifyingKey,
) -> bool:
    """Append one simple-signing layer to ``<repository>:<alg>-<hex>.sig``; False if already there."""
    tag_ref = repository.with_tag(attachment_tag(digest))
    try:
        current = await client.get_manifest(tag_ref, accept=_SIGNATURE_MANIFESTS)
        layers = parse_signature_manifest(current, max_layers=client.limits.max_signatures)
    except ManifestUnknownError:
        layers = []
    wanted = with_signature(
        layers, payload, signature, key, max_signatures=client.limits.max_signatures, where=str(tag_ref)
    )
    if wanted is None:
        _logger.debug("signature for %s already attached at %s", digest, tag_ref)
        return False
    await _push_layers(client, tag_ref, wanted, payload)
    return True


async def _targets(client: RegistryWriter, ref: Reference, recursive: bool) -> list[Descriptor]:
    top = await client.resolve(ref)
    if ref.digest is not None and top.digest != ref.digest:
        raise RegistryProtocolError(f"registry answered digest {top.digest} for {ref}")
    targets = [top]
    if recursive and top.media_type in _INDEX_TYPES:
        index = (await client.get_manifest(ref.with_digest(top.digest))).json()
        children = index.get("manifests")
        if not isinstance(children, list):
            raise RegistryProtocolError(f"index {top.digest} has no manifests list")
        for child in children:
            if not isinstance(child, dict) or not isinstance(child.get("digest"), str):
                raise RegistryProtocolError(f"index {top.digest} has a malformed manifest entry")
            targets.append(await client.resolve(ref.with_digest(Digest.parse(child["digest"]))))
    return targets


async def sign_image(
    client: RegistryWriter,
    ref: Reference,
    key: SigningKey,
    *,
    annotations: Mapping[str, str] | None = None,
    recursive: bool = False,
    signature_repository: Reference | None = None,
    docker_reference: str | None = None,
    upload: bool = True,
) -> list[SignedImage]:
    """Sign ``ref`` (a tag is resolved to its digest first) and, with ``recursive``, each manifest of an index.

    ``signature_repository`` stores signatures elsewhere (cosign's ``COSIGN_REPOSITORY``);
    ``docker_reference`` overrides the identity written in the payload (``--sign-container-identity``).
    """
    store = signature_repository or ref
    identity = docker_reference or ref.cosign_identity
    public = key.public_key()
    results = []
    for target in await _targets(client, ref, recursive):
        payload, signature = sign_payload(key, identity, target.digest, annotations)
        appended = await attach_signature(client, store, target.digest, payload, signature, public) if upload else False
        results.append(
            SignedImage(
                reference=ref.with_digest(target.digest),
                digest=target.digest,
                media_type=target.media_type,
                payload=payload,
                signature=signature,
                appended=appended,
                signature_tag=str(store.with_tag(attachment_tag(target.digest))),
            )
        )
    return results


async def _attach_legacy(
    client: RegistryWriter,
    store: Reference,
    digest: Digest,
    envelope: bytes,
    predicate_type: str,
    replace: bool,
) -> tuple[str, int]:
    tag_ref = store.with_tag(attachment_tag(digest, "att"))
    limits = client.limits
    try:
        current = await client.get_manifest(tag_ref, accept=_SIGNATURE_MANIFESTS)
        layers = [layer.descriptor for layer in parse_signature_manifest(current, max_layers=limits.max_signatures)]
    except ManifestUnknownError:
        layers = []
    new = attestation_layer(envelope, predicate_type)
    dropped = 0
    if replace:
        kept = []
        for layer in layers:
            payload = None
            if PREDICATE_ANNOTATION not in (layer.annotations or {}) and layer.size <= limits.max_payload_bytes:
                payload = await client.get_blob(store, layer.digest, max_bytes=limits.max_payload_bytes)
            if layer_predicate_type(layer.annotations or {}, payload) == predicate_type:
                dropped += 1
            else:
                kept.append(layer)
        layers = [new, *kept]  # cosign puts the replacement first
    else:
        layers = [*layers, new]
    if len(layers) > limits.max_signatures:
        raise LimitExceededError(
            f"{tag_ref} would hold {len(layers)} attestations, the limit is {limits.max_signatures}"
        )
    await _push_layers(client, tag_ref, layers, envelope)
    return str(tag_ref), dropped


async def _list_in_fallback_tag(client: RegistryWriter, store: Reference, subject: Digest, entry: Descriptor) -> None:
    """Add ``entry`` to the referrers fallback index (read-modify-write, like ggcr)."""
    tag_ref = store.with_tag(subject.tag_form)
    try:
        current = (await client.get_manifest(tag_ref, accept=(OCI_INDEX,))).json()
    except ManifestUnknownError:
        current = None
    index = with_fallback_entry(current, entry, str(tag_ref))
    if index is not None:
        await client.put_manifest(tag_ref, index, OCI_INDEX)


async def attach_bundle(
    client: RegistryWriter,
    store: Reference,
    subject: Descriptor,
    bundle: bytes,
    predicate_type: str,
    now: datetime,
) -> tuple[str, str]:
    """Push ``bundle`` in a referring manifest of ``subject``: ``(layout, manifest reference)``."""
    manifest = build_bundle_referrer(bundle, predicate_type, subject, created=now)
    digest = Digest.of(manifest)
    await client.push_blob(store, OCI_EMPTY_JSON)
    await client.push_blob(store, bundle)
    await client.put_manifest(store.with_digest(digest), manifest, OCI_MANIFEST)
    if await client.get_referrers(store, subject.digest) is not None:
        return REFERRERS, str(store.with_digest(digest))
    entry = Descriptor(OCI_MANIFEST, digest, len(manifest), artifact_type=BUNDLE_V03_MEDIA_TYPE)
    await _list_in_fallback_tag(client, store, subject.digest, entry)
    return FALLBACK_TAG, str(store.with_digest(digest))


async def attest_image(
    client: RegistryWriter,
    ref: Reference,
    key: SigningKey,
    *,
    predicate: bytes,
    predicate_type: str,
    bundle_format: bool = False,
    replace: bool = False,
    attestation_repository: Reference | None = None,
    now: datetime | None = None,
) -> AttestedImage:
    """Attest ``ref`` (a tag is resolved first) with the ``predicate`` file bytes, typed by ``predicate_type``.

    ``predicate_type`` is a ``--type`` short name (``custom``, ``cyclonedx``, ``spdxjson``, ``slsaprovenance``
    ...) or a predicate type URI. ``attestation_repository`` is cosign's ``COSIGN_REPOSITORY``.
    """
    if bundle_format and replace:
        raise UsageError("--replace applies to the legacy .att layout only, not to --bundle-format")
    moment = now or datetime.now(UTC)
    uri = predicate_type_for(predicate_type)
    subject = await client.resolve(ref)
    if ref.digest is not None and subject.digest != ref.digest:
        raise UsageError(f"registry answered digest {subject.digest} for {ref}")
    statement = build_attestation_statement(
        uri, build_predicate(predicate_type, predicate, now=moment), ref.cosign_identity, subject.digest
    )
    store = attestation_repository or ref
    if bundle_format:
        bundle = build_key_bundle(key, statement)
        layout, location = await attach_bundle(client, store, subject, bundle, uri, moment)
        return AttestedImage(ref.with_digest(subject.digest), subject.digest, uri, statement, bundle, layout, location)
    envelope = sign_envelope(key, statement)
    location, dropped = await _attach_legacy(client, store, subject.digest, envelope, uri, replace)
    _logger.debug("attested %s (%s) at %s", subject.digest, uri, location)
    return AttestedImage(
        ref.with_digest(subject.digest), subject.digest, uri, statement, envelope, LEGACY_ATT, location, dropped
    )
