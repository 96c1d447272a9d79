"""Attestations the way ``cosign attest --key`` builds them (FORMATS.md §1, §6, §7); pure, pushed by
``verifier.attachments``.

Two layouts:

- legacy (default): a DSSE envelope (in-toto statement v0.1) appended as a layer of ``<repo>:sha256-<hex>.att``
  with media type ``application/vnd.dsse.envelope.v1+json``, an empty signature annotation and a
  ``predicateType`` annotation; ``replace`` drops earlier layers of the same predicate type first;
- bundle (``bundle_format``): a sigstore bundle v0.3 (``publicKey`` hint, no transparency log entry) in a
  referring manifest whose ``subject`` is the image, pushed by digest and listed in the referrers fallback
  tag ``sha256-<hex>`` when the registry has no referrers API.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization

from verifier.cosign._attachment import (
    BUNDLE_CONTENT_ANNOTATION,
    BUNDLE_PREDICATE_ANNOTATION,
    BUNDLE_V03_MEDIA_TYPE,
)
from verifier.cosign._dsse_layer import (
    INTOTO_PAYLOAD_TYPE,
    STATEMENT_V01,
    go_json,
    pae,
    parse_envelope,
    parse_statement,
)
from verifier.cosign._layout import DSSE_MEDIA_TYPE, SIGNATURE_ANNOTATION
from verifier.crypto import SigningKey, sign_bytes
from verifier.errors import SealgateError, UsageError
from verifier.oci import (
    OCI_EMPTY,
    OCI_EMPTY_DIGEST,
    OCI_EMPTY_JSON,
    OCI_INDEX,
    OCI_MANIFEST,
    Descriptor,
    Digest,
)

__all__ = [
    "CUSTOM_PREDICATE_TYPE",
    "PREDICATE_ANNOTATION",
    "PREDICATE_TYPES",
    "attestation_layer",
    "build_attestation_statement",
    "build_bundle_referrer",
    "build_key_bundle",
    "build_predicate",
    "layer_predicate_type",
    "predicate_type_for",
    "with_fallback_entry",
]

PREDICATE_ANNOTATION = "predicateType"
CUSTOM_PREDICATE_TYPE = "https://cosign.sigstore.dev/attestation/v1"
CREATED_ANNOTATION = "org.opencontainers.image.created"

#: ``--type`` short names and the predicate type URIs cosign maps them to
PREDICATE_TYPES: Mapping[str, str] = {
    "custom": CUSTOM_PREDICATE_TYPE,
    "slsaprovenance": "https://slsa.dev/provenance/v0.2",
    "slsaprovenance02": "https://slsa.dev/provenance/v0.2",
    "slsaprovenance1": "https://slsa.dev/provenance/v1",
    "spdx": "https://spdx.dev/Document",
    "spdxjson": "https://spdx.dev/Document",
    "cyclonedx": "https://cyclonedx.org/bom",
    "link": "https://in-toto.io/Link/v1",
    "vuln": "https://cosign.sigstore.dev/attestation/vuln/v1",
    "openvex": "https://openvex.dev/ns",
}


def predicate_type_for(name: str) -> str:
    """``--type`` value -> predicate type URI: a short name from :data:`PREDICATE_TYPES` or an absolute URI."""
    if name in PREDICATE_TYPES:
        return PREDICATE_TYPES[name]
    parts = urlsplit(name)
    if parts.scheme and (parts.netloc or parts.path) and not any(c.isspace() for c in name):
        return name
    known = ", ".join(sorted(PREDICATE_TYPES))
    raise UsageError(f"predicate type {name[:100]!r} is neither a known type ({known}) nor a URI")


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_predicate(kind: str, raw: bytes, *, now: datetime) -> Any:
    """The predicate cosign builds from the ``--predicate`` file for ``--type kind``.

    ``custom``: ``{"Data": <file text>, "Timestamp": <RFC 3339>}``; ``spdx``: the file text; every other
    known type: the file's JSON. A custom URI takes the file's JSON, or the ``custom`` wrapper when the
    file is not JSON.
    """
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        raise UsageError("predicate file is not UTF-8 text") from None
    custom = {"Data": text, "Timestamp": _rfc3339(now)}
    if kind == "custom" or kind == CUSTOM_PREDICATE_TYPE:
        return custom
    if kind == "spdx":
        return text
    try:
        return json.loads(text)
    except ValueError:
        if kind in PREDICATE_TYPES:
            raise UsageError(f"predicate file is not valid JSON, which --type {kind} needs") from None
        return custom


def build_attestation_statement(predicate_type: str, predicate: Any, repository: str, digest: Digest) -> bytes:
    """The in-toto statement v0.1 cosign attests: ``_type``, ``predicateType``, ``subject``, ``predicate``.

    The subject is ``{name, digest{sha256}}``; JSON predicates are written with sorted keys, as Go re-marshals a map.
    """
    if digest.algorithm != "sha256":
        raise UsageError(f"cannot attest {digest}: cosign statements name sha256 digests only")
    statement = {
        "_type": STATEMENT_V01,
        "predicateType": predicate_type,
        "subject": [{"name": repository, "digest": {"sha256": digest.hex}}],
        "predicate": predicate,
    }
    head = go_json({k: v for k, v in statement.items() if k != "predicate"})
    return head[:-1] + b',"predicate":' + go_json(predicate, sort_keys=True) + b"}"


def _public_key_hint(key: SigningKey) -> str:
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def build_key_bundle(key: SigningKey, statement: bytes) -> bytes:
    """A sigstore bundle v0.3 holding a key-signed DSSE envelope (``publicKey`` hint, no tlog entry)."""
    signature = sign_bytes(key, pae(INTOTO_PAYLOAD_TYPE, statement))
    return go_json(
        {
            "mediaType": BUNDLE_V03_MEDIA_TYPE,
            "verificationMaterial": {"publicKey": {"hint": _public_key_hint(key)}},
            "dsseEnvelope": {
                "payload": base64.b64encode(statement).decode(),
                "payloadType": INTOTO_PAYLOAD_TYPE,
                "signatures": [{"sig": base64.b64encode(signature).decode()}],
            },
        }
    )


def build_bundle_referrer(bundle: bytes, predicate_type: str, subject: Descriptor, *, created: datetime) -> bytes:
    """The referring manifest cosign 3 pushes for a bundle (FORMATS.md §6 "Bundle referrer manifest")."""
    return go_json(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": OCI_EMPTY,
                "size": len(OCI_EMPTY_JSON),
                "digest": OCI_EMPTY_DIGEST,
                "artifactType": BUNDLE_V03_MEDIA_TYPE,
            },
            "layers": [{"mediaType": BUNDLE_V03_MEDIA_TYPE, "size": len(bundle), "digest": str(Digest.of(bundle))}],
            "annotations": {
                BUNDLE_CONTENT_ANNOTATION: "dsse-envelope",
                BUNDLE_PREDICATE_ANNOTATION: predicate_type,
                CREATED_ANNOTATION: _rfc3339(created),
            },
            "subject": {"mediaType": subject.media_type, "size": subject.size, "digest": str(subject.digest)},
            "artifactType": BUNDLE_V03_MEDIA_TYPE,
        }
    )


def layer_predicate_type(annotations: Mapping[str, str], payload: bytes | None) -> str | None:
    """The predicate type of a legacy ``.att`` layer: its annotation, else the statement in ``payload`` (or None)."""
    if PREDICATE_ANNOTATION in annotations:
        return annotations[PREDICATE_ANNOTATION]
    if payload is None:
        return None
    try:
        return parse_statement(parse_envelope(payload).payload).predicate_type
    except SealgateError:
        return None


def attestation_layer(envelope: bytes, predicate_type: str) -> Descriptor:
    """The ``.att`` layer cosign writes for a DSSE ``envelope``: empty signature annotation, ``predicateType``."""
    return Descriptor(
        media_type=DSSE_MEDIA_TYPE,
        digest=Digest.of(envelope),
        size=len(envelope),
        annotations={SIGNATURE_ANNOTATION: "", PREDICATE_ANNOTATION: predicate_type},
    )


def with_fallback_entry(current: Mapping[str, Any] | None, entry: Descriptor, where: str) -> bytes | None:
    """The referrers fallback index (``current``, or a new one) with ``entry`` listed, sorted by digest as ggcr
    does; None when it is listed already. An index without a manifests list is a ``UsageError``."""
    doc: Mapping[str, Any] = current if current is not None else {"schemaVersion": 2, "mediaType": OCI_INDEX}
    manifests = doc.get("manifests") or []
    if not isinstance(manifests, list):
        raise UsageError(f"{where} holds an index without a manifests list; not touching it")
    if any(isinstance(m, dict) and m.get("digest") == str(entry.digest) for m in manifests):
        return None
    manifests = [*manifests, entry.to_dict()]
    manifests.sort(key=lambda m: str(m.get("digest", "")) if isinstance(m, dict) else "")
    return go_json({**doc, "manifests": manifests})
