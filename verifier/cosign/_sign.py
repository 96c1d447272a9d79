"""Signing images the way ``cosign sign --key`` does: simple-signing payload, appended to the ``.sig`` tag."""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from verifier.cosign._layout import (
    SIGNATURE_ANNOTATION,
    SIMPLE_SIGNING_MEDIA_TYPE,
    SignatureLayer,
    attachment_tag,
    build_signature_manifest,
    parse_signature_manifest,
)
from verifier.cosign._payload import build_simple_signing_payload
from verifier.crypto import SigningKey, VerifyingKey, sign_bytes, verify_bytes
from verifier.errors import (
    LimitExceededError,
    ManifestUnknownError,
    RegistryProtocolError,
    SignatureInvalidError,
)
from verifier.oci import DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST, Descriptor, Digest, Reference
from verifier.registry import RegistryClient

__all__ = ["SignedImage", "attach_signature", "sign_image"]

_logger = logging.getLogger(__name__)

_INDEX_TYPES = (OCI_INDEX, DOCKER_MANIFEST_LIST)


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


def _is_duplicate(existing: SignatureLayer, new: Descriptor, payload: bytes, key: VerifyingKey) -> bool:
    """cosign's dedupe rule (FORMATS.md §1): same payload, type and annotations, and signed by the same key."""
    if existing.descriptor.digest != new.digest or existing.media_type != new.media_type:
        return False
    wanted = {k: v for k, v in (new.annotations or {}).items() if k != SIGNATURE_ANNOTATION}
    if any(existing.annotations.get(k) != v for k, v in wanted.items()):
        return False
    try:
        return verify_bytes(key, existing.signature(), payload)
    except SignatureInvalidError:
        return False


async def attach_signature(
    client: RegistryClient,
    repository: Reference,
    digest: Digest,
    payload: bytes,
    signature: bytes,
    key: VerifyingKey,
) -> bool:
    """Append one simple-signing layer to ``<repository>:<alg>-<hex>.sig``; False if already there."""
    tag_ref = repository.with_tag(attachment_tag(digest))
    try:
        current = await client.get_manifest(tag_ref, accept=(OCI_MANIFEST, DOCKER_MANIFEST))
        layers = parse_signature_manifest(current, max_layers=client.limits.max_signatures)
    except ManifestUnknownError:
        layers = []
    new = Descriptor(
        media_type=SIMPLE_SIGNING_MEDIA_TYPE,
        digest=Digest.of(payload),
        size=len(payload),
        annotations={SIGNATURE_ANNOTATION: base64.b64encode(signature).decode()},
    )
    if any(_is_duplicate(layer, new, payload, key) for layer in layers):
        _logger.debug("signature for %s already attached at %s", digest, tag_ref)
        return False
    if len(layers) >= client.limits.max_signatures:
        raise LimitExceededError(
            f"{tag_ref} already holds {len(layers)} signatures, the limit is {client.limits.max_signatures}"
        )
    manifest, config = build_signature_manifest([layer.descriptor for layer in layers] + [new])
    await client.push_blob(repository, payload)
    await client.push_blob(repository, config)
    await client.put_manifest(tag_ref, manifest, OCI_MANIFEST)
    return True


async def _targets(client: RegistryClient, ref: Reference, recursive: bool) -> list[Descriptor]:
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
    client: RegistryClient,
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
        payload = build_simple_signing_payload(identity, str(target.digest), annotations)
        signature = sign_bytes(key, payload)
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
