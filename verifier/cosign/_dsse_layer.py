"""DSSE envelopes and in-toto statements as cosign writes and reads them (FORMATS.md §7).

Pure functions: PAE, parsing an envelope (standard or URL-safe base64, any key order), signing one the way
legacy ``cosign attest --key`` does, checking its signatures against named keys, and reading the in-toto
statement inside it (``_type`` v0.1 or v1, subject matched by sha256 digest only).

PAE comes from :mod:`verifier.crypto` (the one implementation, shared with ``verifier.sigstore``); the
envelope and statement models here are the key-signed subset the cosign layouts need.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from verifier.cosign._verify import NamedKey
from verifier.crypto import SigningKey, is_utf8, pae, sign_bytes, verify_bytes
from verifier.errors import PayloadInvalidError
from verifier.limits import DEFAULT_LIMITS
from verifier.oci import Digest

__all__ = [
    "INTOTO_PAYLOAD_TYPE",
    "STATEMENT_TYPES",
    "STATEMENT_V01",
    "STATEMENT_V1",
    "DsseEnvelope",
    "Statement",
    "b64decode_any",
    "envelope_signer",
    "go_json",
    "is_utf8",
    "pae",
    "parse_envelope",
    "parse_statement",
    "sign_envelope",
]

INTOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_V01 = "https://in-toto.io/Statement/v0.1"
STATEMENT_V1 = "https://in-toto.io/Statement/v1"
STATEMENT_TYPES = frozenset({STATEMENT_V01, STATEMENT_V1})

_GO_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def go_json(obj: Any, *, sort_keys: bool = False) -> bytes:
    """Compact JSON as Go's ``encoding/json`` writes it (``<``, ``>``, ``&``, U+2028/9 escaped)."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False, sort_keys=sort_keys)
    for char, escaped in _GO_ESCAPES.items():
        text = text.replace(char, escaped)  # these characters only ever occur inside JSON strings
    return text.encode()


def b64decode_any(text: str, what: str) -> bytes:
    """Standard or URL-safe base64, padding optional (DSSE verifiers must accept both alphabets)."""
    if not isinstance(text, str):
        raise PayloadInvalidError(f"{what} is not a base64 string")
    stripped = text.strip()
    padded = stripped + "=" * (-len(stripped) % 4)
    alphabet = b"-_" if ("-" in stripped or "_" in stripped) else None
    try:
        return base64.b64decode(padded, altchars=alphabet, validate=True)
    except (binascii.Error, ValueError):
        raise PayloadInvalidError(f"{what} is not valid base64") from None


@dataclass(frozen=True, slots=True)
class DsseEnvelope:
    """A parsed envelope: the decoded payload and each ``(keyid, raw signature)``."""

    payload_type: str
    payload: bytes
    signatures: tuple[tuple[str | None, bytes], ...]

    @property
    def pae(self) -> bytes:
        return pae(self.payload_type, self.payload)


def parse_envelope(data: bytes | Mapping[str, Any], what: str = "DSSE envelope") -> DsseEnvelope:
    """Parse envelope JSON (bytes or an already-decoded object); :class:`PayloadInvalidError` when malformed."""
    if isinstance(data, bytes | bytearray):
        try:
            doc: Any = json.loads(data)
        except (ValueError, RecursionError):  # bad JSON, bad UTF-8, integers past the digit limit
            raise PayloadInvalidError(f"{what} is not valid JSON") from None
    else:
        doc = data
    if not isinstance(doc, Mapping):
        raise PayloadInvalidError(f"{what} is not a JSON object")
    payload_type, payload, signatures = doc.get("payloadType"), doc.get("payload"), doc.get("signatures")
    if not isinstance(payload_type, str) or not payload_type or not is_utf8(payload_type):
        raise PayloadInvalidError(f"{what} has no payloadType")
    if not isinstance(payload, str):
        raise PayloadInvalidError(f"{what} has no payload")
    if not isinstance(signatures, list) or not signatures:
        raise PayloadInvalidError(f"{what} has no signatures")
    if len(signatures) > (cap := DEFAULT_LIMITS.max_envelope_signatures):
        raise PayloadInvalidError(f"{what} has {len(signatures)} signatures, more than {cap} (max_envelope_signatures)")
    parsed: list[tuple[str | None, bytes]] = []
    for i, entry in enumerate(signatures):
        if not isinstance(entry, Mapping):
            raise PayloadInvalidError(f"{what}: signature {i} is not a JSON object")
        keyid = entry.get("keyid")
        if keyid is not None and not isinstance(keyid, str):
            raise PayloadInvalidError(f"{what}: signature {i} has a keyid that is not a string")
        raw = b64decode_any(entry.get("sig"), f"{what}: signature {i}")  # type: ignore[arg-type]
        if not raw:
            raise PayloadInvalidError(f"{what}: signature {i} is empty")
        parsed.append((keyid, raw))
    return DsseEnvelope(payload_type, b64decode_any(payload, f"{what} payload"), tuple(parsed))


