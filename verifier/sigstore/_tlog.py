"""Rekor transparency-log evidence: SET (inclusion promise), inclusion proof + checkpoint (v1 and v2 logs),
and the consistency of a log entry's body with the signature it is supposed to record (FORMATS.md §3, §5).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from verifier.errors import TransparencyLogError
from verifier.sigstore._dsse import Envelope
from verifier.sigstore._trust import LogKey, TrustedRoot
from verifier.sigstore._util import b64decode, require_mapping

__all__ = [
    "Checkpoint",
    "InclusionProof",
    "LoggedMaterial",
    "RekorEntry",
    "check_entry_body",
    "parse_checkpoint",
    "verify_checkpoint",
    "verify_inclusion_proof",
    "verify_set",
]

_logger = logging.getLogger(__name__)

_V1_ORIGIN = re.compile(r"^(?P<name>.+) - (?P<tree>[0-9]+)$")
#: most hashes an inclusion proof can need (a tree of 2^64 leaves)
_MAX_PROOF_HASHES = 64


@dataclass(frozen=True, slots=True)
class InclusionProof:
    log_index: int
    tree_size: int
    root_hash: bytes
    hashes: tuple[bytes, ...]
    checkpoint: str | None


@dataclass(frozen=True, slots=True)
class RekorEntry:
    """One transparency-log entry; ``integrated_time`` is trusted only if ``set_verified``."""

    log_id: bytes
    log_index: int
    integrated_time: int
    body: bytes
    kind: str
    version: str
    set_: bytes | None = None
    proof: InclusionProof | None = None
    set_verified: bool = False

    @property
    def integrated_at(self) -> datetime:
        return datetime.fromtimestamp(self.integrated_time, UTC)

    def body_json(self) -> dict[str, Any]:
        try:
            doc = json.loads(self.body)
        except (ValueError, RecursionError):  # bad JSON, bad UTF-8, integers past the digit limit
            raise TransparencyLogError("log entry body is not valid JSON") from None
        if not isinstance(doc, dict):
            raise TransparencyLogError("log entry body is not a JSON object")
        return doc


# --- SET -------------------------------------------------------------------------------------------------


def _log_for(entry: RekorEntry, trusted_root: TrustedRoot) -> list[LogKey]:
    logs = trusted_root.tlogs_for(entry.log_id)
    if not logs:
        raise TransparencyLogError(
            f"log entry is from a transparency log not in {trusted_root.source} (log id {entry.log_id.hex()[:16]}...)"
        )
    return logs


def verify_set(entry: RekorEntry, trusted_root: TrustedRoot) -> LogKey:
    """Verify the SET (signed entry timestamp) over the JCS of ``{body, integratedTime, logID, logIndex}``."""
    if entry.set_ is None:
        raise TransparencyLogError("log entry has no inclusion promise (SET)")
    canonical = json.dumps(
        {
            "body": _b64(entry.body),
            "integratedTime": entry.integrated_time,
            "logID": entry.log_id.hex(),
            "logIndex": entry.log_index,
        },
        sort_keys=True,
        separators=(",", ":"),
    ).encode()
    reasons = []
    for log in _log_for(entry, trusted_root):
        if not isinstance(log.key, ec.EllipticCurvePublicKey):
            reasons.append("transparency log key for SET is not ECDSA")
            continue
        try:
            log.key.verify(entry.set_, canonical, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, ValueError):
            reasons.append("SET signature does not verify")
            continue
        if not log.valid_for.contains(entry.integrated_at):
            reasons.append(
                f"integrated time {entry.integrated_at:%Y-%m-%dT%H:%M:%SZ} is outside the log key's "
                f"validity {log.valid_for}"
            )
            continue
        return log
    raise TransparencyLogError(f"log entry inclusion promise invalid: {reasons[0]}")


def _b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode()


# --- Merkle inclusion proof --------------------------------------------------------------------------------


def _leaf_hash(body: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + body).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _root_from_proof(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    if index >= size:
        raise TransparencyLogError(f"inclusion proof index {index} is not below tree size {size}")
    inner = (index ^ (size - 1)).bit_length()
    border = bin(index >> inner).count("1")
    if len(proof) != inner + border:
        raise TransparencyLogError(f"inclusion proof has {len(proof)} hashes, expected {inner + border}")
    seed = leaf
    for i, h in enumerate(proof[:inner]):
        seed = _node(seed, h) if (index >> i) & 1 == 0 else _node(h, seed)
    for h in proof[inner:]:
        seed = _node(h, seed)
    return seed


def verify_inclusion_proof(entry: RekorEntry) -> None:
    """The Merkle path from the entry's leaf hash reaches the proof's root hash (RFC 6962/9162)."""
    proof = entry.proof
    if proof is None:
        raise TransparencyLogError("log entry has no inclusion proof")
    computed = _root_from_proof(proof.log_index, proof.tree_size, _leaf_hash(entry.body), proof.hashes)
    if not hmac.compare_digest(computed, proof.root_hash):
        raise TransparencyLogError("inclusion proof does not lead to its root hash")


# --- checkpoints (C2SP signed notes) -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Checkpoint:
    origin: str
    size: int
    root_hash: bytes
    text: bytes
    signatures: tuple[tuple[str, bytes, bytes], ...]  # (name, 4-byte key hint, signature)


def parse_checkpoint(envelope: str) -> Checkpoint:
    """Parse a signed note; :class:`TransparencyLogError` on any malformation."""
    if not isinstance(envelope, str) or not envelope:
        raise TransparencyLogError("checkpoint is empty")
    body, sep, sigs = envelope.partition("\n\n")
    if not sep:
        raise TransparencyLogError("checkpoint has no blank line between body and signatures")
    lines = body.split("\n")
    if len(lines) < 3:
        raise TransparencyLogError("checkpoint body needs origin, size and root hash lines")
    origin, size_text, root_text = lines[0], lines[1], lines[2]
    if not origin:
        raise TransparencyLogError("checkpoint has an empty origin")
    if not re.fullmatch(r"[0-9]{1,20}", size_text):
        raise TransparencyLogError(f"checkpoint tree size is not a number: {size_text[:30]!r}")
    root = b64decode(root_text, "checkpoint root hash", TransparencyLogError)
    if len(root) != 32:
        raise TransparencyLogError("checkpoint root hash is not 32 bytes")
    if not sigs.endswith("\n"):
        raise TransparencyLogError("checkpoint signatures do not end with a newline")
    signatures = []
    for line in sigs[:-1].split("\n"):
        m = re.fullmatch(r"\u2014 (\S+) (\S+)", line)
        if m is None:
            raise TransparencyLogError(f"checkpoint signature line is malformed: {line[:60]!r}")
        raw = b64decode(m.group(2), "checkpoint signature", TransparencyLogError)
        if len(raw) < 5:
            raise TransparencyLogError("checkpoint signature is too short")
        signatures.append((m.group(1), raw[:4], raw[4:]))
    if not signatures:
        raise TransparencyLogError("checkpoint has no signatures")
    return Checkpoint(origin, int(size_text), root, (body + "\n").encode(), tuple(signatures))


def _signer_names(origin: str) -> set[str]:
    names = {origin}
    m = _V1_ORIGIN.match(origin)
    if m:
        names.add(m.group("name"))
    return names


def verify_checkpoint(entry: RekorEntry, trusted_root: TrustedRoot) -> Checkpoint:
    """The checkpoint is signed by the entry's log (name = origin, key hint = log id prefix) and agrees
    with the inclusion proof's tree size and root hash."""
    proof = entry.proof
    if proof is None or not proof.checkpoint:
        raise TransparencyLogError("log entry inclusion proof has no checkpoint")
    checkpoint = parse_checkpoint(proof.checkpoint)
    names = _signer_names(checkpoint.origin)
    verified = False
    for log in _log_for(entry, trusted_root):
        for name, hint, signature in checkpoint.signatures:
            if name not in names or hint != log.key_id[:4]:
                continue
            try:
                if isinstance(log.key, ec.EllipticCurvePublicKey):
                    log.key.verify(signature, checkpoint.text, ec.ECDSA(hashes.SHA256()))
                elif isinstance(log.key, ed25519.Ed25519PublicKey):
                    log.key.verify(signature, checkpoint.text)
                else:
                    continue
            except (InvalidSignature, ValueError):
                continue
            verified = True
            break
        if verified:
            break
    if not verified:
        raise TransparencyLogError(f"checkpoint has no valid signature by the log {checkpoint.origin!r}")
    if checkpoint.size != proof.tree_size:
        raise TransparencyLogError(f"checkpoint tree size {checkpoint.size} differs from the proof's {proof.tree_size}")
    if not hmac.compare_digest(checkpoint.root_hash, proof.root_hash):
        raise TransparencyLogError("checkpoint root hash differs from the inclusion proof's root hash")
    return checkpoint


