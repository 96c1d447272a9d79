"""Manifests, indexes and configs of an image, as pure functions over their JSON bytes.

An index is resolved to one manifest by platform: the one asked for (``os/arch[/variant]``), else
``linux/amd64``, else the only real one (buildkit's ``unknown/unknown`` attestation manifests do not count).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

import orjson

from verifier.errors import DigestMismatchError, ImageInvalidError, LimitExceededError, UsageError
from verifier.limits import Limits
from verifier.oci import INDEX_TYPES

__all__ = [
    "ImageConfig",
    "Layer",
    "Platform",
    "choose_manifest",
    "parse_config",
    "parse_json",
    "parse_manifest",
    "check_digest",
    "sha256_digest",
    "verify_blob",
]

_DIGEST = re.compile(r"^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$")

DEFAULT_PLATFORM = "linux/amd64"


@dataclass(frozen=True, slots=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    @classmethod
    def parse(cls, text: str) -> Platform:
        parts = text.split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise UsageError(f"--platform {text!r}: expected os/arch or os/arch/variant, e.g. linux/arm64/v8")
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else "")

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


@dataclass(frozen=True, slots=True)
class Layer:
    """One layer: the digest it is stored under, its media type, and (from the config) its diff-id."""

    digest: str
    media_type: str
    size: int
    diff_id: str | None = None
    #: where an archive keeps it (``docker save``'s ``Layers`` entry); blobs of OCI layouts go by digest
    member: str = ""


@dataclass(frozen=True, slots=True)
class ImageConfig:
    os: str
    architecture: str
    variant: str
    created: str | None
    diff_ids: tuple[str, ...]


def parse_json(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise ImageInvalidError(f"{what} is not valid JSON") from None
    if not isinstance(value, dict):
        raise ImageInvalidError(f"{what} is not a JSON object")
    return value


def check_digest(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise ImageInvalidError(f"{what}: digest missing")
    if not _DIGEST.match(value):
        raise ImageInvalidError(f"{what}: invalid digest {value[:80]!r}")
    return value


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def verify_blob(data: bytes, digest: str, what: str) -> None:
    """Raise unless ``data`` hashes to ``digest`` (already validated by :func:`_digest`)."""
    algorithm, _, hex_ = digest.partition(":")
    got = hashlib.new(algorithm, data).hexdigest()
    if got != hex_:
        raise DigestMismatchError(f"{what}: content hashes to {algorithm}:{got}, not {digest}")


def is_index(data: dict[str, Any]) -> bool:
    return data.get("mediaType") in INDEX_TYPES or ("manifests" in data and "layers" not in data)


def _platform_of(entry: dict[str, Any]) -> Platform | None:
    platform = entry.get("platform")
    if not isinstance(platform, dict):
        return None
    return Platform(
        str(platform.get("os", "")), str(platform.get("architecture", "")), str(platform.get("variant", ""))
    )


def choose_manifest(
    index: dict[str, Any], wanted: str | None, what: str, limits: Limits
) -> tuple[str, Platform | None]:
    """The digest of the manifest of ``index`` for ``wanted`` (or the default), and the platform chosen."""
    entries = index.get("manifests")
    if not isinstance(entries, list) or not entries:
        raise ImageInvalidError(f"{what}: index lists no manifests")
    if len(entries) > limits.max_layers:
        raise LimitExceededError(f"{what}: index lists {len(entries)} manifests, above the limit max_layers")
    images = [
        (e, _platform_of(e))
        for e in entries
        if isinstance(e, dict) and (_platform_of(e) or Platform("", "")).os not in ("unknown",)
    ]
    if not images:
        raise ImageInvalidError(f"{what}: index lists no image manifests")
    available = ", ".join(sorted({str(p) for _, p in images if p is not None})) or "no platforms"
    matches: list[tuple[dict[str, Any], Platform | None]]
    if wanted is not None:
        want = Platform.parse(wanted)
        matches = [
            (e, p)
            for e, p in images
            if p is not None
            and p.os == want.os
            and p.architecture == want.architecture
            and (not want.variant or p.variant == want.variant)
        ]
        if not matches:
            raise ImageInvalidError(f"{what}: no image for platform {want} in the index (it has {available})")
    else:
        default = Platform.parse(DEFAULT_PLATFORM)
        matches = [
            (e, p) for e, p in images if p is not None and (p.os, p.architecture) == (default.os, default.architecture)
        ]
        if not matches:
            if len(images) != 1:
                raise ImageInvalidError(
                    f"{what}: no {DEFAULT_PLATFORM} image in the index; choose one with --platform ({available})"
                )
            matches = images
    entry, platform = matches[0]
    return check_digest(entry.get("digest"), f"{what} manifest entry"), platform


def parse_manifest(data: dict[str, Any], what: str, limits: Limits) -> tuple[str, list[Layer]]:
    """The config digest and the layers of an image manifest (OCI or Docker schema 2)."""
    if data.get("schemaVersion") != 2:
        raise ImageInvalidError(f"{what}: not an image manifest (schemaVersion is not 2)")
    config = data.get("config")
    if not isinstance(config, dict):
        raise ImageInvalidError(f"{what}: no config descriptor")
    layers = data.get("layers")
    if not isinstance(layers, list):
        raise ImageInvalidError(f"{what}: no layers list")
    if len(layers) > limits.max_layers:
        raise LimitExceededError(f"{what}: {len(layers)} layers, above the limit max_layers of {limits.max_layers}")
    out = []
    for i, layer in enumerate(layers):
        if not isinstance(layer, dict):
            raise ImageInvalidError(f"{what}: layer {i} is not a descriptor")
        size = layer.get("size", 0)
        out.append(
            Layer(
                check_digest(layer.get("digest"), f"{what} layer {i}"),
                str(layer.get("mediaType", "")),
                size if isinstance(size, int) and size >= 0 else 0,
            )
        )
    return check_digest(config.get("digest"), f"{what} config"), out


def parse_config(data: bytes, what: str) -> ImageConfig:
    body = parse_json(data, what)
    rootfs = body.get("rootfs")
    diff_ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    ids = tuple(check_digest(d, f"{what} diff_id") for d in diff_ids) if isinstance(diff_ids, list) else ()
    created = body.get("created")
    return ImageConfig(
        os=str(body.get("os", "")),
        architecture=str(body.get("architecture", "")),
        variant=str(body.get("variant", "")),
        created=created if isinstance(created, str) else None,
        diff_ids=ids,
    )


def with_diff_ids(layers: list[Layer], config: ImageConfig) -> list[Layer]:
    if len(config.diff_ids) != len(layers):
        return layers
    return [Layer(la.digest, la.media_type, la.size, d) for la, d in zip(layers, config.diff_ids, strict=True)]
