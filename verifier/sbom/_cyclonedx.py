"""An :class:`Sbom` as the cyclonedx-python-lib model (the ``Bom`` of the Python API). The library's JSON of
this model is what :func:`verifier.sbom.render` writes itself, faster (a test holds the two equal).

Components are sorted by purl and their bom-refs are their purls (a purl found at several paths is one
component with several evidence occurrences). ``reproducible`` fixes what would otherwise change between
runs: the serial number (a UUIDv5 of the image and the component purls) and the timestamp
(``SOURCE_DATE_EPOCH``, else the image's creation time, else the epoch). Importing this module loads the
library (a few hundred milliseconds); ``sealgate sbom`` does not.
"""

from __future__ import annotations

from typing import Any

from cyclonedx.model import Property
from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.component_evidence import ComponentEvidence, Occurrence
from cyclonedx.model.dependency import Dependency
from cyclonedx.model.license import DisjunctiveLicense, License, LicenseExpression
from cyclonedx.model.tool import ToolRepository
from packageurl import PackageURL

from verifier import __version__

from ._cdxjson import TOOL_NAME, component_order, group_packages, image_purl, license_kinds, serial_number, timestamp
from ._model import Distro, ImageInfo, Package, Sbom

__all__ = ["to_bom"]


def _licenses(names: tuple[str, ...]) -> list[License]:
    expression, single = license_kinds(names)
    if expression is not None:
        return [LicenseExpression(expression)]
    return [DisjunctiveLicense(id=text) if kind == "id" else DisjunctiveLicense(name=text) for kind, text in single]


def _occurrence(owner: str, path: str) -> Occurrence:
    # an explicit bom-ref: the library orders occurrences by it first, and an unset one would order at random
    return Occurrence(bom_ref=f"{owner}#/{path}", location="/" + path)


def _component(group: list[Package]) -> Component:
    first = group[0]
    properties = [Property(name="sealgate:layer", value=first.layer)] if first.layer else []
    properties += [Property(name=name, value=value) for name, value in first.properties]
    paths = sorted({p.path for p in group})
    return Component(
        name=first.name,
        version=first.version or None,
        group=first.group,
        type=ComponentType.APPLICATION if first.kind == "application" else ComponentType.LIBRARY,
        purl=PackageURL.from_string(first.purl),
        bom_ref=first.purl,
        licenses=_licenses(first.licenses),
        properties=properties,
        evidence=ComponentEvidence(occurrences=[_occurrence(first.purl, p) for p in paths]),
    )


def _os_component(distro: Distro) -> Component:
    properties = [Property(name="sealgate:layer", value=distro.layer)] if distro.layer else []
    return Component(
        name=distro.id,
        version=distro.version_id or None,
        type=ComponentType.OPERATING_SYSTEM,
        description=distro.pretty_name,
        bom_ref=f"os:{distro.qualifier}",
        properties=properties,
        evidence=ComponentEvidence(occurrences=[_occurrence(f"os:{distro.qualifier}", distro.path)]),
    )


def _image_component(image: ImageInfo, layers: list[str]) -> Component:
    properties = []
    if image.platform:
        properties.append(Property(name="sealgate:image:platform", value=image.platform))
    if image.image_id:
        properties.append(Property(name="sealgate:image:id", value=image.image_id))
    properties.append(Property(name="sealgate:image:source", value=image.source))
    properties += [Property(name=f"sealgate:image:layer:{i}", value=d) for i, d in enumerate(layers)]
    return Component(
        name=image.name,
        version=image.digest or image.image_id,
        type=ComponentType.CONTAINER,
        bom_ref="image",
        purl=image_purl(image),
        properties=properties,
    )


def to_bom(sbom: Sbom, *, reproducible: bool = False) -> Bom:
    """The CycloneDX model of ``sbom``."""
    groups = group_packages(sbom)
    components = [_component(group) for group in groups.values()]
    if sbom.distro is not None:
        components.append(_os_component(sbom.distro))
    # in the library's own order, so its sorted sets find them sorted
    components.sort(key=lambda c: component_order(c.type.value, c.group, c.name, c.version, str(c.bom_ref.value)))
    image = _image_component(sbom.image, sbom.layers)
    tools = ToolRepository(components=[Component(name=TOOL_NAME, version=__version__, type=ComponentType.APPLICATION)])
    metadata = BomMetaData(tools=tools, component=image)
    if reproducible:
        metadata.timestamp = timestamp(sbom.image)
        bom = Bom(components=components, metadata=metadata, serial_number=serial_number(sbom, groups))
    else:
        bom = Bom(components=components, metadata=metadata)
    _dependencies(bom, image, components)
    return bom


def _dependencies(bom: Bom, image: Component, components: list[Component]) -> None:
    """The image contains every component; each component has its (empty) entry, as the library would add.

    Built in one go, and the library's own registration (which it runs again for every component while
    writing, scanning all entries each time: quadratic) is made a set look-up for what is already there.
    """
    root = Dependency(ref=image.bom_ref, dependencies=[Dependency(ref=c.bom_ref) for c in components])
    bom.dependencies = [root, *(Dependency(ref=c.bom_ref) for c in components)]
    known = {image.bom_ref.value, *(c.bom_ref.value for c in components)}
    library = bom.register_dependency

    def register(target: Any, depends_on: Any = None) -> None:
        if depends_on or target.bom_ref.value not in known:
            library(target, depends_on)

    bom.register_dependency = register  # type: ignore[method-assign]
