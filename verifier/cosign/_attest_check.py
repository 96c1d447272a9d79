"""Checking key-signed attestations found by :func:`verifier.cosign.discover` (FORMATS.md §6, §7).

``check_attestation`` is pure: an :class:`Attachment` in, an :class:`AttestationCheck` out. An attestation is
accepted when one of the keys verifies its DSSE signature (over PAE, any keyid), the payload is an in-toto
statement (v0.1 or v1) with a subject whose sha256 equals the image digest, and its predicate type is the one
asked for. Sigstore bundles (v0.1-v0.3) are also checked by a :data:`BundleVerifier`
(``sigstore_bundle_verifier``: ``verifier.sigstore.verify_bundle``, which checks any transparency log entry and
timestamp against the trusted root).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from verifier.cosign._attachment import Attachment
from verifier.cosign._crypto import MALFORMED_MATERIAL, malformed
from verifier.cosign._dsse_layer import (
    INTOTO_PAYLOAD_TYPE,
    DsseEnvelope,
    Statement,
    envelope_signer,
    parse_envelope,
    parse_statement,
)
from verifier.cosign._layout import DSSE_MEDIA_TYPE
from verifier.cosign._verify import NamedKey
from verifier.errors import (
    PayloadInvalidError,
    Reason,
    SealgateError,
    SignatureInvalidError,
    UnsupportedAttachmentError,
)
from verifier.limits import DEFAULT_LIMITS
from verifier.oci import Digest

if TYPE_CHECKING:
    from verifier.sigstore import TrustedRoot

__all__ = [
    "BUNDLE_MEDIA_TYPES",
    "AttestationCheck",
    "BundleVerifier",
    "check_attestation",
    "sigstore_bundle_verifier",
]

OK = Reason.OK
SUBJECT_MISMATCH = Reason.SUBJECT_MISMATCH
PREDICATE_TYPE_MISMATCH = Reason.PREDICATE_TYPE_MISMATCH

BUNDLE_MEDIA_TYPES = frozenset(
    {
        "application/vnd.dev.sigstore.bundle+json;version=0.1",
        "application/vnd.dev.sigstore.bundle+json;version=0.2",
        "application/vnd.dev.sigstore.bundle+json;version=0.3",
        "application/vnd.dev.sigstore.bundle.v0.3+json",
    }
)

#: ``(bundle JSON, key, image digest) -> None``, raising a :class:`SealgateError` when the bundle does not
#: verify with ``key``; the default uses ``verifier.sigstore.verify_bundle`` when it exists
BundleVerifier = Callable[[bytes, NamedKey, Digest], None]


@dataclass(frozen=True, slots=True)
class AttestationCheck:
    """The verdict on one attestation."""

    attachment: str  # the layer's (or bundle's) digest
    layout: str
    code: str  # OK, or why it was rejected
    reason: str
    key: str | None = None
    predicate_type: str | None = None
    statement: Mapping[str, Any] | None = field(default=None, compare=False)

    @property
    def verified(self) -> bool:
        return self.code == OK


def sigstore_bundle_verifier(trusted_root: TrustedRoot | None = None) -> BundleVerifier:
    """A :data:`BundleVerifier` backed by ``verifier.sigstore.verify_bundle``.

    Key-signed: a transparency log entry is not required (cosign 3 ``--tlog-upload=false`` bundles have none),
    but every entry and timestamp present is verified against ``trusted_root`` (default: public-good production).
    """
    # imported here: verifier.sigstore builds on verifier.cosign, so a module-level import would be circular
    from verifier.sigstore import TrustedRoot, verify_bundle

    root = trusted_root if trusted_root is not None else TrustedRoot.production()

    def verify(bundle: bytes, key: NamedKey, digest: Digest) -> None:
        verify_bundle(
            bundle,
            trusted_root=root,
            key=key.key,
            digest=digest,
            require_tlog=False,
            max_bytes=DEFAULT_LIMITS.max_attestation_bytes,  # read no further than discovery's attestation cap
        )

    return verify


def _bundle_envelope(bundle: bytes, where: str) -> DsseEnvelope:
    """The DSSE envelope of a bundle (refusing message signatures and unknown media types)."""
    try:
        doc = json.loads(bundle)
    except (ValueError, RecursionError):  # bad JSON, bad UTF-8, integers past the digit limit
        raise PayloadInvalidError(f"bundle {where} is not valid JSON") from None
    if not isinstance(doc, dict):
        raise PayloadInvalidError(f"bundle {where} is not a JSON object")
    media_type = doc.get("mediaType")
    if not isinstance(media_type, str) or media_type not in BUNDLE_MEDIA_TYPES:
        raise UnsupportedAttachmentError(f"bundle {where} has unknown media type {str(media_type)[:100]!r}")
    material = doc.get("verificationMaterial")
    if not isinstance(material, dict):
        raise PayloadInvalidError(f"bundle {where} has no verificationMaterial")
    if "dsseEnvelope" not in doc:
        if "messageSignature" in doc:
            raise UnsupportedAttachmentError(f"bundle {where} holds a message signature, not an attestation")
        raise PayloadInvalidError(f"bundle {where} has neither dsseEnvelope nor messageSignature")
    return parse_envelope(doc["dsseEnvelope"], f"DSSE envelope of bundle {where}")


def check_attestation(
    attachment: Attachment,
    keys: Sequence[NamedKey],
    digest: Digest,
    predicate_type: str | None,
    *,
    bundle_verifier: BundleVerifier | None = None,
) -> AttestationCheck:
    """Judge one discovered attestation (a legacy DSSE layer or a sigstore bundle) against ``keys``.

    ``predicate_type`` is the URI required (None accepts any). Order: readable, signed by one of ``keys``,
    an in-toto statement, a subject with ``digest``, then the predicate type. Malformed material that a parser
    or crypto library rejects fails this attestation only (MATERIAL_INVALID).
    """
    try:
        return _check_attestation(attachment, keys, digest, predicate_type, bundle_verifier)
    except MALFORMED_MATERIAL as exc:
        error = malformed(str(attachment.digest), exc)
        return AttestationCheck(str(attachment.digest), attachment.layout, error.code, error.message)


def _check_attestation(
    attachment: Attachment,
    keys: Sequence[NamedKey],
    digest: Digest,
    predicate_type: str | None,
    bundle_verifier: BundleVerifier | None,
) -> AttestationCheck:
    where = str(attachment.digest)

    def verdict(code: str, reason: str, **extra: Any) -> AttestationCheck:
        return AttestationCheck(where, attachment.layout, code, reason, **extra)

    payload = attachment.payload
    if isinstance(payload, SealgateError):
        return verdict(payload.code, payload.message)
    try:
        if attachment.is_bundle:
            envelope = _bundle_envelope(payload, where)
        elif attachment.media_type == DSSE_MEDIA_TYPE:
            envelope = parse_envelope(payload, f"DSSE envelope {where}")
        else:
            raise UnsupportedAttachmentError(f"layer {where} ({attachment.media_type}) is not an attestation")
    except SealgateError as exc:
        return verdict(exc.code, exc.message)
    if envelope.payload_type != INTOTO_PAYLOAD_TYPE:
        return verdict(
            UnsupportedAttachmentError.code, f"envelope payload type {envelope.payload_type[:100]!r} is not in-toto"
        )
    signer = envelope_signer(envelope, keys)
    if signer is None:
        names = ", ".join(repr(k.name) for k in keys)
        return verdict(SignatureInvalidError.code, f"attestation signature invalid for key {names}")
    if attachment.is_bundle:
        verifier = bundle_verifier or sigstore_bundle_verifier()
        try:
            verifier(payload, signer, digest)
        except SealgateError as exc:
            return verdict(exc.code, f"bundle rejected: {exc.message}", key=signer.name)
    try:
        statement: Statement = parse_statement(envelope.payload)
    except PayloadInvalidError as exc:
        return verdict(exc.code, exc.message, key=signer.name)
    extra: dict[str, Any] = {
        "key": signer.name,
        "predicate_type": statement.predicate_type,
        "statement": statement.document,
    }
    if statement.subject_for(digest) is None:
        return verdict(SUBJECT_MISMATCH, f"statement subject does not name {digest}", **extra)
    if predicate_type is not None and statement.predicate_type != predicate_type:
        return verdict(
            PREDICATE_TYPE_MISMATCH,
            f"predicate type is {statement.predicate_type[:200]!r}, not {predicate_type!r}",
            **extra,
        )
    return verdict(OK, f"attestation verified with key {signer.name!r}", **extra)
