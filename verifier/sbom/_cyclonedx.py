"""An :class:`Sbom` as a CycloneDX document (cyclonedx-python-lib), deterministic and schema-valid.

Components are sorted by purl and their bom-refs are their purls (a purl found at several paths is one
component with several evidence occurrences). ``reproducible`` fixes what would otherwise change between
runs: the serial number (a UUIDv5 of the image and the component purls) and the timestamp
(``SOURCE_DATE_EPOCH``, else the image's creation time, else the epoch).
"""

from __future__ import annotations

import hashlib
import os
import uuid
from datetime import UTC, datetime
from typing import Any

from cyclonedx.model import Property
from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.component_evidence import ComponentEvidence, Occurrence
from cyclonedx.model.dependency import Dependency
from cyclonedx.model.license import DisjunctiveLicense, License, LicenseExpression
from cyclonedx.model.tool import ToolRepository
from cyclonedx.output.json import JsonV1Dot5, JsonV1Dot6
from cyclonedx.schema import SchemaVersion
from packageurl import PackageURL

from verifier import __version__

from ._model import Distro, ImageInfo, Package, Sbom
from ._spdx import is_expression, is_supported_id

__all__ = ["SPEC_VERSIONS", "render", "to_bom"]

SPEC_VERSIONS = {"1.6": SchemaVersion.V1_6, "1.5": SchemaVersion.V1_5}
_WRITERS = {"1.6": JsonV1Dot6, "1.5": JsonV1Dot5}


def _licenses(names: tuple[str, ...]) -> list[License]:
    """One expression alone, or any number of single licences (CycloneDX allows never both)."""
    if len(names) == 1 and not is_supported_id(names[0]) and is_expression(names[0]):
        return [LicenseExpression(names[0])]
    return [DisjunctiveLicense(id=n) if is_supported_id(n) else DisjunctiveLicense(name=n) for n in names]


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
    image_purl = None
    if image.digest:
        repository, _, last = image.name.rpartition("/")
        qualifiers = {"repository_url": image.name} if repository else {}
        if image.architecture:
            qualifiers["arch"] = image.architecture
        image_purl = PackageURL(type="oci", name=last.lower(), version=image.digest, qualifiers=qualifiers)
    return Component(
        name=image.name,
        version=image.digest or image.image_id,
        type=ComponentType.CONTAINER,
        bom_ref="image",
        purl=image_purl,
        properties=properties,
    )


def _timestamp(image: ImageInfo) -> datetime:
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "")
    if epoch.isdigit():
        return datetime.fromtimestamp(int(epoch), UTC)
    if image.created:
        try:
            stamp = datetime.fromisoformat(image.created.replace("Z", "+00:00"))
            return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)
        except ValueError:
            pass
    return datetime.fromtimestamp(0, UTC)


def to_bom(sbom: Sbom, *, reproducible: bool = False) -> Bom:
    """The CycloneDX model of ``sbom``."""
    groups: dict[str, list[Package]] = {}
    for package in sbom.packages:
        groups.setdefault(package.purl, []).append(package)
    components = [_component(groups[key]) for key in sorted(groups)]
    if sbom.distro is not None:
        components.append(_os_component(sbom.distro))
    # in the library's own order (type, group, name, version, bom-ref), so its sorted sets find them sorted
    components.sort(key=lambda c: (str(c.type), c.group or "", c.name, c.version or "", str(c.bom_ref.value)))
    image = _image_component(sbom.image, sbom.layers)
    tools = ToolRepository(components=[Component(name="sealgate", version=__version__, type=ComponentType.APPLICATION)])
    metadata = BomMetaData(tools=tools, component=image)
    if reproducible:
        seed = hashlib.sha256("\n".join([sbom.image.digest or sbom.image.image_id or "", *sorted(groups)]).encode())
        metadata.timestamp = _timestamp(sbom.image)
        bom = Bom(
            components=components, metadata=metadata, serial_number=uuid.UUID(bytes=seed.digest()[:16], version=5)
        )
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


def render(sbom: Sbom, *, spec_version: str = "1.6", reproducible: bool = False) -> str:
    """CycloneDX JSON text of ``sbom`` (``spec_version`` 1.6 or 1.5), ending with a newline."""
    writer = _WRITERS[spec_version](to_bom(sbom, reproducible=reproducible))
    return writer.output_as_string(indent=2) + "\n"
