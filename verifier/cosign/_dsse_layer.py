"""DSSE envelopes and in-toto statements as cosign writes and reads them (FORMATS.md §7).

Pure functions: signing an envelope the way legacy ``cosign attest --key`` does, checking its signatures
against named keys, and reading the in-toto statement inside it (``_type`` v0.1 or v1, subject matched by
sha256 digest only). The envelope model, its parser and PAE are :mod:`verifier.crypto`'s (the one DSSE
implementation, shared with ``verifier.sigstore``), re-exported here for the cosign modules.
"""

from __future__ import annotations

import base64
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from verifier.cosign._verify import NamedKey
from verifier.crypto import Envelope as DsseEnvelope  # the one envelope model, by the name cosign modules use
from verifier.crypto import SigningKey, pae, parse_envelope, sign_bytes, verify_bytes
from verifier.errors import PayloadInvalidError
from verifier.oci import Digest

__all__ = [
    "INTOTO_PAYLOAD_TYPE",
    "STATEMENT_TYPES",
    "STATEMENT_V01",
    "STATEMENT_V1",
    "DsseEnvelope",
    "Statement",
    "envelope_signer",
    "go_json",
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
    message = envelope.pae()
    for key in keys:
        if any(verify_bytes(key.key, signature.sig, message) for signature in envelope.signatures):
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
