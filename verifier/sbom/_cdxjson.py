"""An :class:`Sbom` as CycloneDX JSON text, written directly (no cyclonedx-python-lib on the hot path).

The text is what cyclonedx-python-lib writes for :func:`verifier.sbom.to_bom`'s model, byte for byte (a test
compares the two and validates this text against the library's strict schema), at a fraction of the cost: the
library validates the model, discriminates bom-refs and round-trips it through JSON, and importing it alone
takes longer than reading a small image. What both share lives here: components grouped by purl, their order,
the reproducible serial number and timestamp.

The layout follows the library's: keys in alphabetical order (``$schema``, ``bomFormat`` and ``specVersion``
last), properties sorted by (name, value), occurrences by bom-ref, licences with an id before those with a
name, components by (type, group, name, version, bom-ref) with an absent group or version last, empty lists
and absent values left out, two-space indentation, non-ASCII escaped.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from packageurl import PackageURL

from verifier import __version__
from verifier.errors import UsageError

from ._model import Distro, ImageInfo, Package, Sbom
from ._spdx import is_expression, is_supported_id

__all__ = [
    "SPEC_VERSIONS",
    "component_order",
    "group_packages",
    "image_purl",
    "license_kinds",
    "render",
    "serial_number",
    "timestamp",
]

SPEC_VERSIONS = ("1.6", "1.5")
TOOL_NAME = "sealgate"

#: one JSON object as the writer builds it
_Json = dict[str, Any]


def group_packages(sbom: Sbom) -> dict[str, list[Package]]:
    """Packages by purl (a purl found at several paths is one component), in purl order."""
    groups: dict[str, list[Package]] = {}
    for package in sbom.packages:
        groups.setdefault(package.purl, []).append(package)
    return {key: groups[key] for key in sorted(groups)}


def component_order(kind: str, group: str | None, name: str, version: str | None, bom_ref: str) -> tuple[Any, ...]:
    """The library's component order: type, group, name, version, bom-ref; an absent group or version last."""
    return (kind, group is None, group or "", name, version is None, version or "", bom_ref)


def license_kinds(names: tuple[str, ...]) -> tuple[str | None, list[tuple[str, str]]]:
    """One expression alone, or single licences as ``("id"|"name", text)`` (CycloneDX allows never both)."""
    if len(names) == 1 and not is_supported_id(names[0]) and is_expression(names[0]):
        return names[0], []
    return None, [("id", n) if is_supported_id(n) else ("name", n) for n in names]


def image_purl(image: ImageInfo) -> PackageURL | None:
    """``pkg:oci/NAME@DIGEST?repository_url=..&arch=..`` of an image known by its manifest digest."""
    if not image.digest:
        return None
    repository, _, last = image.name.rpartition("/")
    qualifiers = {"repository_url": image.name} if repository else {}
    if image.architecture:
        qualifiers["arch"] = image.architecture
    return PackageURL(type="oci", name=last.lower(), version=image.digest, qualifiers=qualifiers)


def serial_number(sbom: Sbom, purls: Iterable[str]) -> uuid.UUID:
    """The reproducible serial number: a UUIDv5-shaped hash of the image and the sorted component purls."""
    seed = hashlib.sha256("\n".join([sbom.image.digest or sbom.image.image_id or "", *sorted(purls)]).encode())
    return uuid.UUID(bytes=seed.digest()[:16], version=5)


