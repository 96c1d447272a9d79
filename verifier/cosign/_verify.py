"""Verifying key-signed cosign image signatures stored at the ``.sig`` tag.

``check_simple_signature`` is pure (bytes in, a :class:`SignatureCheck` out); ``verify_image`` does the
fetching (digest, signature manifest, payload blobs in parallel) and hands each layer to it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from verifier.cosign._budget import Downloads
from verifier.cosign._crypto import MALFORMED_MATERIAL, malformed, verify_bytes
from verifier.cosign._keys import VerifyingKey
from verifier.cosign._layout import (
    SIMPLE_SIGNING_MEDIA_TYPE,
    SignatureLayer,
    attachment_tag,
    parse_signature_manifest,
)
from verifier.cosign._payload import SimpleSigningPayload
from verifier.errors import (
    DownloadBudgetError,
    InvalidReferenceError,
    LimitExceededError,
    ManifestUnknownError,
    NoSignaturesError,
    PayloadInvalidError,
    RegistryError,
    SealgateError,
    SignatureInvalidError,
)
from verifier.oci import DOCKER_MANIFEST, OCI_MANIFEST, Digest, Reference
from verifier.registry import RegistryClient

__all__ = [
    "FetchedSignatures",
    "ImageVerification",
    "NamedKey",
    "SignatureCheck",
    "check_claims",
    "check_signatures",
    "check_simple_signature",
    "summary_code",
    "summary_reason",
    "fetch_signatures",
    "verify_image",
]

_logger = logging.getLogger(__name__)

#: reason codes of a rejected signature, besides the error codes of verifier.errors
PAYLOAD_DIGEST_MISMATCH = "PAYLOAD_DIGEST_MISMATCH"
REFERENCE_MISMATCH = "REFERENCE_MISMATCH"
ANNOTATION_MISMATCH = "ANNOTATION_MISMATCH"
UNSUPPORTED_LAYER = "UNSUPPORTED_LAYER"
OK = "OK"


@dataclass(frozen=True, slots=True)
class NamedKey:
    """A public key with the name reports use for it (a file name, or a policy authority name)."""

    name: str
    key: VerifyingKey


@dataclass(frozen=True, slots=True)
class SignatureCheck:
    """The verdict on one signature layer."""

    layer: str  # the layer's digest
    code: str  # OK, or why it was rejected
    reason: str  # one human line
    key: str | None = None  # the key that verified it
    docker_reference: str | None = None
    optional: Mapping[str, Any] | None = None
    #: a verified attestation's in-toto statement (predicate included)
    statement: Mapping[str, Any] | None = field(default=None, compare=False)

    @property
    def verified(self) -> bool:
        return self.code == OK

    def to_dict(self) -> dict[str, Any]:
        return {
            "layer": self.layer,
            "verified": self.verified,
            "code": self.code,
            "reason": self.reason,
            "key": self.key,
            "dockerReference": self.docker_reference,
            "optional": dict(self.optional) if self.optional is not None else None,
        }


@dataclass(frozen=True, slots=True)
class ImageVerification:
    """Everything ``verify_image`` found out about one image."""

    image: Reference  # repository@digest (tag kept for display)
    digest: Digest | None
    resolved_from_tag: str | None
    signatures: tuple[SignatureCheck, ...] = ()
    #: a failure that concerns the image as a whole (no signatures, registry unavailable, ...)
    error: SealgateError | None = field(default=None)

    @property
    def verified(self) -> bool:
        return self.error is None and any(check.verified for check in self.signatures)

    @property
    def code(self) -> str:
        return summary_code(self.signatures, self.error)

    def reason(self) -> str:
        """One line: why the image is (not) verified."""
        return summary_reason(self.signatures, self.error, "signatures")

    def to_dict(self) -> dict[str, Any]:
        return {
            "image": str(self.image),
            "digest": str(self.digest) if self.digest else None,
            "resolvedFromTag": self.resolved_from_tag,
            "verified": self.verified,
            "code": self.code,
            "reason": self.reason(),
            "signatures": [check.to_dict() for check in self.signatures],
        }


class _Check(Protocol):
    @property
    def verified(self) -> bool: ...
    @property
    def code(self) -> str: ...
    @property
    def reason(self) -> str: ...


def summary_code(checks: Sequence[_Check], error: SealgateError | None) -> str:
    """The one code that sums up several checks: OK, the image-wide error's, the shared one, or SIGNATURE_INVALID."""
    if error is None and any(c.verified for c in checks):
        return OK
    if error is not None:
        return error.code
    codes = {c.code for c in checks}
    return codes.pop() if len(codes) == 1 else SignatureInvalidError.code


