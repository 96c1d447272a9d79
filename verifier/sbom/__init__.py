"""SBOMs from container images: every package of an image, as CycloneDX.

>>> from verifier.sbom import generate, render
>>> sbom = generate("oci-archive:app.tar", platform="linux/amd64")        # doctest: +SKIP
>>> text = render(sbom, spec_version="1.6", reproducible=True)           # doctest: +SKIP

``generate`` streams the image's layers (registry, OCI layout or archive, ``docker save`` archive, or an
unpacked root file system) through the catalogers and returns an :class:`Sbom`; ``to_bom`` gives the
cyclonedx-python-lib model, ``render`` its JSON.
"""

from ._cyclonedx import SPEC_VERSIONS, render, to_bom
from ._generate import generate
from ._model import Cataloger, Context, Distro, Found, ImageInfo, Package, Sbom

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
    "to_bom",
]