def timestamp(image: ImageInfo) -> datetime:
    """The reproducible timestamp: ``SOURCE_DATE_EPOCH``, else the image's creation time, else the epoch."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "")
    if epoch.isdigit():
        try:
            return datetime.fromtimestamp(int(epoch), UTC)
        except (ValueError, OverflowError, OSError):  # past the year 9999 (or past what the platform converts)
            raise UsageError(f"SOURCE_DATE_EPOCH={epoch[:30]} is not a time before the year 10000") from None
    if image.created:
        try:
            stamp = datetime.fromisoformat(image.created.replace("Z", "+00:00"))
            return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)
        except ValueError:
            pass
    return datetime.fromtimestamp(0, UTC)


def _properties(pairs: Iterable[tuple[str, str]]) -> list[_Json]:
    return [{"name": name, "value": value} for name, value in sorted(set(pairs))]


def _evidence(owner: str, paths: Iterable[str]) -> _Json:
    refs = sorted({f"{owner}#/{path}": "/" + path for path in paths}.items())
    return {"occurrences": [{"bom-ref": ref, "location": location} for ref, location in refs]}


def _licenses(names: tuple[str, ...]) -> list[_Json]:
    expression, single = license_kinds(names)
    if expression is not None:
        return [{"expression": expression}]
    # the library's order: licences with an id (by id) before those with only a name (by name)
    ordered = sorted(set(single), key=lambda kv: (kv[0] != "id", kv[1]))
    return [{"license": {kind: text}} for kind, text in ordered]


def _add(target: _Json, key: str, value: object) -> None:
    if value is not None and value != []:
        target[key] = value


def _component(group: list[Package]) -> tuple[tuple[Any, ...], _Json]:
    first = group[0]
    kind = "application" if first.kind == "application" else "library"
    version = first.version or None
    properties = [("sealgate:layer", first.layer)] if first.layer else []
    properties += first.properties
    out: _Json = {"bom-ref": first.purl, "evidence": _evidence(first.purl, (p.path for p in group))}
    _add(out, "group", first.group)
    _add(out, "licenses", _licenses(first.licenses))
    out["name"] = first.name
    _add(out, "properties", _properties(properties))
    out["purl"] = PackageURL.from_string(first.purl).to_string()
    out["type"] = kind
    _add(out, "version", version)
    return component_order(kind, first.group, first.name, version, first.purl), out


def _os_component(distro: Distro) -> tuple[tuple[Any, ...], _Json]:
    ref = f"os:{distro.qualifier}"
    version = distro.version_id or None
    out: _Json = {"bom-ref": ref, "description": distro.pretty_name, "evidence": _evidence(ref, [distro.path])}
    out["name"] = distro.id
    _add(out, "properties", _properties([("sealgate:layer", distro.layer)] if distro.layer else []))
    out["type"] = "operating-system"
    _add(out, "version", version)
    return component_order("operating-system", None, distro.id, version, ref), out


def _image_component(image: ImageInfo, layers: list[str]) -> _Json:
    properties = []
    if image.platform:
        properties.append(("sealgate:image:platform", image.platform))
    if image.image_id:
        properties.append(("sealgate:image:id", image.image_id))
    properties.append(("sealgate:image:source", image.source))
    properties += [(f"sealgate:image:layer:{i}", d) for i, d in enumerate(layers)]
    out: _Json = {"bom-ref": "image", "name": image.name, "properties": _properties(properties)}
    purl = image_purl(image)
    _add(out, "purl", purl.to_string() if purl is not None else None)
    out["type"] = "container"
    _add(out, "version", image.digest or image.image_id)
    return out


def render(sbom: Sbom, *, spec_version: str = "1.6", reproducible: bool = False) -> str:
    """CycloneDX JSON text of ``sbom`` (``spec_version`` 1.6 or 1.5), ending with a newline."""
    if spec_version not in SPEC_VERSIONS:
        raise ValueError(f"CycloneDX {spec_version!r}: not one of {', '.join(SPEC_VERSIONS)}")
    groups = group_packages(sbom)
    keyed = [_component(group) for group in groups.values()]
    if sbom.distro is not None:
        keyed.append(_os_component(sbom.distro))
    keyed.sort(key=lambda pair: pair[0])
    components = [component for _, component in keyed]
    refs = sorted(component["bom-ref"] for component in components)
    if reproducible:
        serial, stamp = serial_number(sbom, groups), timestamp(sbom.image)
    else:
        serial, stamp = uuid.uuid4(), datetime.now(tz=UTC)
    dependencies = [{"ref": ref} for ref in refs]
    dependencies.append({"dependsOn": refs, "ref": "image"} if refs else {"ref": "image"})
    dependencies.sort(key=lambda d: str(d["ref"]))
    document: _Json = {}
    _add(document, "components", components)
    document["dependencies"] = dependencies
    document["metadata"] = {
        "component": _image_component(sbom.image, sbom.layers),
        "timestamp": stamp.isoformat(),
        "tools": {"components": [{"name": TOOL_NAME, "type": "application", "version": __version__}]},
    }
    document["serialNumber"] = serial.urn
    document["version"] = 1
    document["$schema"] = f"http://cyclonedx.org/schema/bom-{spec_version}.schema.json"
    document["bomFormat"] = "CycloneDX"
    document["specVersion"] = spec_version
    return json.dumps(document, indent=2) + "\n"
