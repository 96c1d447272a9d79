"""Checking key-signed attestations found by :func:`verifier.cosign.discover` (FORMATS.md §6, §7).

``check_attestation`` is pure: an :class:`Attachment` in, an :class:`AttestationCheck` out. An attestation is
accepted when one of the keys verifies its DSSE signature (over PAE, any keyid), the payload is an in-toto
statement (v0.1 or v1) with a subject whose sha256 equals the image digest, and its predicate type is the one
asked for. Sigstore bundles (v0.1-v0.3) are checked through ``verifier.sigstore.verify_bundle`` when that
module is present (which also checks any transparency log entry and timestamp against the trusted root);
until then only the key signature is checked and the reason says so.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from verifier.cosign._crypto import MALFORMED_MATERIAL, malformed
from verifier.cosign._discover import COSIGN_SIGN_PREDICATE, Attachment, discover
from verifier.cosign._dsse_layer import (
    INTOTO_PAYLOAD_TYPE,
    DsseEnvelope,
    Statement,
    envelope_signer,
    parse_envelope,
    parse_statement,
)
from verifier.cosign._layout import DSSE_MEDIA_TYPE
from verifier.cosign._verify import NamedKey, summary_code, summary_reason
from verifier.errors import (
    NoSignaturesError,
    PayloadInvalidError,
    RegistryError,
    SealgateError,
    SignatureInvalidError,
    UnsupportedAttachmentError,
)
from verifier.limits import DEFAULT_LIMITS
from verifier.oci import Digest, Reference
from verifier.registry import RegistryClient

if TYPE_CHECKING:
    from verifier.sigstore import TrustedRoot

__all__ = [
    "BUNDLE_MEDIA_TYPES",
    "AttestationCheck",
    "AttestationVerification",
    "BundleVerifier",
    "check_attestation",
    "sigstore_bundle_verifier",
    "verify_image_attestations",
]

_logger = logging.getLogger(__name__)

OK = "OK"
SUBJECT_MISMATCH = "SUBJECT_MISMATCH"
PREDICATE_TYPE_MISMATCH = "PREDICATE_TYPE_MISMATCH"

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

    def to_dict(self) -> dict[str, Any]:
        return {
            "attachment": self.attachment,
            "layout": self.layout,
            "verified": self.verified,
            "code": self.code,
            "reason": self.reason,
            "key": self.key,
            "predicateType": self.predicate_type,
            "statement": dict(self.statement) if self.verified and self.statement is not None else None,
        }


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


@dataclass(frozen=True, slots=True)
class AttestationVerification:
    """Everything ``verify_image_attestations`` found out about one image."""

    image: Reference
    digest: Digest | None
    resolved_from_tag: str | None
    predicate_type: str | None
    checks: tuple[AttestationCheck, ...] = ()
    error: SealgateError | None = None

    @property
    def verified(self) -> bool:
        return self.error is None and any(check.verified for check in self.checks)

    @property
    def code(self) -> str:
        return summary_code(self.checks, self.error)

    def reason(self) -> str:
        return summary_reason(self.checks, self.error, "attestations")

    def statements(self) -> list[Mapping[str, Any]]:
        return [c.statement for c in self.checks if c.verified and c.statement is not None]

    def to_dict(self) -> dict[str, Any]:
        return {
            "image": str(self.image),
            "digest": str(self.digest) if self.digest else None,
            "resolvedFromTag": self.resolved_from_tag,
            "predicateType": self.predicate_type,
            "verified": self.verified,
            "code": self.code,
            "reason": self.reason(),
            "attestations": [check.to_dict() for check in self.checks],
        }


async def verify_image_attestations(
    client: RegistryClient,
    ref: Reference,
    keys: Sequence[NamedKey],
    *,
    predicate_type: str | None,
    attestation_repository: Reference | None = None,
    bundle_verifier: BundleVerifier | None = None,
) -> AttestationVerification:
    """Find every attestation of ``ref`` in every layout and check each; registry failures land in ``error``.

    ``predicate_type`` ``https://sigstore.dev/cosign/sign/v1`` also looks at cosign 3 signature bundles.
    """
    digest, resolved = ref.digest, None
    try:
        if digest is None:
            digest, resolved = (await client.resolve(ref)).digest, ref.tag
        found = await discover(
            client,
            attestation_repository or ref,
            digest,
            signatures=predicate_type == COSIGN_SIGN_PREDICATE,
            attestations=True,
        )
    except (RegistryError, NoSignaturesError) as exc:
        _logger.debug("attestation lookup for %s stopped: %s", ref, exc)
        image = ref if digest is None else ref.with_digest(digest)
        return AttestationVerification(image, digest, resolved, predicate_type, error=exc)
    candidates = [a for a in found if a.is_bundle or a.media_type == DSSE_MEDIA_TYPE or not a.ok]
    image = ref.with_digest(digest)
    if not candidates:
        error = NoSignaturesError(f"no attestations found for {image.name}@{digest}")
        return AttestationVerification(image, digest, resolved, predicate_type, error=error)
    checks = tuple(
        check_attestation(a, keys, digest, predicate_type, bundle_verifier=bundle_verifier) for a in candidates
    )
    return AttestationVerification(image, digest, resolved, predicate_type, checks)
