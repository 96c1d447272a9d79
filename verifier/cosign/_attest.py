"""Writing attestations the way ``cosign attest --key`` does (FORMATS.md §1, §6, §7).

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
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization

from verifier.cosign._discover import (
    BUNDLE_CONTENT_ANNOTATION,
    BUNDLE_PREDICATE_ANNOTATION,
    BUNDLE_V03_MEDIA_TYPE,
    FALLBACK_TAG,
    LEGACY_ATT,
    REFERRERS,
)
from verifier.cosign._dsse_layer import (
    INTOTO_PAYLOAD_TYPE,
    STATEMENT_V01,
    go_json,
    pae,
    parse_envelope,
    parse_statement,
    sign_envelope,
)
from verifier.cosign._layout import (
    DSSE_MEDIA_TYPE,
    SIGNATURE_ANNOTATION,
    attachment_tag,
    build_signature_manifest,
    parse_signature_manifest,
)
from verifier.crypto import SigningKey, sign_bytes
from verifier.errors import LimitExceededError, ManifestUnknownError, SealgateError, UsageError
from verifier.oci import (
    DOCKER_MANIFEST,
    OCI_EMPTY,
    OCI_EMPTY_DIGEST,
    OCI_EMPTY_JSON,
    OCI_INDEX,
    OCI_MANIFEST,
    Descriptor,
    Digest,
    Reference,
)
from verifier.registry import RegistryClient

__all__ = [
    "attach_bundle",
    "CUSTOM_PREDICATE_TYPE",
    "PREDICATE_ANNOTATION",
    "PREDICATE_TYPES",
    "AttestedImage",
    "attest_image",
    "build_attestation_statement",
    "build_bundle_referrer",
    "build_key_bundle",
    "build_predicate",
    "predicate_type_for",
]

_logger = logging.getLogger(__name__)

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


@dataclass(frozen=True, slots=True)
class AttestedImage:
    """What ``attest_image`` wrote."""

    reference: Reference  # repository@digest of the attested image
    digest: Digest
    predicate_type: str
    statement: bytes
    #: the DSSE envelope (legacy layer bytes) or the bundle JSON
    attachment: bytes
    layout: str  # "legacy-att" | "referrers" | "fallback-tag"
    #: where it went: the ``.att`` tag, or the referring manifest's reference
    location: str
    #: legacy layers dropped by ``replace``
    replaced: int = 0


def _layer_predicate_type(annotations: Mapping[str, str], payload: bytes | None) -> str | None:
    if PREDICATE_ANNOTATION in annotations:
        return annotations[PREDICATE_ANNOTATION]
    if payload is None:
        return None
    try:
        return parse_statement(parse_envelope(payload).payload).predicate_type
    except SealgateError:
        return None


async def _attach_legacy(
    client: RegistryClient,
    store: Reference,
    digest: Digest,
    envelope: bytes,
    predicate_type: str,
    replace: bool,
) -> tuple[str, int]:
    tag_ref = store.with_tag(attachment_tag(digest, "att"))
    try:
        current = await client.get_manifest(tag_ref, accept=(OCI_MANIFEST, DOCKER_MANIFEST))
        layers = [
            layer.descriptor for layer in parse_signature_manifest(current, max_layers=client.limits.max_signatures)
        ]
    except ManifestUnknownError:
        layers = []
    new = Descriptor(
        media_type=DSSE_MEDIA_TYPE,
        digest=Digest.of(envelope),
        size=len(envelope),
        annotations={SIGNATURE_ANNOTATION: "", PREDICATE_ANNOTATION: predicate_type},
    )
    dropped = 0
    if replace:
        kept = []
        for layer in layers:
            payload = None
            if PREDICATE_ANNOTATION not in (layer.annotations or {}) and layer.size <= client.limits.max_payload_bytes:
                payload = await client.get_blob(store, layer.digest, max_bytes=client.limits.max_payload_bytes)
            if _layer_predicate_type(layer.annotations or {}, payload) == predicate_type:
                dropped += 1
            else:
                kept.append(layer)
        layers = [new, *kept]  # cosign puts the replacement first
    else:
        layers = [*layers, new]
    if len(layers) > client.limits.max_signatures:
        raise LimitExceededError(
            f"{tag_ref} would hold {len(layers)} attestations, the limit is {client.limits.max_signatures}"
        )
    manifest, config = build_signature_manifest(layers)
    await client.push_blob(store, envelope)
    await client.push_blob(store, config)
    await client.put_manifest(tag_ref, manifest, OCI_MANIFEST)
    return str(tag_ref), dropped


async def _list_in_fallback_tag(client: RegistryClient, store: Reference, subject: Digest, entry: Descriptor) -> None:
    """Add ``entry`` to the referrers fallback index (read-modify-write, like ggcr; sorted by digest)."""
    tag_ref = store.with_tag(subject.tag_form)
    try:
        doc = (await client.get_manifest(tag_ref, accept=(OCI_INDEX,))).json()
        manifests = doc.get("manifests") or []
        if not isinstance(manifests, list):
            raise UsageError(f"{tag_ref} holds an index without a manifests list; not touching it")
    except ManifestUnknownError:
        doc, manifests = {"schemaVersion": 2, "mediaType": OCI_INDEX}, []
    if any(isinstance(m, dict) and m.get("digest") == str(entry.digest) for m in manifests):
        return
    manifests = [*manifests, entry.to_dict()]
    manifests.sort(key=lambda m: str(m.get("digest", "")) if isinstance(m, dict) else "")
    index = go_json({**doc, "manifests": manifests})
    await client.put_manifest(tag_ref, index, OCI_INDEX)


async def attach_bundle(
    client: RegistryClient,
    store: Reference,
    subject: Descriptor,
    bundle: bytes,
    predicate_type: str,
    now: datetime,
) -> tuple[str, str]:
    manifest = build_bundle_referrer(bundle, predicate_type, subject, created=now)
    digest = Digest.of(manifest)
    await client.push_blob(store, OCI_EMPTY_JSON)
    await client.push_blob(store, bundle)
    await client.put_manifest(store.with_digest(digest), manifest, OCI_MANIFEST)
    if await client.get_referrers(store, subject.digest) is not None:
        return REFERRERS, str(store.with_digest(digest))
    entry = Descriptor(OCI_MANIFEST, digest, len(manifest), artifact_type=BUNDLE_V03_MEDIA_TYPE)
    await _list_in_fallback_tag(client, store, subject.digest, entry)
    return FALLBACK_TAG, str(store.with_digest(digest))


async def attest_image(
    client: RegistryClient,
    ref: Reference,
    key: SigningKey,
    *,
    predicate: bytes,
    predicate_type: str,
    bundle_format: bool = False,
    replace: bool = False,
    attestation_repository: Reference | None = None,
    now: datetime | None = None,
) -> AttestedImage:
    """Attest ``ref`` (a tag is resolved first) with the ``predicate`` file bytes, typed by ``predicate_type``.

    ``predicate_type`` is a ``--type`` short name (``custom``, ``cyclonedx``, ``spdxjson``, ``slsaprovenance``
    ...) or a predicate type URI. ``attestation_repository`` is cosign's ``COSIGN_REPOSITORY``.
    """
    if bundle_format and replace:
        raise UsageError("--replace applies to the legacy .att layout only, not to --bundle-format")
    moment = now or datetime.now(UTC)
    uri = predicate_type_for(predicate_type)
    subject = await client.resolve(ref)
    if ref.digest is not None and subject.digest != ref.digest:
        raise UsageError(f"registry answered digest {subject.digest} for {ref}")
    statement = build_attestation_statement(
        uri, build_predicate(predicate_type, predicate, now=moment), ref.cosign_identity, subject.digest
    )
    store = attestation_repository or ref
    if bundle_format:
        bundle = build_key_bundle(key, statement)
        layout, location = await attach_bundle(client, store, subject, bundle, uri, moment)
        return AttestedImage(ref.with_digest(subject.digest), subject.digest, uri, statement, bundle, layout, location)
    envelope = sign_envelope(key, statement)
    location, dropped = await _attach_legacy(client, store, subject.digest, envelope, uri, replace)
    _logger.debug("attested %s (%s) at %s", subject.digest, uri, location)
    return AttestedImage(
        ref.with_digest(subject.digest), subject.digest, uri, statement, envelope, LEGACY_ATT, location, dropped
    )
