"""Sigstore bundles (protobuf-specs JSON, v0.1 to v0.3): parsing and full offline verification.

Order of checks (each raises a specific :class:`verifier.errors.SigstoreError` subclass):

1. parse: media type and version, one key material, one content, tlog entries, timestamps (FORMATS.md §5);
2. the signature over the artifact (message signature) or over PAE (DSSE, then the in-toto subject);
3. every transparency-log entry: body consistent with the signature and key, SET (v0.1 requires one),
   inclusion proof and signed checkpoint (required in every version by default: sigstore-python and
   sigstore-java do the same; v0.1 only promises a SET, see ``require_inclusion_proof``);
4. RFC 3161 timestamps (imprint = the signature bytes);
5. trusted times = verified SET integrated times + verified TSA times; at least one is needed; any logged
   integrated time must lie inside the certificate validity;
6. keyless: the Fulcio chain at every trusted time, EKU, SCT, and the identity; key: the given key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils

from verifier.crypto import Envelope, VerifyingKey, key_id, parse_envelope, verify_bytes
from verifier.errors import (
    ArtifactMismatchError,
    BundleInvalidError,
    CertificateInvalidError,
    EnvelopeInvalidError,
    SignatureInvalidError,
    TimestampInvalidError,
    TransparencyLogError,
    UsageError,
)
from verifier.limits import DEFAULT_LIMITS
from verifier.oci import Digest
from verifier.sigstore._certs import verify_certificate
from verifier.sigstore._dsse import (
    IN_TOTO_PAYLOAD_TYPE,
    parse_statement,
    statement_subject_matches,
)
from verifier.sigstore._identity import Identity
from verifier.sigstore._tlog import (
    InclusionProof,
    LoggedMaterial,
    RekorEntry,
    check_entry_body,
    verify_checkpoint,
    verify_inclusion_proof,
    verify_set,
)
from verifier.sigstore._trust import TrustedRoot
from verifier.sigstore._tsa import verify_timestamps
from verifier.sigstore._util import b64decode, hash_name, int_field, require_mapping, unix_time_field

__all__ = ["ParsedBundle", "VerifiedSignature", "parse_bundle", "verify_bundle"]

_logger = logging.getLogger(__name__)

_OLD_MEDIA_TYPE = re.compile(r"^application/vnd\.dev\.sigstore\.bundle\+json;version=(\d+)\.(\d+)$")
_NEW_MEDIA_TYPE = re.compile(r"^application/vnd\.dev\.sigstore\.bundle\.v(\d+)\.(\d+)(?:\.\d+)?\+json$")
_SUPPORTED = {(0, 1), (0, 2), (0, 3)}
_E = BundleInvalidError


@dataclass(frozen=True)
class VerifiedSignature:
    """What a verified bundle (or legacy cosign signature) proved."""

    kind: str  # "message-signature" | "dsse"
    certificate: x509.Certificate | None
    key_id: str | None
    signed_at: datetime | None  # the (earliest) trusted time used
    statement: dict[str, Any] | None = None
    payload_type: str | None = None
    payload: bytes | None = None
    log_entries: tuple[RekorEntry, ...] = ()


@dataclass(frozen=True)
class ParsedBundle:
    version: tuple[int, int]
    certificate: x509.Certificate | None
    chain: tuple[x509.Certificate, ...]
    public_key_hint: str | None
    entries: tuple[RekorEntry, ...]
    timestamps: tuple[bytes, ...]
    message_digest: tuple[str, bytes] | None
    message_signature: bytes | None
    envelope: Envelope | None

    @property
    def signature(self) -> bytes:
        if self.envelope is not None:
            return self.envelope.signatures[0].sig
        assert self.message_signature is not None  # noqa: S101 - guaranteed by parse_bundle
        return self.message_signature


def _version(media_type: Any) -> tuple[int, int]:
    if not isinstance(media_type, str):
        raise _E("bundle has no mediaType")
    m = _OLD_MEDIA_TYPE.match(media_type) or _NEW_MEDIA_TYPE.match(media_type)
    if m is None:
        raise _E(f"unknown bundle media type {media_type[:80]!r}")
    version = (int(m.group(1)), int(m.group(2)))
    if version not in _SUPPORTED:
        raise _E(f"unsupported bundle version {version[0]}.{version[1]} (supported: 0.1 to 0.3)")
    return version


def _certificate(doc: Any, what: str) -> x509.Certificate:
    doc = require_mapping(doc, what, _E)
    der = b64decode(doc.get("rawBytes"), f"{what}.rawBytes", _E)
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError as exc:
        raise _E(f"{what}: invalid X.509 certificate ({exc})") from None


def _entry(doc: Any, i: int, version: tuple[int, int]) -> RekorEntry:
    what = f"tlogEntries[{i}]"
    doc = require_mapping(doc, what, _E)
    log_index = int_field(doc, "logIndex", what, _E)
    log_id = b64decode(require_mapping(doc.get("logId"), f"{what}.logId", _E).get("keyId"), f"{what}.logId.keyId", _E)
    kv = require_mapping(doc.get("kindVersion"), f"{what}.kindVersion", _E)
    kind, kversion = kv.get("kind"), kv.get("version")
    if not isinstance(kind, str) or not isinstance(kversion, str):
        raise _E(f"{what}.kindVersion: kind and version must be strings")
    integrated = unix_time_field(doc, "integratedTime", what, _E, default=0)
    body = b64decode(doc.get("canonicalizedBody"), f"{what}.canonicalizedBody", _E)
    set_ = None
    promise = doc.get("inclusionPromise")
    if promise is not None:
        promise = require_mapping(promise, f"{what}.inclusionPromise", _E)
        set_ = b64decode(promise.get("signedEntryTimestamp"), f"{what}.inclusionPromise.signedEntryTimestamp", _E)
    proof = None
    proof_doc = doc.get("inclusionProof")
    if proof_doc is not None:
        proof_doc = require_mapping(proof_doc, f"{what}.inclusionProof", _E)
        hashes_doc = proof_doc.get("hashes") or []
        if not isinstance(hashes_doc, list) or len(hashes_doc) > 64:
            raise _E(f"{what}.inclusionProof.hashes: expected a list of at most 64 hashes")
        checkpoint = proof_doc.get("checkpoint")
        envelope = None
        if checkpoint is not None:
            envelope = require_mapping(checkpoint, f"{what}.inclusionProof.checkpoint", _E).get("envelope")
            if envelope is not None and not isinstance(envelope, str):
                raise _E(f"{what}.inclusionProof.checkpoint.envelope: expected a string")
        proof = InclusionProof(
            log_index=int_field(proof_doc, "logIndex", f"{what}.inclusionProof", _E),
            tree_size=int_field(proof_doc, "treeSize", f"{what}.inclusionProof", _E),
            root_hash=b64decode(proof_doc.get("rootHash"), f"{what}.inclusionProof.rootHash", _E),
            hashes=tuple(b64decode(h, f"{what}.inclusionProof.hashes", _E) for h in hashes_doc),
            checkpoint=envelope or None,
        )
    if version == (0, 1) and set_ is None:
        raise _E(f"{what}: a v0.1 bundle entry needs an inclusion promise (SET)")
    if version >= (0, 2) and (proof is None or proof.checkpoint is None):
        raise _E(f"{what}: entry must contain an inclusion proof with a checkpoint")
    return RekorEntry(log_id, log_index, integrated, body, kind, kversion, set_, proof)


def _material(
    vm: Mapping[str, Any], version: tuple[int, int]
) -> tuple[x509.Certificate | None, tuple[x509.Certificate, ...], str | None]:
    present = [k for k in ("publicKey", "x509CertificateChain", "certificate") if vm.get(k) is not None]
    if len(present) != 1:
        raise _E("bundle verificationMaterial needs exactly one of publicKey, x509CertificateChain, certificate")
    if present[0] == "publicKey":
        hint = require_mapping(vm["publicKey"], "verificationMaterial.publicKey", _E).get("hint")
        return None, (), hint if isinstance(hint, str) else ""
    if present[0] == "certificate":
        return _certificate(vm["certificate"], "verificationMaterial.certificate"), (), None
    chain_doc = require_mapping(vm["x509CertificateChain"], "verificationMaterial.x509CertificateChain", _E)
    certs = chain_doc.get("certificates")
    if not isinstance(certs, list) or not certs:
        raise _E("bundle certificate chain is empty")
    # Only the leaf is used: trust comes from the trusted root's CA chains, never from the bundle (as in
    # sigstore-go and sigstore-python); the rest is parsed so that garbage is still rejected.
    chain = tuple(_certificate(c, f"x509CertificateChain.certificates[{i}]") for i, c in enumerate(certs))
    return chain[0], (), None


def parse_bundle(
    bundle: bytes | str | Mapping[str, Any], *, max_bytes: int = DEFAULT_LIMITS.max_bundle_bytes
) -> ParsedBundle:
    """Parse and structurally validate a bundle; :class:`BundleInvalidError` with the reason otherwise."""
    if isinstance(bundle, bytes | str):
        if len(bundle) > max_bytes:
            raise _E(f"bundle is larger than {max_bytes} bytes")
        try:
            doc: Any = json.loads(bundle)
        except (ValueError, RecursionError):  # bad JSON, bad UTF-8, integers past the digit limit
            raise _E("bundle is not valid JSON") from None
    else:
        doc = bundle
    doc = require_mapping(doc, "bundle", _E)
    version = _version(doc.get("mediaType"))
    vm = require_mapping(doc.get("verificationMaterial"), "bundle verificationMaterial", _E)
    certificate, chain, hint = _material(vm, version)
    entries_doc = vm.get("tlogEntries") or []
    if not isinstance(entries_doc, list) or len(entries_doc) > DEFAULT_LIMITS.max_tlog_entries:
        cap = DEFAULT_LIMITS.max_tlog_entries
        raise _E(f"bundle tlogEntries: expected a list of at most {cap} entries (max_tlog_entries)")
    entries = tuple(_entry(e, i, version) for i, e in enumerate(entries_doc))
    timestamps: list[bytes] = []
    tvd = vm.get("timestampVerificationData")
    if tvd is not None:
        items = require_mapping(tvd, "timestampVerificationData", _E).get("rfc3161Timestamps") or []
        if not isinstance(items, list) or len(items) > 1000:
            raise _E("timestampVerificationData.rfc3161Timestamps: expected a list")
        for i, item in enumerate(items):
            item = require_mapping(item, f"rfc3161Timestamps[{i}]", _E)
            timestamps.append(b64decode(item.get("signedTimestamp"), f"rfc3161Timestamps[{i}].signedTimestamp", _E))
    has_ms, has_dsse = doc.get("messageSignature") is not None, doc.get("dsseEnvelope") is not None
    if has_ms == has_dsse:
        raise _E("bundle needs exactly one of messageSignature and dsseEnvelope")
    message_digest = message_signature = envelope = None
    if has_ms:
        ms = require_mapping(doc["messageSignature"], "messageSignature", _E)
        message_signature = b64decode(ms.get("signature"), "messageSignature.signature", _E)
        if not message_signature:
            raise _E("messageSignature.signature is empty")
        md = ms.get("messageDigest")
        if md is not None:
            md = require_mapping(md, "messageSignature.messageDigest", _E)
            message_digest = (
                hash_name(md.get("algorithm"), "messageSignature.messageDigest.algorithm", _E),
                b64decode(md.get("digest"), "messageSignature.messageDigest.digest", _E),
            )
    else:
        envelope = _envelope(doc["dsseEnvelope"])
    return ParsedBundle(
        version, certificate, chain, hint, entries, tuple(timestamps), message_digest, message_signature, envelope
    )


def _envelope(doc: Any) -> Envelope:
    if not isinstance(doc, Mapping):
        raise _E("dsseEnvelope: expected a JSON object")
    envelope = parse_envelope(doc, "dsseEnvelope")
    if len(envelope.signatures) != 1:
        raise _E("dsseEnvelope must carry exactly one signature")
    return envelope


# --- signature checks ------------------------------------------------------------------------------------

_HASH_CLASSES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


def _default_hash(key: VerifyingKey) -> str:
    if isinstance(key, ec.EllipticCurvePublicKey):
        return {"secp384r1": "sha384", "secp521r1": "sha512"}.get(key.curve.name, "sha256")
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "sha512"
    return "sha256"


def _verify_prehashed(key: VerifyingKey, signature: bytes, algorithm: str, digest: bytes) -> bool:
    hash_cls = _HASH_CLASSES.get(algorithm)
    if hash_cls is None:
        return False
    prehashed = utils.Prehashed(hash_cls())
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, digest, ec.ECDSA(prehashed))
            return True
        if isinstance(key, rsa.RSAPublicKey):
            for pad in (padding.PKCS1v15(), padding.PSS(padding.MGF1(hash_cls()), padding.PSS.AUTO)):
                try:
                    key.verify(signature, digest, pad, prehashed)
                    return True
                except InvalidSignature:
                    continue
    except (InvalidSignature, ValueError):
        return False
    return False


def _check_message_signature(
    parsed: ParsedBundle, key: VerifyingKey, artifact: bytes | None, digest: Digest | None
) -> tuple[str, bytes]:
    signature = parsed.message_signature
    assert signature is not None  # noqa: S101
    bundle_digest = parsed.message_digest
    if artifact is not None:
        algorithm = bundle_digest[0] if bundle_digest else _default_hash(key)
        actual = hashlib.new(algorithm, artifact).digest()
        if bundle_digest is not None and not hmac.compare_digest(bundle_digest[1], actual):
            raise ArtifactMismatchError("bundle message digest does not match the artifact")
        if not verify_bytes(key, signature, artifact):
            raise SignatureInvalidError("bundle signature does not verify over the artifact")
        return algorithm, actual
    assert digest is not None  # noqa: S101
    given = bytes.fromhex(digest.hex)
    if bundle_digest is not None:
        if bundle_digest[0] != digest.algorithm:
            raise ArtifactMismatchError(
                f"bundle signs a {bundle_digest[0]} digest; a {digest.algorithm} digest was given"
            )
        if not hmac.compare_digest(bundle_digest[1], given):
            raise ArtifactMismatchError("bundle message digest does not match the artifact digest")
    if isinstance(key, ed25519.Ed25519PublicKey):
        raise SignatureInvalidError("an Ed25519 message signature can only be verified over the artifact itself")
    if not _verify_prehashed(key, signature, digest.algorithm, given):
        raise SignatureInvalidError("bundle signature does not verify over the artifact digest")
    return digest.algorithm, given


def _check_dsse(
    parsed: ParsedBundle, key: VerifyingKey, artifact: bytes | None, digest: Digest | None
) -> dict[str, Any]:
    env = parsed.envelope
    assert env is not None  # noqa: S101
    if not verify_bytes(key, env.signatures[0].sig, env.pae()):
        raise SignatureInvalidError("DSSE envelope signature does not verify")
    if env.payload_type != IN_TOTO_PAYLOAD_TYPE:
        raise EnvelopeInvalidError(f"DSSE payload type {env.payload_type[:60]!r} is not an in-toto statement")
    statement = parse_statement(env.payload)
    if artifact is not None:
        wanted = [Digest.of(artifact, "sha256"), Digest.of(artifact, "sha512")]
    else:
        assert digest is not None  # noqa: S101
        wanted = [digest]
    if not any(statement_subject_matches(statement, d) for d in wanted):
        raise ArtifactMismatchError(f"no in-toto subject has the artifact digest {wanted[0]}")
    return statement


def _verifier_der(certificate: x509.Certificate | None, key: VerifyingKey) -> bytes:
    if certificate is not None:
        return certificate.public_bytes(serialization.Encoding.DER)
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def verify_bundle(
    bundle: bytes | str | Mapping[str, Any],
    *,
    trusted_root: TrustedRoot,
    identity: Identity | None = None,
    key: VerifyingKey | None = None,
    artifact: bytes | None = None,
    digest: Digest | None = None,
    max_bytes: int = DEFAULT_LIMITS.max_bundle_bytes,
    require_tlog: bool = True,
    require_sct: bool = True,
    require_inclusion_proof: bool = True,
) -> VerifiedSignature:
    """Verify a Sigstore bundle offline against ``trusted_root``; raise at the first failed step.

    Exactly one of ``identity`` (keyless) and ``key``; exactly one of ``artifact`` (bytes) and ``digest``.
    ``require_inclusion_proof=False`` accepts v0.1 entries that carry only a SET (as sigstore-go does).
    """
    if (identity is None) == (key is None):
        raise UsageError("verify a bundle with exactly one of a keyless identity and a public key")
    if (artifact is None) == (digest is None):
        raise UsageError("verify a bundle against exactly one of the artifact bytes and its digest")
    parsed = parse_bundle(bundle, max_bytes=max_bytes)

    if identity is not None:
        if parsed.certificate is None:
            raise BundleInvalidError("bundle is signed with a public key, not a certificate: verify it with a key")
        try:
            verifying_key = parsed.certificate.public_key()
        except (ValueError, UnsupportedAlgorithm):
            raise CertificateInvalidError("signing certificate has an unsupported or malformed public key") from None
        if not isinstance(verifying_key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey):
            raise CertificateInvalidError(f"unsupported certificate key type {type(verifying_key).__name__}")
    else:
        assert key is not None  # noqa: S101
        if parsed.certificate is not None:
            raise BundleInvalidError("bundle carries a certificate: verify it with a keyless identity, not a key")
        verifying_key = key

    # 1. the signature itself
    statement = None
    if parsed.envelope is not None:
        statement = _check_dsse(parsed, verifying_key, artifact, digest)
        material = LoggedMaterial(_verifier_der(parsed.certificate, verifying_key), envelope=parsed.envelope)
    else:
        signed_digest = _check_message_signature(parsed, verifying_key, artifact, digest)
        material = LoggedMaterial(
            _verifier_der(parsed.certificate, verifying_key),
            signature=parsed.message_signature,
            digest=signed_digest,
            payload=artifact,
        )

    # 2. transparency log
    if require_tlog and not parsed.entries:
        raise TransparencyLogError("bundle has no transparency log entry")
    times: list[datetime] = []
    verified_entries = []
    for entry in parsed.entries:
        check_entry_body(entry, material)
        if entry.proof is None:
            if require_inclusion_proof:
                raise TransparencyLogError("log entry has no inclusion proof")
        else:
            verify_inclusion_proof(entry)
            verify_checkpoint(entry, trusted_root)
        set_verified = False
        if entry.set_ is not None:
            verify_set(entry, trusted_root)
            set_verified = True
            times.append(entry.integrated_at)
        verified_entries.append(_with_set(entry, set_verified))

    # 3. signed timestamps
    tsa_reasons: list[str] = []
    times.extend(verify_timestamps(parsed.timestamps, parsed.signature, trusted_root, reasons=tsa_reasons))

    if not times and (identity is not None or require_tlog):
        raise TimestampInvalidError(
            "no trusted signing time: no verified inclusion promise (SET) and no verified RFC 3161 timestamp"
            + (f" ({tsa_reasons[0]})" if tsa_reasons else "")
        )

    # 4. certificate and identity
    if parsed.certificate is not None:
        cert = parsed.certificate
        for entry in parsed.entries:
            if entry.integrated_time and not (
                cert.not_valid_before_utc <= entry.integrated_at <= cert.not_valid_after_utc
            ):
                raise TimestampInvalidError(
                    f"log integrated time {entry.integrated_at:%Y-%m-%dT%H:%M:%SZ} is outside the signing "
                    "certificate's validity"
                )
        verify_certificate(cert, parsed.chain, trusted_root, at=times, identity=identity, require_sct=require_sct)

    _logger.debug(
        "bundle verified (%s, %d log entries, %d trusted times)",
        "dsse" if parsed.envelope else "message-signature",
        len(parsed.entries),
        len(times),
    )
    return VerifiedSignature(
        kind="dsse" if parsed.envelope is not None else "message-signature",
        certificate=parsed.certificate,
        key_id=None if key is None else key_id(key),
        signed_at=min(times) if times else None,
        statement=statement,
        payload_type=parsed.envelope.payload_type if parsed.envelope else None,
        payload=parsed.envelope.payload if parsed.envelope else None,
        log_entries=tuple(verified_entries),
    )


def _with_set(entry: RekorEntry, verified: bool) -> RekorEntry:
    from dataclasses import replace

    return replace(entry, set_verified=verified)
