"""Signing images the way ``cosign sign --key`` does: the simple-signing payload, its signature, and the layer
list of the ``.sig`` manifest with it appended (FORMATS.md §1). Pure: ``verifier.attachments`` pushes it."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence

from verifier.cosign._layout import SIGNATURE_ANNOTATION, SIMPLE_SIGNING_MEDIA_TYPE, SignatureLayer
from verifier.cosign._payload import build_simple_signing_payload
from verifier.crypto import SigningKey, VerifyingKey, sign_bytes, verify_bytes
from verifier.errors import LimitExceededError, SignatureInvalidError
from verifier.oci import Descriptor, Digest

__all__ = ["sign_payload", "with_signature"]


def sign_payload(
    key: SigningKey, identity: str, digest: Digest, annotations: Mapping[str, str] | None = None
) -> tuple[bytes, bytes]:
    """``(payload, signature)``: the simple-signing payload naming ``identity@digest``, signed by ``key``."""
    payload = build_simple_signing_payload(identity, str(digest), annotations)
    return payload, sign_bytes(key, payload)


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


def with_signature(
    layers: Sequence[SignatureLayer],
    payload: bytes,
    signature: bytes,
    key: VerifyingKey,
    *,
    max_signatures: int,
    where: str,
) -> list[Descriptor] | None:
    """The ``.sig`` layers with one simple-signing layer appended, or None when an equivalent one (same payload
    and annotations, signed by ``key``) is already there; more than ``max_signatures`` is a
    ``LimitExceededError`` naming ``where``."""
    new = Descriptor(
        media_type=SIMPLE_SIGNING_MEDIA_TYPE,
        digest=Digest.of(payload),
        size=len(payload),
        annotations={SIGNATURE_ANNOTATION: base64.b64encode(signature).decode()},
    )
    if any(_is_duplicate(layer, new, payload, key) for layer in layers):
        return None
    if len(layers) >= max_signatures:
        raise LimitExceededError(f"{where} already holds {len(layers)} signatures, the limit is {max_signatures}")
    return [*(layer.descriptor for layer in layers), new]
