"""What the registry hands back: descriptors and manifests (bytes kept exactly as received)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from verifier.errors import InvalidDigestError, RegistryProtocolError

from ._digest import Digest

__all__ = ["Descriptor", "Manifest"]


@dataclass(frozen=True, slots=True)
class Descriptor:
    """An OCI content descriptor."""

    media_type: str
    digest: Digest
    size: int
    annotations: Mapping[str, str] | None = None
    artifact_type: str | None = None

    def to_dict(self) -> dict[str, object]:
        """The OCI JSON form: ``mediaType``, ``digest``, ``size`` [, ``annotations``] [, ``artifactType``]."""
        out: dict[str, object] = {"mediaType": self.media_type, "digest": str(self.digest), "size": self.size}
        if self.annotations is not None:
            out["annotations"] = dict(self.annotations)
        if self.artifact_type is not None:
            out["artifactType"] = self.artifact_type
        return out

    @classmethod
    def from_dict(cls, data: object, what: str = "descriptor") -> Descriptor:
        """Parse an OCI JSON descriptor; ``RegistryProtocolError`` naming ``what`` when it is malformed."""
        if not isinstance(data, dict):
            raise RegistryProtocolError(f"{what}: not a JSON object")
        media_type, digest, size = data.get("mediaType"), data.get("digest"), data.get("size")
        if not isinstance(media_type, str) or not media_type:
            raise RegistryProtocolError(f"{what}: missing or invalid mediaType")
        if not isinstance(digest, str):
            raise RegistryProtocolError(f"{what}: missing or invalid digest")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise RegistryProtocolError(f"{what}: missing or invalid size")
        try:
            parsed = Digest.parse(digest)
        except InvalidDigestError as exc:
            raise RegistryProtocolError(f"{what}: {exc}") from None
        annotations = data.get("annotations")
        if annotations is not None and not (
            isinstance(annotations, dict) and all(isinstance(v, str) for v in annotations.values())
        ):
            raise RegistryProtocolError(f"{what}: annotations must map strings to strings")
        artifact_type = data.get("artifactType")
        if artifact_type is not None and not isinstance(artifact_type, str):
            raise RegistryProtocolError(f"{what}: artifactType must be a string")
        return cls(media_type, parsed, size, annotations, artifact_type)


@dataclass(frozen=True, slots=True)
class Manifest:
    """A manifest or index exactly as fetched; ``digest`` has been checked against ``raw``."""

    raw: bytes
    media_type: str
    digest: Digest

    def json(self) -> dict[str, Any]:
        """The parsed JSON object (``RegistryProtocolError`` when it is not one)."""
        try:
            data = orjson.loads(self.raw)
        except orjson.JSONDecodeError:
            raise RegistryProtocolError(f"manifest {self.digest} is not valid JSON") from None
        if not isinstance(data, dict):
            raise RegistryProtocolError(f"manifest {self.digest} is not a JSON object")
        return data

    @property
    def descriptor(self) -> Descriptor:
        """A descriptor pointing at this manifest."""
        return Descriptor(self.media_type, self.digest, len(self.raw))
