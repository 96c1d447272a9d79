"""Java archives: ``*.jar``, ``*.war``, ``*.ear`` (and Jenkins' ``*.jpi``/``*.hpi``), with archives nested in them.

Reads every ``META-INF/maven/<group>/<artifact>/pom.properties`` (one component each: shaded and fat jars
list what they bundle); licences from the ``pom.xml`` beside it (``<licenses><license><name>``); for an
archive without pom.properties, ``META-INF/MANIFEST.MF`` (``Implementation-Title``/``-Version``/``-Vendor-Id``,
else ``Bundle-SymbolicName``/``Bundle-Version``). Nested archives are opened in memory up to
``limits.max_archive_depth``; entry sizes and compression ratios are bounded (zip bombs). Not read: class
files, ``module-info``, Gradle metadata, or archives not named as above.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass

from ._licenses import spdx
from ._model import Context, Found, Package, purl

__all__ = ["Java", "scan_archive"]

_SUFFIXES = (".jar", ".war", ".ear", ".jpi", ".hpi")
_LICENSE_NAME = re.compile(rb"<license>\s*<name>\s*([^<]{1,200}?)\s*</name>", re.DOTALL)
_MAX_METADATA = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Artifact:
    group: str
    artifact: str
    version: str
    #: where in the file it was found: ``app.war!/WEB-INF/lib/x.jar``
    location: str
    licenses: tuple[str, ...]
    from_manifest: bool = False


def _properties(text: str) -> dict[str, str]:
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "!")) and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def _manifest(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    last = ""
    for line in text.replace("\r\n", "\n").split("\n"):
        if line.startswith(" ") and last:
            values[last] += line[1:]
        elif ":" in line:
            key, _, value = line.partition(":")
            last = key.strip()
            values.setdefault(last, value.strip())
        elif not line.strip() and values:
            break  # the main section ends at the first blank line
    return values


def _read(archive: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int, ratio: int) -> bytes | None:
    if info.file_size > cap or info.file_size > max(info.compress_size, 1) * ratio:
        return None
    with archive.open(info) as handle:
        data = handle.read(cap + 1)
    return data if len(data) <= cap else None


def scan_archive(data: bytes | bytearray, location: str, context: Context, depth: int = 1) -> list[Artifact]:
    """Every artifact in the zip ``data`` and in the archives nested in it (depth-bounded)."""
    limits = context.limits
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        context.warn(f"{location}: not a readable zip archive; skipped")
        return []
    if len(entries) > limits.max_archive_entries:
        context.warn(f"{location}: more than the limit max_archive_entries of {limits.max_archive_entries}; skipped")
        return []
    ratio = limits.max_decompression_ratio
    found: list[Artifact] = []
    manifest: dict[str, str] = {}
    try:
        by_name = {info.filename: info for info in entries}
        for info in entries:
            name = info.filename
            if name.startswith("META-INF/maven/") and name.endswith("/pom.properties"):
                raw = _read(archive, info, _MAX_METADATA, ratio)
                if raw is None:
                    continue
                values = _properties(raw.decode("utf-8", "replace"))
                group, artifact, version = values.get("groupId"), values.get("artifactId"), values.get("version")
                if group and artifact and version:
                    pom = by_name.get(name[: -len("pom.properties")] + "pom.xml")
                    pom_raw = _read(archive, pom, _MAX_METADATA, ratio) if pom is not None else None
                    licenses = _pom_licenses(pom_raw) if pom_raw else ()
                    found.append(Artifact(group, artifact, version, location, licenses))
                else:
                    context.warn(f"{location}!/{name}: no groupId, artifactId and version; skipped")
            elif name == "META-INF/MANIFEST.MF":
                raw = _read(archive, info, _MAX_METADATA, ratio)
                manifest = _manifest(raw.decode("utf-8", "replace")) if raw else {}
            elif name.lower().endswith(_SUFFIXES) and not info.is_dir():
                nested = f"{location}!/{name}"
                if depth >= limits.max_archive_depth:
                    context.warn(f"{nested}: nested deeper than the limit max_archive_depth; not read")
                    continue
                raw = _read(archive, info, limits.max_file_read_bytes, ratio)
                if raw is None:
                    context.warn(f"{nested}: too large or too compressed to read; skipped")
                    continue
                found.extend(scan_archive(raw, nested, context, depth + 1))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, RuntimeError) as exc:
        context.warn(f"{location}: unreadable zip entry ({str(exc)[:80]}); rest of the archive skipped")
    if not any(a.location == location for a in found):
        from_manifest = _from_manifest(manifest, location)
        if from_manifest is not None:
            found.append(from_manifest)
    return found


def _pom_licenses(raw: bytes) -> tuple[str, ...]:
    out: list[str] = []
    for match in _LICENSE_NAME.finditer(raw):
        value = spdx(match.group(1).decode("utf-8", "replace"))
        if value and value not in out:
            out.append(value)
    return tuple(out)


def _from_manifest(values: dict[str, str], location: str) -> Artifact | None:
    version = values.get("Implementation-Version") or values.get("Bundle-Version")
    symbolic = values.get("Bundle-SymbolicName", "").split(";", 1)[0].strip()
    name = values.get("Implementation-Title") or symbolic
    if not version or not name:
        return None
    group = values.get("Implementation-Vendor-Id") or (symbolic.rpartition(".")[0] if symbolic else "") or name
    artifact = symbolic.rpartition(".")[2] if symbolic and not values.get("Implementation-Title") else name
    return Artifact(group, artifact, version, location, (), from_manifest=True)


class Java:
    name = "java"
    magic = b""

    def wants(self, path: str, size: int, executable: bool) -> bool:
        return path.lower().endswith(_SUFFIXES)

    def extract(self, path: str, data: bytes | bytearray, context: Context) -> object | None:
        found = scan_archive(data, path, context)
        return tuple(found) if found else None

    def catalog(self, found: Sequence[Found], context: Context) -> list[Package]:
        packages = []
        for item in found:
            if not isinstance(item.result, tuple):
                continue
            for artifact in item.result:
                properties = [("sealgate:java:archive", artifact.location)]
                if artifact.from_manifest:
                    properties.append(("sealgate:java:from", "MANIFEST.MF"))
                packages.append(
                    Package(
                        name=artifact.artifact,
                        version=artifact.version,
                        purl=purl("maven", artifact.artifact, artifact.version, namespace=artifact.group),
                        path=item.path,
                        layer=item.layer,
                        licenses=artifact.licenses,
                        properties=tuple(properties),
                        group=artifact.group,
                    )
                )
        return packages