# --- tying an entry body to the signature --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LoggedMaterial:
    """What an entry must record: the verifier (certificate or SPKI DER), and the signature over either a
    message (``digest`` = (hashlib name, bytes), ``signature``) or a DSSE ``envelope``."""

    verifier_der: bytes
    signature: bytes | None = None
    digest: tuple[str, bytes] | None = None
    envelope: Envelope | None = None
    #: legacy ``rekord`` entries hash the payload itself
    payload: bytes | None = None


def _der_from_pem(value: Any, what: str) -> bytes:
    pem = b64decode(value, what, TransparencyLogError)
    if b"-----BEGIN" not in pem:
        return pem
    try:
        if b"CERTIFICATE" in pem.split(b"-----", 2)[1]:
            return x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)
        key = serialization.load_pem_public_key(pem)
    except (ValueError, UnsupportedAlgorithm):
        raise TransparencyLogError(f"{what}: not a PEM certificate or public key") from None
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _get(doc: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(doc, Mapping):
            return None
        doc = doc.get(key)
    return doc


def _same_verifier(found: bytes, material: LoggedMaterial) -> None:
    if not hmac.compare_digest(found, material.verifier_der):
        raise TransparencyLogError("log entry records a different certificate or public key")


def _same_signature(found: Any, expected: bytes | None, what: str) -> None:
    if expected is None or not expected:
        return
    if not hmac.compare_digest(b64decode(found, what, TransparencyLogError), expected):
        raise TransparencyLogError("log entry records a different signature")


_HASH_NAMES = {"SHA2_256": "sha256", "SHA2_384": "sha384", "SHA2_512": "sha512"}


def _hashedrekord_v001(spec: Mapping[str, Any], m: LoggedMaterial) -> None:
    if m.envelope is not None:
        raise TransparencyLogError("hashedrekord 0.0.1 entry cannot record a DSSE envelope")
    algorithm = _get(spec, "data", "hash", "algorithm")
    value = _get(spec, "data", "hash", "value")
    if m.digest is None:
        raise TransparencyLogError("no message digest to compare with the hashedrekord entry")
    if algorithm != m.digest[0] or not isinstance(value, str) or value.lower() != m.digest[1].hex():
        raise TransparencyLogError("log entry records a different artifact digest")
    _same_signature(_get(spec, "signature", "content"), m.signature, "hashedrekord signature")
    _same_verifier(_der_from_pem(_get(spec, "signature", "publicKey", "content"), "hashedrekord public key"), m)


def _v2_verifier(verifier: Any) -> bytes:
    raw = _get(verifier, "x509Certificate", "rawBytes")
    if raw is None:
        raw = _get(verifier, "publicKey", "rawBytes")
    return b64decode(raw, "hashedrekord verifier", TransparencyLogError)


def _hashedrekord_v002(spec: Mapping[str, Any], m: LoggedMaterial) -> None:
    inner = spec.get("hashedRekordV002")
    data = _get(inner, "data")
    algorithm = _HASH_NAMES.get(str(_get(data, "algorithm")))
    if algorithm is None:
        raise TransparencyLogError("hashedrekord 0.0.2 entry has an unsupported digest algorithm")
    logged_digest = b64decode(_get(data, "digest"), "hashedrekord digest", TransparencyLogError)
    if m.envelope is not None:
        expected = hashlib.new(algorithm, m.envelope.pae()).digest()
        expected_sig: bytes | None = m.envelope.signatures[0].sig
    else:
        if m.digest is None or m.digest[0] != algorithm:
            raise TransparencyLogError("log entry records a digest of a different algorithm")
        expected, expected_sig = m.digest[1], m.signature
    if not hmac.compare_digest(logged_digest, expected):
        raise TransparencyLogError("log entry records a different artifact digest")
    _same_signature(_get(inner, "signature", "content"), expected_sig, "hashedrekord signature")
    _same_verifier(_v2_verifier(_get(inner, "signature", "verifier")), m)


def _rekord_v001(spec: Mapping[str, Any], m: LoggedMaterial) -> None:
    algorithm = _get(spec, "data", "hash", "algorithm")
    value = _get(spec, "data", "hash", "value")
    if m.payload is not None:
        expected = hashlib.new(str(algorithm), m.payload).hexdigest() if algorithm in ("sha256", "sha512") else None
    elif m.digest is not None and m.digest[0] == algorithm:
        expected = m.digest[1].hex()
    else:
        expected = None
    if expected is None or not isinstance(value, str) or value.lower() != expected:
        raise TransparencyLogError("log entry records a different artifact digest")
    _same_signature(_get(spec, "signature", "content"), m.signature, "rekord signature")
    _same_verifier(_der_from_pem(_get(spec, "signature", "publicKey", "content"), "rekord public key"), m)


def _envelope_of(m: LoggedMaterial, kind: str) -> Envelope:
    if m.envelope is None:
        raise TransparencyLogError(f"{kind} entry records a DSSE envelope, but the signature is not one")
    return m.envelope


def _payload_hash(spec_hash: Any, payload: bytes) -> None:
    algorithm = _get(spec_hash, "algorithm")
    value = _get(spec_hash, "value")
    if algorithm != "sha256" or not isinstance(value, str):
        raise TransparencyLogError("log entry payload hash is missing or not sha256")
    if value.lower() != hashlib.sha256(payload).hexdigest():
        raise TransparencyLogError("log entry records a different DSSE payload")


def _dsse_v001(spec: Mapping[str, Any], m: LoggedMaterial) -> None:
    env = _envelope_of(m, "dsse")
    _payload_hash(spec.get("payloadHash"), env.payload)
    logged = spec.get("signatures")
    if not isinstance(logged, list) or len(logged) != len(env.signatures):
        raise TransparencyLogError("log entry records a different number of DSSE signatures")
    found = set()
    for item in logged:
        found.add(b64decode(_get(item, "signature"), "dsse entry signature", TransparencyLogError))
        _same_verifier(_der_from_pem(_get(item, "verifier"), "dsse entry verifier"), m)
    if found != {s.sig for s in env.signatures}:
        raise TransparencyLogError("log entry records different DSSE signatures")


def _intoto(spec: Mapping[str, Any], m: LoggedMaterial, version: str) -> None:
    env = _envelope_of(m, "intoto")
    content = require_mapping(spec.get("content"), "intoto entry content", TransparencyLogError)
    _payload_hash(content.get("payloadHash"), env.payload)
    if version == "0.0.2":
        logged_env = require_mapping(content.get("envelope"), "intoto entry envelope", TransparencyLogError)
        if logged_env.get("payload") is not None:
            payload = b64decode(
                b64decode(logged_env["payload"], "intoto payload", TransparencyLogError).decode("ascii", "replace"),
                "intoto payload",
                TransparencyLogError,
            )
            if payload != env.payload:
                raise TransparencyLogError("log entry records a different DSSE payload")
        logged = logged_env.get("signatures")
        if not isinstance(logged, list) or len(logged) != len(env.signatures):
            raise TransparencyLogError("log entry records a different number of DSSE signatures")
        found = set()
        for item in logged:
            sig_b64 = b64decode(_get(item, "sig"), "intoto entry signature", TransparencyLogError)
            found.add(b64decode(sig_b64.decode("ascii", "replace"), "intoto entry signature", TransparencyLogError))
            _same_verifier(_der_from_pem(_get(item, "publicKey"), "intoto entry public key"), m)
        if found != {s.sig for s in env.signatures}:
            raise TransparencyLogError("log entry records different DSSE signatures")
    else:
        _same_verifier(_der_from_pem(spec.get("publicKey"), "intoto entry public key"), m)


def check_entry_body(entry: RekorEntry, material: LoggedMaterial) -> None:
    """Raise :class:`TransparencyLogError` unless the entry body records exactly ``material``."""
    body = entry.body_json()
    kind, version = body.get("kind"), body.get("apiVersion")
    if kind != entry.kind or version != entry.version:
        raise TransparencyLogError(
            f"log entry body is {kind}/{version} but the entry says {entry.kind}/{entry.version}"
        )
    spec = require_mapping(body.get("spec"), "log entry spec", TransparencyLogError)
    if (kind, version) == ("hashedrekord", "0.0.1"):
        _hashedrekord_v001(spec, material)
    elif (kind, version) == ("hashedrekord", "0.0.2"):
        _hashedrekord_v002(spec, material)
    elif (kind, version) == ("rekord", "0.0.1"):
        _rekord_v001(spec, material)
    elif (kind, version) == ("dsse", "0.0.1"):
        _dsse_v001(spec, material)
    elif kind == "intoto" and version in ("0.0.1", "0.0.2"):
        _intoto(spec, material, str(version))
    else:
        raise TransparencyLogError(f"unsupported log entry type {str(kind)[:30]}/{str(version)[:10]}")