def summary_reason(checks: Sequence[_Check], error: SealgateError | None, noun: str) -> str:
    """One line summing up several checks (``"1 of 2 signatures verified"``, or why none did)."""
    if error is not None:
        return error.message
    good = [c for c in checks if c.verified]
    if good:
        return f"{len(good)} of {len(checks)} {noun} verified"
    return "; ".join(dict.fromkeys(c.reason for c in checks))


def _reference_matches(image: Reference, docker_reference: str | None) -> bool:
    if docker_reference is None:
        return False
    try:
        signed = Reference.parse(docker_reference)
    except InvalidReferenceError:
        return False
    return image.same_repository(signed.name)


def check_simple_signature(
    layer: SignatureLayer,
    payload: bytes,
    keys: Sequence[NamedKey],
    image: Reference,
    digest: Digest,
    *,
    annotations: Mapping[str, str] | None = None,
    check_reference: bool = True,
) -> SignatureCheck:
    """Judge one simple-signing layer whose payload bytes were fetched (and digest-checked) already.

    Order: the signature must verify over the exact payload bytes with one of ``keys``; then the payload
    must name ``digest``, then ``image``'s repository (unless ``check_reference`` is off), then carry
    every ``annotations`` pair.
    """
    try:
        return _check_simple_signature(layer, payload, keys, image, digest, annotations, check_reference)
    except MALFORMED_MATERIAL as exc:
        error = malformed(str(layer.descriptor.digest), exc)
        return SignatureCheck(str(layer.descriptor.digest), error.code, error.message)


def _check_simple_signature(
    layer: SignatureLayer,
    payload: bytes,
    keys: Sequence[NamedKey],
    image: Reference,
    digest: Digest,
    annotations: Mapping[str, str] | None,
    check_reference: bool,
) -> SignatureCheck:
    where = str(layer.descriptor.digest)
    if layer.media_type != SIMPLE_SIGNING_MEDIA_TYPE:
        return SignatureCheck(where, UNSUPPORTED_LAYER, f"layer media type {layer.media_type} is not a signature")
    try:
        signature = layer.signature()
    except SignatureInvalidError as exc:
        return SignatureCheck(where, exc.code, exc.message)
    signer = next((k for k in keys if verify_bytes(k.key, signature, payload)), None)
    if signer is None:
        names = ", ".join(repr(k.name) for k in keys)
        return SignatureCheck(where, SignatureInvalidError.code, f"signature invalid for key {names}")
    return check_claims(
        where, payload, image, digest, signer=signer.name, annotations=annotations, check_reference=check_reference
    )


def check_claims(
    where: str,
    payload: bytes,
    image: Reference,
    digest: Digest,
    *,
    signer: str,
    annotations: Mapping[str, str] | None = None,
    check_reference: bool = True,
) -> SignatureCheck:
    """What a cryptographically verified simple-signing payload claims, judged against the image.

    The payload must name ``digest``, then ``image``'s repository (unless ``check_reference`` is off),
    then carry every ``annotations`` pair. ``signer`` names who verified it (a key or keyless authority).
    """
    try:
        parsed = SimpleSigningPayload.parse(payload)
    except PayloadInvalidError as exc:
        return SignatureCheck(where, exc.code, f"payload invalid: {exc.message}", key=signer)

    def verdict(code: str, reason: str) -> SignatureCheck:
        return SignatureCheck(
            where, code, reason, key=signer, docker_reference=parsed.docker_reference, optional=parsed.optional
        )

    if parsed.digest != str(digest):
        return verdict(PAYLOAD_DIGEST_MISMATCH, f"payload digest mismatch: signed {parsed.digest}, image is {digest}")
    if check_reference and not _reference_matches(image, parsed.docker_reference):
        return verdict(
            REFERENCE_MISMATCH,
            f"reference mismatch: signed for {parsed.docker_reference!r}, image is {image.name}",
        )
    if annotations and not parsed.annotations_match(annotations):
        wanted = ", ".join(f"{k}={v}" for k, v in sorted(annotations.items()))
        return verdict(ANNOTATION_MISMATCH, f"annotations do not match {wanted}")
    return verdict(OK, f"signature verified with key {signer!r}")


