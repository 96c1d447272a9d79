"""What cosign material found for an image is: an :class:`Attachment`, its layout and its kind (FORMATS.md §1, §6).

Pure values: ``verifier.attachments`` finds them in a registry, the engine and the checks here judge them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from verifier.cosign._layout import DSSE_MEDIA_TYPE, SIMPLE_SIGNING_MEDIA_TYPE
from verifier.errors import SealgateError
from verifier.oci import Digest

__all__ = [
    "BUNDLE_CONTENT_ANNOTATION",
    "BUNDLE_MEDIA_TYPE_PREFIX",
    "BUNDLE_PREDICATE_ANNOTATION",
    "BUNDLE_V03_MEDIA_TYPE",
    "COSIGN_SIGN_PREDICATE",
    "FALLBACK_TAG",
    "LAYOUTS",
    "LEGACY_ATT",
    "LEGACY_SIG",
    "REFERRERS",
    "Attachment",
    "is_bundle_media_type",
]

LEGACY_SIG: Final = "legacy-sig"
LEGACY_ATT: Final = "legacy-att"
REFERRERS: Final = "referrers"
FALLBACK_TAG: Final = "fallback-tag"
LAYOUTS = (LEGACY_SIG, LEGACY_ATT, REFERRERS, FALLBACK_TAG)

BUNDLE_MEDIA_TYPE_PREFIX = "application/vnd.dev.sigstore.bundle"
BUNDLE_V03_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
BUNDLE_CONTENT_ANNOTATION = "dev.sigstore.bundle.content"
BUNDLE_PREDICATE_ANNOTATION = "dev.sigstore.bundle.predicateType"
#: the predicate type of the statement ``cosign sign`` (v3, bundle format) signs
COSIGN_SIGN_PREDICATE = "https://sigstore.dev/cosign/sign/v1"


def is_bundle_media_type(media_type: str) -> bool:
    return media_type.startswith(BUNDLE_MEDIA_TYPE_PREFIX)


@dataclass(frozen=True)
class Attachment:
    """One signature or attestation found for an image, with where it came from.

    ``payload`` is the layer blob exactly as stored (a simple-signing payload, a DSSE envelope, or for the
    bundle layouts the bundle JSON), or the error that kept it from being read. ``bundle`` is the bundle
    JSON for sigstore-bundle layers (the same bytes as ``payload``), else None. ``annotations`` are the
    layer's annotations (legacy layouts) or the referring manifest's (bundles).
    """

    layout: str
    media_type: str
    digest: Digest
    payload: bytes | SealgateError
    annotations: Mapping[str, str]
    bundle: bytes | None = None
    #: the manifest the layer was found in (the ``.sig``/``.att`` manifest or the referrer)
    manifest: Digest | None = field(default=None, compare=False)

    @property
    def ok(self) -> bool:
        return not isinstance(self.payload, SealgateError)

    @property
    def is_bundle(self) -> bool:
        return is_bundle_media_type(self.media_type)

    @property
    def is_attestation(self) -> bool:
        """True for DSSE layers and for bundles that do not (claim to) hold a ``cosign sign`` statement."""
        if self.media_type == DSSE_MEDIA_TYPE:
            return True
        if self.is_bundle:
            return self.annotations.get(BUNDLE_PREDICATE_ANNOTATION) != COSIGN_SIGN_PREDICATE
        return False

    @property
    def is_signature(self) -> bool:
        """True for simple-signing layers and for bundles that do not (claim to) hold an attestation."""
        if self.media_type == SIMPLE_SIGNING_MEDIA_TYPE:
            return True
        if self.is_bundle:
            predicate = self.annotations.get(BUNDLE_PREDICATE_ANNOTATION)
            return predicate is None or predicate == COSIGN_SIGN_PREDICATE
        return False

    def error(self) -> SealgateError | None:
        return self.payload if isinstance(self.payload, SealgateError) else None

    def to_dict(self) -> dict[str, Any]:
        error = self.error()
        return {
            "layout": self.layout,
            "mediaType": self.media_type,
            "digest": str(self.digest),
            "manifest": str(self.manifest) if self.manifest else None,
            "error": None if error is None else {"code": error.code, "message": error.message},
        }
