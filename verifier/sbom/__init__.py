"""SBOMs from container images: every package of an image, as CycloneDX.

>>> from verifier.sbom import generate, render
>>> sbom = generate("oci-archive:app.tar", platform="linux/amd64")        # doctest: +SKIP
>>> text = render(sbom, spec_version="1.6", reproducible=True)           # doctest: +SKIP

``generate`` streams the image's layers (registry, OCI layout or archive, ``docker save`` archive, or an
unpacked root file system) through the catalogers and returns an :class:`Sbom`; ``render`` writes its
CycloneDX JSON, and ``to_bom`` gives the cyclonedx-python-lib model of it (that library is imported on the
first use of ``to_bom``, so neither ``generate`` nor ``render`` pays for it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._cdxjson import SPEC_VERSIONS, render
from ._generate import generate
from ._model import Cataloger, Context, Distro, Found, ImageInfo, Package, Sbom
from ._summary import summary

if TYPE_CHECKING:
    from ._cyclonedx import to_bom

__all__ = [
    "SPEC_VERSIONS",
    "Cataloger",
    "Context",
    "Distro",
    "Found",
    "ImageInfo",
    "Package",
    "Sbom",
    "generate",
    "render",
    "summary",
    "to_bom",
]


def __getattr__(name: str) -> Any:
    if name == "to_bom":  # loads cyclonedx-python-lib: only when asked for
        from ._cyclonedx import to_bom

        return to_bom
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