async def _fetch_payload(client: RegistryClient, downloads: Downloads, layer: SignatureLayer) -> bytes:
    limit = client.limits.max_payload_bytes
    if layer.descriptor.size > limit:
        raise LimitExceededError(
            f"signature payload {layer.descriptor.digest} is {layer.descriptor.size} bytes, limit {limit}"
        )
    return await downloads.blob(layer.descriptor, max_bytes=limit, limit_name="max_payload_bytes")


#: signature layers of one image with, for each, its payload bytes or why it could not be fetched
FetchedSignatures = list[tuple[SignatureLayer, bytes | SealgateError]]


async def fetch_signatures(client: RegistryClient, repository: Reference, digest: Digest) -> FetchedSignatures:
    """The simple-signing layers at ``<repository>:<alg>-<hex>.sig`` with their payloads, fetched in parallel.

    Raises :class:`NoSignaturesError` when there are none; registry failures propagate as ``RegistryError``
    (so does :class:`DownloadBudgetError`: each distinct payload is fetched once, all within
    ``limits.max_verification_bytes``). A payload that fails its own fetch (too large, digest mismatch) is
    returned as the error, per layer.
    """
    tag_ref = repository.with_tag(attachment_tag(digest))
    try:
        manifest = await client.get_manifest(tag_ref, accept=(OCI_MANIFEST, DOCKER_MANIFEST))
    except ManifestUnknownError:
        raise NoSignaturesError(f"no signatures found for {repository.name}@{digest}") from None
    downloads = Downloads(client, repository)
    downloads.fetched(manifest)
    layers = parse_signature_manifest(manifest, max_layers=client.limits.max_signatures)
    wanted = [layer for layer in layers if layer.media_type == SIMPLE_SIGNING_MEDIA_TYPE]
    if not wanted:
        raise NoSignaturesError(f"no signatures found for {repository.name}@{digest} ({tag_ref.tag} has none)")
    fetched = await asyncio.gather(
        *(_fetch_payload(client, downloads, layer) for layer in wanted), return_exceptions=True
    )
    results: FetchedSignatures = []
    for layer, outcome in zip(wanted, fetched, strict=True):
        if isinstance(outcome, BaseException) and not isinstance(outcome, SealgateError):
            raise outcome
        if isinstance(outcome, DownloadBudgetError):
            raise outcome  # the whole image is over budget, not this layer
        results.append((layer, outcome))
    return results


async def verify_image(
    client: RegistryClient,
    ref: Reference,
    keys: Sequence[NamedKey],
    *,
    annotations: Mapping[str, str] | None = None,
    check_reference: bool = True,
    signature_repository: Reference | None = None,
) -> ImageVerification:
    """Find and check every key-signed signature of ``ref``; registry failures land in ``error``.

    A digest reference costs no lookup; a tag is resolved to its digest first (``resolved_from_tag``).
    """
    digest, resolved = ref.digest, None
    try:
        if digest is None:
            digest, resolved = (await client.resolve(ref)).digest, ref.tag
        image = ref.with_digest(digest)
        found = await fetch_signatures(client, signature_repository or ref, digest)
    except (RegistryError, NoSignaturesError) as exc:
        _logger.debug("verification of %s stopped: %s", ref, exc)
        return ImageVerification(ref if digest is None else ref.with_digest(digest), digest, resolved, error=exc)
    checks = check_signatures(found, keys, image, digest, annotations=annotations, check_reference=check_reference)
    return ImageVerification(image, digest, resolved, checks)


def check_signatures(
    found: FetchedSignatures,
    keys: Sequence[NamedKey],
    image: Reference,
    digest: Digest,
    *,
    annotations: Mapping[str, str] | None = None,
    check_reference: bool = True,
) -> tuple[SignatureCheck, ...]:
    """Judge every fetched layer against ``keys`` (pure: no I/O)."""
    return tuple(
        SignatureCheck(str(layer.descriptor.digest), outcome.code, outcome.message)
        if isinstance(outcome, SealgateError)
        else check_simple_signature(
            layer, outcome, keys, image, digest, annotations=annotations, check_reference=check_reference
        )
        for layer, outcome in found
    )
