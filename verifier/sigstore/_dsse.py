"""DSSE envelopes and in-toto statements (FORMATS.md §7).

The envelope model, its parser and PAE are :mod:`verifier.crypto`'s (one DSSE implementation, re-exported
here); this module verifies envelopes against keys and reads the in-toto statement. Statement subjects match
by digest only.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from verifier.crypto import Envelope, EnvelopeSignature, VerifyingKey, pae, parse_envelope, verify_bytes
from verifier.errors import EnvelopeInvalidError, SignatureInvalidError
from verifier.oci import Digest

__all__ = [
    "IN_TOTO_PAYLOAD_TYPE",
    "STATEMENT_TYPES",
    "Envelope",
    "EnvelopeSignature",
    "pae",
    "parse_envelope",
    "parse_statement",
    "statement_subject_matches",
    "verify_envelope",
]

_logger = logging.getLogger(__name__)

IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPES = frozenset({"https://in-toto.io/Statement/v1", "https://in-toto.io/Statement/v0.1"})


def _load_json(raw: bytes | str, what: str) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):  # bad JSON, bad UTF-8, integers past the digit limit
        raise EnvelopeInvalidError(f"{what} is not valid JSON") from None


def verify_envelope(env: Envelope, keys: Sequence[VerifyingKey]) -> bytes:
    """The payload, if some signature verifies over PAE with some key; :class:`SignatureInvalidError` otherwise."""
    message = env.pae()
    for signature in env.signatures:
        for key in keys:
            if verify_bytes(key, signature.sig, message):
                return env.payload
    raise SignatureInvalidError("DSSE envelope signature does not verify with the given key")


def parse_statement(payload: bytes) -> dict[str, Any]:
    """An in-toto statement (v1 or v0.1) with a subject list and predicateType; raises if malformed."""
    doc = _load_json(payload, "in-toto statement")
    if not isinstance(doc, dict):
        raise EnvelopeInvalidError("in-toto statement: expected a JSON object")
    if doc.get("_type") not in STATEMENT_TYPES:
        raise EnvelopeInvalidError(f"in-toto statement: unsupported _type {str(doc.get('_type'))[:60]!r}")
    if not isinstance(doc.get("predicateType"), str):
        raise EnvelopeInvalidError("in-toto statement: missing predicateType")
    subjects = doc.get("subject")
    if not isinstance(subjects, list):
        raise EnvelopeInvalidError("in-toto statement: subject must be a list")
    for i, subject in enumerate(subjects):
        if not isinstance(subject, dict) or not isinstance(subject.get("digest"), dict):
            raise EnvelopeInvalidError(f"in-toto statement: subject[{i}] has no digest object")
    return doc


def statement_subject_matches(
    statement: Mapping[str, Any], digest: Digest, annotations: Mapping[str, str] | None = None
) -> bool:
    """True if a subject's ``digest[<algorithm>]`` equals ``digest`` (and carries ``annotations``, if given)."""
    subjects = statement.get("subject")
    if not isinstance(subjects, list):
        return False
    for subject in subjects:
        if not isinstance(subject, Mapping):
            continue
        digests = subject.get("digest")
        if not isinstance(digests, Mapping):
            continue
        value = digests.get(digest.algorithm)
        if not isinstance(value, str) or not hmac.compare_digest(value.lower(), digest.hex):
            continue
        if annotations:
            have = subject.get("annotations")
            if not isinstance(have, Mapping) or any(have.get(k) != v for k, v in annotations.items()):
                continue
        return True
    return False
