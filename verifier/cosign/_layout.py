"""cosign's tag-based signature storage: the ``<alg>-<hex>.sig`` OCI manifest (FORMATS.md §1).

Pure functions only: building the exact bytes cosign (go-containerregistry) writes, and reading the layers
back out of a manifest fetched by someone else.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from verifier.errors import (
    InvalidDigestError,
    LimitExceededError,
    RegistryProtocolError,
    SignatureInvalidError,
)
from verifier.oci import (
    DSSE_MEDIA_TYPE,
    OCI_CONFIG,
    OCI_MANIFEST,
    SIMPLE_SIGNING_MEDIA_TYPE,
    Descriptor,
    Digest,
    Manifest,
)

__all__ = [
    "BUNDLE_ANNOTATION",
    "CERTIFICATE_ANNOTATION",
    "CHAIN_ANNOTATION",
    "DSSE_MEDIA_TYPE",
    "SIGNATURE_ANNOTATION",
    "SIMPLE_SIGNING_MEDIA_TYPE",
    "TIMESTAMP_ANNOTATION",
    "SignatureLayer",
    "attachment_tag",
    "build_signature_config",
    "build_signature_manifest",
    "parse_signature_manifest",
]

SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
CERTIFICATE_ANNOTATION = "dev.sigstore.cosign/certificate"
CHAIN_ANNOTATION = "dev.sigstore.cosign/chain"
BUNDLE_ANNOTATION = "dev.sigstore.cosign/bundle"
TIMESTAMP_ANNOTATION = "dev.sigstore.cosign/rfc3161timestamp"

_ZERO_TIME = "0001-01-01T00:00:00Z"


def attachment_tag(digest: Digest, suffix: str = "sig") -> str:
    """The tag cosign stores attachments of ``digest`` under: ``sha256-<hex>.sig`` (``.att``, ``.sbom``)."""
    return f"{digest.tag_form}.{suffix}"


@dataclass(frozen=True, slots=True)
class SignatureLayer:
    """One layer of a ``.sig`` manifest: the descriptor of a payload blob plus cosign's annotations."""

    descriptor: Descriptor

    @property
    def annotations(self) -> Mapping[str, str]:
        return self.descriptor.annotations or {}

    @property
    def media_type(self) -> str:
        return self.descriptor.media_type

    def signature(self) -> bytes:
        """The raw signature from the base64 annotation (raises when absent or not base64)."""
        text = self.annotations.get(SIGNATURE_ANNOTATION)
        if text is None:
            raise SignatureInvalidError(f"layer {self.descriptor.digest} has no {SIGNATURE_ANNOTATION} annotation")
        try:
            raw = base64.b64decode(text.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise SignatureInvalidError(
                f"layer {self.descriptor.digest}: signature annotation is not valid base64"
            ) from None
        if not raw:
            raise SignatureInvalidError(f"layer {self.descriptor.digest}: signature annotation is empty")
        return raw

    @property
    def certificate(self) -> str | None:
        return self.annotations.get(CERTIFICATE_ANNOTATION) or None

    @property
    def chain(self) -> str | None:
        return self.annotations.get(CHAIN_ANNOTATION) or None

    @property
    def bundle(self) -> str | None:
        return self.annotations.get(BUNDLE_ANNOTATION) or None


def _compact(obj: Any) -> bytes:
    # Go's encoding/json: no spaces, insertion order kept (callers build dicts in Go's field order).
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def build_signature_config(layer_digests: Sequence[Digest]) -> bytes:
    """The config blob ggcr writes for a ``.sig`` image: empty platform, one zero-time history entry per layer."""
    return _compact(
        {
            "architecture": "",
            "created": _ZERO_TIME,
            "history": [{"created": _ZERO_TIME} for _ in layer_digests],
            "os": "",
            "rootfs": {"type": "layers", "diff_ids": [str(d) for d in layer_digests]},
            "config": {},
        }
    )


def _descriptor_json(desc: Descriptor) -> dict[str, Any]:
    out: dict[str, Any] = {"mediaType": desc.media_type, "size": desc.size, "digest": str(desc.digest)}
    if desc.annotations:
        out["annotations"] = dict(desc.annotations)
    return out


def build_signature_manifest(layers: Sequence[Descriptor]) -> tuple[bytes, bytes]:
    """Return ``(manifest, config)`` bytes for a ``.sig`` manifest holding ``layers``, byte-identical to cosign."""
    config = build_signature_config([layer.digest for layer in layers])
    manifest = _compact(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "size": len(config), "digest": str(Digest.of(config))},
            "layers": [_descriptor_json(layer) for layer in layers],
        }
    )
    return manifest, config


def _parse_descriptor(raw: Any, where: str) -> Descriptor:
    if not isinstance(raw, dict):
        raise RegistryProtocolError(f"{where} is not a JSON object")
    media_type, digest, size = raw.get("mediaType"), raw.get("digest"), raw.get("size")
    if not isinstance(media_type, str) or not isinstance(digest, str):
        raise RegistryProtocolError(f"{where} lacks mediaType or digest")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise RegistryProtocolError(f"{where} has no valid size")
    annotations = raw.get("annotations")
    if annotations is not None and not (
        isinstance(annotations, dict) and all(isinstance(v, str) for v in annotations.values())
    ):
        raise RegistryProtocolError(f"{where} has annotations that are not strings")
    try:
        parsed = Digest.parse(digest)
    except InvalidDigestError as exc:
        raise RegistryProtocolError(f"{where}: {exc}") from None
    return Descriptor(media_type=media_type, digest=parsed, size=size, annotations=annotations)


def parse_signature_manifest(manifest: Manifest, *, max_layers: int) -> list[SignatureLayer]:
    """The layers of a fetched ``.sig``/``.att`` manifest, in order, at most ``max_layers`` of them."""
    doc = manifest.json()
    layers = doc.get("layers")
    if not isinstance(layers, list):
        raise RegistryProtocolError(f"signature manifest {manifest.digest} has no layers list")
    if len(layers) > max_layers:
        raise LimitExceededError(
            f"signature manifest {manifest.digest} has {len(layers)} layers, more than the limit of {max_layers}"
        )
    return [
        SignatureLayer(_parse_descriptor(layer, f"layer {i} of {manifest.digest}")) for i, layer in enumerate(layers)
    ]
