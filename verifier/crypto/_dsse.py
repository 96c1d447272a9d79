"""DSSE, once for all of sealgate (FORMATS.md §7): PAE, the envelope model and its one parser.

PAE = ``"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`` over the *decoded* payload, lengths in bytes. An
envelope is parsed as JSON (never by layout), standard and URL-safe base64 both accepted; the keyid is not
authenticated and never picks a key. ``verifier.cosign`` (legacy ``.att`` layers) and ``verifier.sigstore``
(bundles, keyless ``.att`` layers) both read envelopes here; a malformed one is :class:`EnvelopeInvalidError`.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

from verifier.errors import EnvelopeInvalidError, SealgateError
from verifier.limits import DEFAULT_LIMITS

__all__ = ["Envelope", "EnvelopeSignature", "b64decode", "is_utf8", "pae", "parse_envelope"]


def is_utf8(text: str) -> bool:
    """Whether ``text`` encodes as UTF-8 (JSON may carry lone surrogates such as ``"\\ud800"``)."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding: ``DSSEv1 <len> <type> <len> <body>`` (lengths in bytes).

    >>> pae("http://example.com/HelloWorld", b"hello world")
    b'DSSEv1 29 http://example.com/HelloWorld 11 hello world'
    """
    encoded = payload_type.encode()
    return b"DSSEv1 %d %b %d %b" % (len(encoded), encoded, len(payload), payload)


def _fail(error: type[SealgateError], message: str) -> NoReturn:
    raise error(message)


def b64decode(value: Any, what: str, error: type[SealgateError]) -> bytes:
    """Standard or URL-safe base64 (padding optional), strictly; ``error`` names ``what`` otherwise."""
    if not isinstance(value, str):
        _fail(error, f"{what}: expected a base64 string")
    # Go's decoder (protojson, cosign) skips CR and LF anywhere; so do we (wrapped base64 occurs in vectors)
    text = value.strip().replace("\r", "").replace("\n", "")
    if "-" in text or "_" in text:
        text = text.replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        _fail(error, f"{what} is not valid base64")


@dataclass(frozen=True, slots=True)
class EnvelopeSignature:
    sig: bytes
    keyid: str | None = None


@dataclass(frozen=True, slots=True)
class Envelope:
    """A parsed envelope: the decoded payload and each signature (raw bytes, unauthenticated keyid)."""

    payload_type: str
    payload: bytes
    signatures: tuple[EnvelopeSignature, ...]

    def pae(self) -> bytes:
        return pae(self.payload_type, self.payload)


def parse_envelope(raw: bytes | str | Mapping[str, Any], what: str = "DSSE envelope") -> Envelope:
    """An envelope from JSON (bytes, text or an already-decoded object); :class:`EnvelopeInvalidError` if it is
    malformed or carries more than ``max_envelope_signatures`` signatures."""
    if isinstance(raw, Mapping):
        doc: Any = raw
    else:
        try:
            doc = json.loads(raw)
        except (ValueError, RecursionError):  # bad JSON, bad UTF-8, integers past the digit limit
            raise EnvelopeInvalidError(f"{what} is not valid JSON") from None
    if not isinstance(doc, Mapping):
        raise EnvelopeInvalidError(f"{what} is not a JSON object")
    payload_type = doc.get("payloadType")
    if not isinstance(payload_type, str) or not payload_type or not is_utf8(payload_type):
        raise EnvelopeInvalidError(f"{what} has no payloadType (or it is not UTF-8 text)")
    payload = b64decode(doc.get("payload"), f"{what} payload", EnvelopeInvalidError)
    items = doc.get("signatures")
    if not isinstance(items, list) or not items:
        raise EnvelopeInvalidError(f"{what} has no signatures")
    if len(items) > (cap := DEFAULT_LIMITS.max_envelope_signatures):
        raise EnvelopeInvalidError(f"{what} has {len(items)} signatures, more than {cap} (max_envelope_signatures)")
    signatures = []
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise EnvelopeInvalidError(f"{what}: signature {i} is not a JSON object")
        keyid = item.get("keyid")
        if keyid is not None and not isinstance(keyid, str):
            raise EnvelopeInvalidError(f"{what}: signature {i} has a keyid that is not a string")
        sig = b64decode(item.get("sig"), f"{what}: signature {i}", EnvelopeInvalidError)
        if not sig:
            raise EnvelopeInvalidError(f"{what}: signature {i} is empty")
        signatures.append(EnvelopeSignature(sig, keyid))
    return Envelope(payload_type, payload, tuple(signatures))
