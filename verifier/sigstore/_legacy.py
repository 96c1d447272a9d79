"""Legacy (tag-based ``.sig``) cosign keyless signatures: the ``dev.sigstore.cosign/bundle`` Rekor SET
annotation, the entry's consistency with the layer, and the Fulcio certificate at the integrated time
(FORMATS.md §1-§4).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from verifier.crypto import VerifyingKey, verify_bytes
from verifier.errors import (
    BundleInvalidError,
    CertificateInvalidError,
    EnvelopeInvalidError,
    SignatureInvalidError,
    TimestampInvalidError,
    TransparencyLogError,
)
from verifier.limits import DEFAULT_LIMITS
from verifier.oci import SIMPLE_SIGNING_MEDIA_TYPE
from verifier.sigstore._bundle import VerifiedSignature
from verifier.sigstore._certs import verify_certificate
from verifier.sigstore._dsse import parse_envelope
from verifier.sigstore._identity import Identity
from verifier.sigstore._tlog import LoggedMaterial, RekorEntry, check_entry_body, verify_set
from verifier.sigstore._trust import TrustedRoot
from verifier.sigstore._util import b64decode, int_field, require_mapping, unix_time_field

__all__ = ["check_rekor_entry_matches", "verify_legacy_keyless", "verify_rekor_set"]

_logger = logging.getLogger(__name__)


def verify_rekor_set(bundle_annotation: bytes | str | Mapping[str, Any], trusted_root: TrustedRoot) -> RekorEntry:
    """Parse cosign's ``{"SignedEntryTimestamp", "Payload": {body, integratedTime, logIndex, logID}}`` and
    verify the SET with the trusted root's log key; returns the entry (``set_verified=True``)."""
    if isinstance(bundle_annotation, bytes | str):
        if len(bundle_annotation) > DEFAULT_LIMITS.max_rekor_bundle_bytes:
            raise BundleInvalidError("Rekor bundle annotation is too large (max_rekor_bundle_bytes)")
        try:
            doc: Any = json.loads(bundle_annotation)
        except (ValueError, RecursionError):  # bad JSON, bad UTF-8, integers past the digit limit
            raise BundleInvalidError("Rekor bundle annotation is not valid JSON") from None
    else:
        doc = bundle_annotation
    doc = require_mapping(doc, "Rekor bundle", BundleInvalidError)
    set_ = b64decode(doc.get("SignedEntryTimestamp"), "Rekor bundle SignedEntryTimestamp", BundleInvalidError)
    payload = require_mapping(doc.get("Payload"), "Rekor bundle Payload", BundleInvalidError)
    body = b64decode(payload.get("body"), "Rekor bundle Payload.body", BundleInvalidError)
    log_id_hex = payload.get("logID")
    try:
        log_id = bytes.fromhex(log_id_hex) if isinstance(log_id_hex, str) else b""
    except ValueError:
        log_id = b""
    if len(log_id) != 32:
        raise BundleInvalidError("Rekor bundle Payload.logID is not a hex SHA-256 log id")
    entry = RekorEntry(
        log_id=log_id,
        log_index=int_field(payload, "logIndex", "Rekor bundle Payload", BundleInvalidError),
        integrated_time=unix_time_field(payload, "integratedTime", "Rekor bundle Payload", BundleInvalidError),
        body=body,
        kind="",
        version="",
        set_=set_,
    )
    body_doc = entry.body_json()
    kind, version = body_doc.get("kind"), body_doc.get("apiVersion")
    if not isinstance(kind, str) or not isinstance(version, str):
        raise TransparencyLogError("Rekor entry body has no kind/apiVersion")
    entry = RekorEntry(entry.log_id, entry.log_index, entry.integrated_time, body, kind, version, set_)
    verify_set(entry, trusted_root)
    return RekorEntry(
        entry.log_id, entry.log_index, entry.integrated_time, body, kind, version, set_, set_verified=True
    )


def _der(public_key_or_cert: x509.Certificate | VerifyingKey) -> bytes:
    if isinstance(public_key_or_cert, x509.Certificate):
        return public_key_or_cert.public_bytes(serialization.Encoding.DER)
    return public_key_or_cert.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def check_rekor_entry_matches(
    entry: RekorEntry,
    *,
    signature: bytes | None,
    payload: bytes,
    public_key_or_cert: x509.Certificate | VerifyingKey,
) -> None:
    """The entry records this layer: hashedrekord/rekord (sha256 of the payload, the signature, the key or
    certificate) or dsse/intoto (``payload`` = the DSSE envelope of an ``.att`` layer)."""
    verifier_der = _der(public_key_or_cert)
    if entry.kind in ("dsse", "intoto"):
        try:
            envelope = parse_envelope(payload)
        except EnvelopeInvalidError as exc:
            raise TransparencyLogError(
                f"{entry.kind} log entry, but the layer is not a DSSE envelope ({exc})"
            ) from None
        material = LoggedMaterial(verifier_der, envelope=envelope)
    else:
        material = LoggedMaterial(
            verifier_der,
            signature=signature or None,
            digest=("sha256", hashlib.sha256(payload).digest()),
            payload=payload,
        )
    check_entry_body(entry, material)


def _load_certs(pem: str, what: str) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(pem.encode())
    except ValueError:  # also UnicodeEncodeError (lone surrogates)
        raise CertificateInvalidError(f"{what} is not a PEM certificate") from None


def verify_legacy_keyless(
    *,
    signature: bytes,
    payload: bytes,
    certificate_pem: str,
    chain_pem: str | None,
    rekor_bundle: str | None,
    trusted_root: TrustedRoot,
    identity: Identity,
    require_sct: bool = True,
) -> VerifiedSignature:
    """A cosign ``.sig`` layer signed keylessly: SET -> integrated time; certificate chain valid then; identity;
    signature over the payload with the certificate key; log entry consistent with all of it."""
    if not certificate_pem:
        raise CertificateInvalidError("keyless signature has no certificate")
    cert = _load_certs(certificate_pem, "signature certificate")[0]
    chain = _load_certs(chain_pem, "signature certificate chain") if chain_pem else []
    if not rekor_bundle:
        raise TransparencyLogError("keyless signature has no Rekor bundle (SET): no trusted signing time")
    entry = verify_rekor_set(rekor_bundle, trusted_root)
    at = entry.integrated_at
    if not cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
        raise TimestampInvalidError(
            f"log integrated time {at:%Y-%m-%dT%H:%M:%SZ} is outside the signing certificate's validity"
        )
    intermediates = chain[:-1] if len(chain) >= 2 else chain
    verify_certificate(cert, intermediates, trusted_root, at=at, identity=identity, require_sct=require_sct)
    try:
        key = cert.public_key()
    except (ValueError, UnsupportedAlgorithm):
        raise CertificateInvalidError("signing certificate has an unsupported or malformed public key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey):
        raise CertificateInvalidError(f"unsupported certificate key type {type(key).__name__}")
    if signature and not verify_bytes(key, signature, payload):
        raise SignatureInvalidError("signature does not verify over the payload with the certificate key")
    if not signature:
        raise SignatureInvalidError("keyless signature layer has an empty signature")
    check_rekor_entry_matches(entry, signature=signature, payload=payload, public_key_or_cert=cert)
    return VerifiedSignature(
        kind="message-signature",
        certificate=cert,
        key_id=None,
        signed_at=at,
        payload_type=SIMPLE_SIGNING_MEDIA_TYPE,
        payload=payload,
        log_entries=(entry,),
    )
