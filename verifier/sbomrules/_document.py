"""SBOM documents as SBOM rules read them: CycloneDX JSON (1.4-1.6) and SPDX 2.3 JSON, as in-toto predicates.

Every byte is hostile: the reader walks nested components iteratively (no recursion), stops at
``max_sbom_components`` and ``max_sbom_depth``, counts distinct licence expressions against
``max_sbom_licence_chars`` (parsing them is what licence rules pay for), and turns anything that is not the
expected shape into :class:`SbomInvalidError` with one line saying where. Values it does not need are never looked at.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from verifier.errors import PayloadInvalidError, Reason
from verifier.limits import DEFAULT_LIMITS, Limits
from verifier.sbomrules._purl import Purl, parse_purl

__all__ = ["SbomComponent", "SbomDocument", "SbomInvalidError", "read_sbom"]


class SbomInvalidError(PayloadInvalidError):
    """An SBOM predicate that does not parse, or breaks a limit."""

    code = Reason.SBOM_INVALID


@dataclass(frozen=True, slots=True)
class SbomComponent:
    name: str
    version: str | None
    purl: Purl | None
    #: the SPDX licence expression the component states (None: it states none)
    licenses: str | None
    #: the distribution itself (CycloneDX ``type: operating-system``, SPDX ``primaryPackagePurpose:
    #: OPERATING-SYSTEM``), which sealgate, syft and Trivy list beside its packages: no licence rule is about it
    operating_system: bool = False


@dataclass(frozen=True, slots=True)
class SbomDocument:
    format: str  # cyclonedx | spdx
    components: tuple[SbomComponent, ...]
    timestamp: dt.datetime | None


def read_sbom(predicate: object, *, limits: Limits = DEFAULT_LIMITS) -> SbomDocument:
    """Read a CycloneDX or SPDX JSON document (a mapping, or its JSON text/bytes)."""
    doc = _loaded(predicate, limits.max_sbom_bytes)
    max_components, max_depth = limits.max_sbom_components, limits.max_sbom_depth
    licences = _Licences(limits.max_sbom_field_chars, limits.max_sbom_licence_chars)
    if doc.get("bomFormat") == "CycloneDX":
        components = tuple(_cyclonedx(doc, max_components, max_depth, limits.max_sbom_field_chars, licences))
        return SbomDocument("cyclonedx", components, _time(_get(doc, "metadata", {}), "timestamp"))
    if isinstance(doc.get("spdxVersion"), str):
        components = tuple(_spdx(doc, max_components, limits.max_sbom_field_chars, licences))
        return SbomDocument("spdx", components, _time(_get(doc, "creationInfo", {}), "created"))
    raise SbomInvalidError("SBOM is neither CycloneDX (bomFormat) nor SPDX (spdxVersion) JSON")


def _loaded(predicate: object, max_bytes: int) -> Mapping[str, Any]:
    if isinstance(predicate, str):
        predicate = predicate.encode("utf-8", "surrogatepass")
    if isinstance(predicate, bytes | bytearray):
        if len(predicate) > max_bytes:
            raise SbomInvalidError(f"SBOM is {len(predicate)} bytes, above the {max_bytes}-byte limit max_sbom_bytes")
        try:
            predicate = orjson.loads(predicate)
        except orjson.JSONDecodeError as exc:
            raise SbomInvalidError(f"SBOM is not valid JSON ({str(exc)[:80]})") from None
    if not isinstance(predicate, Mapping):
        raise SbomInvalidError("SBOM is not a JSON object")
    return predicate


def _get(doc: Mapping[str, Any], key: str, default: Any) -> Any:
    value = doc.get(key, default)
    if value is None:
        return default
    if not isinstance(value, type(default)):
        raise SbomInvalidError(f"SBOM field {key!r} is a {type(value).__name__}, not a {type(default).__name__}")
    return value


def _time(doc: Mapping[str, Any], key: str) -> dt.datetime | None:
    text = doc.get(key)
    if not isinstance(text, str):
        return None
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise SbomInvalidError(f"SBOM {key} {text[:40]!r} is not an RFC 3339 time") from None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def _purl(text: object, where: str, cap: int) -> Purl | None:
    if text is None or text == "":
        return None
    if not isinstance(text, str) or len(text) > cap:
        raise SbomInvalidError(f"{where}: purl is not a string of at most {cap} characters (max_sbom_field_chars)")
    try:
        return parse_purl(text)
    except ValueError as exc:
        raise SbomInvalidError(f"{where}: purl {text[:100]!r} is invalid ({exc})") from None


def _text(value: object, where: str, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise SbomInvalidError(f"{where}: {field} is not a string")
    return value


def _cyclonedx_licenses(entries: object, where: str) -> str | None:
    if entries is None:
        return None
    if not isinstance(entries, list):
        raise SbomInvalidError(f"{where}: licenses is not a list")
    parts: list[str] = []
    for entry in entries:
        if not isinstance(entry, Mapping):
            raise SbomInvalidError(f"{where}: a licenses entry is not an object")
        if isinstance(entry.get("expression"), str):
            parts.append(entry["expression"])
            continue
        licence = entry.get("license")
        if isinstance(licence, Mapping):
            named = licence.get("id") or licence.get("name")
            if isinstance(named, str) and named:
                parts.append(named)
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else " AND ".join(f"({p})" for p in parts)


class _Licences:
    """Bounds the licence expressions of one SBOM: each at most ``max_sbom_field_chars``, the distinct ones at
    most ``max_sbom_licence_chars`` in all (a repeated expression is parsed once, so it counts once)."""

    def __init__(self, cap: int, total_cap: int) -> None:
        self.cap, self.total_cap = cap, total_cap
        self.seen: set[str] = set()
        self.total = 0

    def __call__(self, expression: str | None, where: str) -> str | None:
        if expression is None or expression in self.seen:
            return expression
        if len(expression) > self.cap:
            message = f"{where}: licence expression is longer than {self.cap} characters (max_sbom_field_chars)"
            raise SbomInvalidError(message)
        self.total += len(expression)
        if self.total > self.total_cap:
            message = f"SBOM licence expressions total more than {self.total_cap} characters (max_sbom_licence_chars)"
            raise SbomInvalidError(message)
        self.seen.add(expression)
        return expression


def _cyclonedx(
    doc: Mapping[str, Any], limit: int, max_depth: int, cap: int, licences: _Licences
) -> Iterator[SbomComponent]:
    stack: list[tuple[list[Any], int]] = [(_get(doc, "components", []), 1)]
    seen = 0
    while stack:
        items, depth = stack.pop()
        if depth > max_depth:
            raise SbomInvalidError(f"SBOM components nest deeper than {max_depth} levels")
        for i, item in enumerate(items):
            seen += 1
            if seen > limit:
                raise SbomInvalidError(f"SBOM lists more than {limit} components (max_sbom_components)")
            if not isinstance(item, Mapping):
                raise SbomInvalidError(f"component {i} at depth {depth} is not an object")
            where = f"component {str(item.get('name'))[:100]!r}"
            name = _text(item.get("name"), where, "name") or ""
            yield SbomComponent(
                name,
                _text(item.get("version"), where, "version"),
                _purl(item.get("purl"), where, cap),
                licences(_cyclonedx_licenses(item.get("licenses"), where), where),
                operating_system=item.get("type") == "operating-system",
            )
            nested = item.get("components")
            if nested is not None:
                if not isinstance(nested, list):
                    raise SbomInvalidError(f"{where}: components is not a list")
                stack.append((nested, depth + 1))


_NO_LICENCE = frozenset({"NOASSERTION", "NONE", ""})


def _spdx(doc: Mapping[str, Any], limit: int, cap: int, licences: _Licences) -> Iterator[SbomComponent]:
    packages = _get(doc, "packages", [])
    if len(packages) > limit:
        raise SbomInvalidError(f"SBOM lists {len(packages)} packages, more than {limit} (max_sbom_components)")
    for i, package in enumerate(packages):
        if not isinstance(package, Mapping):
            raise SbomInvalidError(f"package {i} is not an object")
        where = f"package {str(package.get('name'))[:100]!r}"
        purl = None
        refs = package.get("externalRefs") or []
        if not isinstance(refs, list):
            raise SbomInvalidError(f"{where}: externalRefs is not a list")
        for ref in refs:
            if isinstance(ref, Mapping) and ref.get("referenceType") == "purl":
                purl = _purl(ref.get("referenceLocator"), where, cap)
                break
        licence = None
        for field in ("licenseConcluded", "licenseDeclared"):
            value = _text(package.get(field), where, field)
            if value is not None and value.strip() not in _NO_LICENCE:
                licence = value
                break
        yield SbomComponent(
            _text(package.get("name"), where, "name") or "",
            _text(package.get("versionInfo"), where, "versionInfo"),
            purl,
            licences(licence, where),
            operating_system=package.get("primaryPackagePurpose") == "OPERATING-SYSTEM",
        )
