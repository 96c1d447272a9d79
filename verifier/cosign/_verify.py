"""Judging key-signed cosign image signatures: simple-signing layers, their payloads and what they claim.

Pure: bytes in, a :class:`SignatureCheck` out. The engine fetches (``verifier.cosign.discover``) and judges
each signature it finds through here (``verifier.engine.check_signature``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from verifier.cosign._crypto import MALFORMED_MATERIAL, malformed, verify_bytes
from verifier.cosign._keys import VerifyingKey
from verifier.cosign._layout import SIMPLE_SIGNING_MEDIA_TYPE, SignatureLayer
from verifier.cosign._payload import SimpleSigningPayload
from verifier.errors import InvalidReferenceError, PayloadInvalidError, Reason, SignatureInvalidError
from verifier.oci import Digest, Reference

__all__ = ["NamedKey", "SignatureCheck", "check_claims", "check_simple_signature"]


#: reason codes of a rejected signature, besides the error codes of verifier.errors
PAYLOAD_DIGEST_MISMATCH = Reason.PAYLOAD_DIGEST_MISMATCH
REFERENCE_MISMATCH = Reason.REFERENCE_MISMATCH
ANNOTATION_MISMATCH = Reason.ANNOTATION_MISMATCH
UNSUPPORTED_LAYER = Reason.UNSUPPORTED_LAYER
OK = Reason.OK


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
    #: a verified attestation's in-toto statement (predicate included)
    statement: Mapping[str, Any] | None = field(default=None, compare=False)

    @property
    def verified(self) -> bool:
        return self.code == OK


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
        return SignatureCheck(where, code, reason, key=signer)

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
