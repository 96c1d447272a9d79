"""Reader for containers/image's on-disk sigstore signature files (``dir:`` transport ``signature-N``).

Format (vectors/README.md §6a): the bytes ``\\x00sigstore-json\\n`` then JSON
``{"mimeType": ..., "payload": <base64 of the layer blob>, "annotations": {<the OCI layer annotations>}}``.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path

MAGIC = b"\x00sigstore-json\n"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"


@dataclass(frozen=True)
class SigstoreJSONSignature:
    mime_type: str
    payload: bytes
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def signature(self) -> bytes:
        """The raw signature bytes from the cosign signature annotation."""
        return base64.b64decode(self.annotations[SIGNATURE_ANNOTATION], validate=True)


def parse_sigstore_json(raw: bytes) -> SigstoreJSONSignature:
    if not raw.startswith(MAGIC):
        raise ValueError("not a sigstore-json signature file (missing magic prefix)")
    doc = json.loads(raw[len(MAGIC) :])
    if not isinstance(doc, dict):
        raise ValueError("sigstore-json body is not an object")
    mime_type = doc["mimeType"]
    payload = base64.b64decode(doc["payload"], validate=True)
    annotations = doc.get("annotations") or {}
    if not isinstance(mime_type, str) or not isinstance(annotations, dict):
        raise ValueError("sigstore-json fields have the wrong types")
    return SigstoreJSONSignature(mime_type=mime_type, payload=payload, annotations=annotations)


def read_sigstore_json(path: Path) -> SigstoreJSONSignature:
    return parse_sigstore_json(path.read_bytes())