def sign_envelope(key: SigningKey, payload: bytes, payload_type: str = INTOTO_PAYLOAD_TYPE) -> bytes:
    """The envelope legacy ``cosign attest --key`` writes.

    Compact, in go-securesystemslib's field order: ``{"payloadType","payload","signatures":[{"keyid":"","sig"}]}``.
    """
    signature = sign_bytes(key, pae(payload_type, payload))
    return go_json(
        {
            "payloadType": payload_type,
            "payload": base64.b64encode(payload).decode(),
            "signatures": [{"keyid": "", "sig": base64.b64encode(signature).decode()}],
        }
    )


def envelope_signer(envelope: DsseEnvelope, keys: Sequence[NamedKey]) -> NamedKey | None:
    """The first of ``keys`` that verifies any of the envelope's signatures over PAE (keyids are ignored)."""
    message = envelope.pae
    for key in keys:
        if any(verify_bytes(key.key, signature, message) for _, signature in envelope.signatures):
            return key
    return None


@dataclass(frozen=True, slots=True)
class Statement:
    """An in-toto statement (v0.1 or v1), kept as parsed JSON with the fields we check pulled out."""

    type: str
    predicate_type: str
    subjects: tuple[Mapping[str, Any], ...]
    document: Mapping[str, Any]

    def subject_for(self, digest: Digest) -> Mapping[str, Any] | None:
        """The first subject whose ``digest.sha256`` equals ``digest`` (cosign matches sha256 only)."""
        if digest.algorithm != "sha256":
            return None
        for subject in self.subjects:
            value = subject["digest"].get("sha256")
            if isinstance(value, str) and hmac.compare_digest(value.lower(), digest.hex):
                return subject
        return None


def parse_statement(payload: bytes, what: str = "in-toto statement") -> Statement:
    """Parse the DSSE payload as an in-toto statement; :class:`PayloadInvalidError` when it is not one."""
    try:
        doc = json.loads(payload)
    except (ValueError, RecursionError):  # bad JSON, bad UTF-8, integers past the digit limit
        raise PayloadInvalidError(f"{what} is not valid JSON") from None
    if not isinstance(doc, dict):
        raise PayloadInvalidError(f"{what} is not a JSON object")
    kind = doc.get("_type")
    if kind not in STATEMENT_TYPES:
        raise PayloadInvalidError(f"{what} has unknown _type {str(kind)[:100]!r}")
    predicate_type = doc.get("predicateType")
    if not isinstance(predicate_type, str) or not predicate_type:
        raise PayloadInvalidError(f"{what} has no predicateType")
    subjects = doc.get("subject")
    if not isinstance(subjects, list) or not subjects:
        raise PayloadInvalidError(f"{what} has no subject")
    for i, subject in enumerate(subjects):
        if not isinstance(subject, dict):
            raise PayloadInvalidError(f"{what}: subject {i} is not a JSON object")
        digests = subject.get("digest")
        if not isinstance(digests, dict) or not all(isinstance(v, str) for v in digests.values()):
            raise PayloadInvalidError(f"{what}: subject {i} has no digest map")
        annotations = subject.get("annotations")
        if annotations is not None and not isinstance(annotations, dict):
            raise PayloadInvalidError(f"{what}: subject {i} has annotations that are not an object")
    return Statement(kind, predicate_type, tuple(subjects), doc)
