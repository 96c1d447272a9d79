"""Debian and Ubuntu packages: ``var/lib/dpkg/status`` and distroless ``var/lib/dpkg/status.d/*``.

Reads: each paragraph whose ``Status`` ends in ``installed`` (``status.d`` files have no ``Status``: all are
installed), ``Package``, ``Version``, ``Architecture``, ``Source`` (kept as the purl's ``upstream`` qualifier
and as properties, so vulnerability matchers find source-package advisories); licences from
``usr/share/doc/<package>/copyright`` when it is machine-readable (DEP-5); the layer that installed each
package from ``var/lib/dpkg/info/<package>[:arch].list``. Not read: ``available``, the file lists' contents.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ._licenses import spdx
from ._model import Context, Found, Package, purl

__all__ = ["Dpkg", "copyright_licenses", "parse_status"]

_STATUS = "var/lib/dpkg/status"
_STATUS_D = "var/lib/dpkg/status.d/"
_INFO = "var/lib/dpkg/info/"
_DOC = "usr/share/doc/"
_BLANK = re.compile(r"\n[ \t]*\n")
_FIELDS = re.compile(r"^(Package|Status|Version|Architecture|Source):[ \t]*(.*?)[ \t]*$", re.MULTILINE)
_LICENSE = re.compile(r"^License:[ \t]*(\S.*?)[ \t]*$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class _Record:
    name: str
    version: str
    arch: str
    source: str
    source_version: str


@dataclass(frozen=True, slots=True)
class _Status:
    records: tuple[_Record, ...]


@dataclass(frozen=True, slots=True)
class _Copyright:
    package: str
    licenses: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Installed:
    package: str


def _paragraphs(text: str) -> list[dict[str, str]]:
    """The fields sealgate reads from each paragraph (a regular expression per paragraph: status files are
    megabytes of descriptions and file lists that need no parsing)."""
    blocks = (b for b in _BLANK.split(text.replace("\r\n", "\n")) if b.strip())
    return [dict(_FIELDS.findall(block)) for block in blocks]


def parse_status(text: str, path: str, context: Context, *, need_status: bool = True) -> list[_Record]:
    """Installed packages of a dpkg status file; an unusable paragraph is a warning, the rest still counts."""
    records = []
    for number, fields in enumerate(_paragraphs(text), 1):
        name, version = fields.get("Package", ""), fields.get("Version", "")
        status = fields.get("Status")
        if need_status or status is not None:
            if status is None or status.split()[-1:] != ["installed"]:
                if status is None:
                    context.warn(f"{path}: paragraph {number} ({name or 'no Package'}) has no Status; skipped")
                continue
        if not name or not version or any(c.isspace() for c in name + version):
            context.warn(f"{path}: paragraph {number} lacks a usable Package or Version; skipped")
            continue
        source, source_version = name, version
        if fields.get("Source"):
            words = fields["Source"].split()
            source = words[0]
            if len(words) > 1 and words[1].startswith("(") and words[1].endswith(")"):
                source_version = words[1][1:-1]
        records.append(_Record(name, version, fields.get("Architecture", ""), source, source_version))
    return records


def copyright_licenses(text: str) -> tuple[str, ...]:
    """The licences a DEP-5 copyright file names (its ``License:`` short names), SPDX where recognisable."""
    head = text.lstrip()[:400].lower()
    if not head.startswith(("format:", "format-specification:")) or not ("copyright-format" in head or "dep5" in head):
        return ()
    found: list[str] = []
    for value in _LICENSE.findall(text):
        name = spdx(value)
        if name and name not in found:
            found.append(name)
    return tuple(found)


class Dpkg:
    name = "dpkg"
    magic = b""

    def wants(self, path: str, size: int, executable: bool) -> bool:
        if path == _STATUS:
            return True
        if path.startswith(_STATUS_D):
            return not path.endswith(".md5sums")
        if path.startswith(_INFO):
            return path.endswith(".list")
        return path.startswith(_DOC) and path.endswith("/copyright") and path.count("/") == 4

    def extract(self, path: str, data: bytes | bytearray, context: Context) -> object | None:
        if path.startswith(_INFO):
            return _Installed(posixpath.basename(path)[: -len(".list")].split(":", 1)[0])
        text = data.decode("utf-8", "replace")
        if path.startswith(_DOC):
            licenses = copyright_licenses(text)
            return _Copyright(path.split("/")[3], licenses) if licenses else None
        return _Status(tuple(parse_status(text, path, context, need_status=path == _STATUS)))

    def catalog(self, found: Sequence[Found], context: Context) -> list[Package]:
        licenses = {f.result.package: f.result.licenses for f in found if isinstance(f.result, _Copyright)}
        layers = {f.result.package: f.layer for f in found if isinstance(f.result, _Installed)}
        distro = context.distro
        namespace = distro.id if distro is not None and distro.id in ("debian", "ubuntu") else "debian"
        qualifier = distro.qualifier if distro is not None else ""
        packages: list[Package] = []
        for item in found:
            if not isinstance(item.result, _Status):
                continue
            for record in item.result.records:
                upstream = ""
                if record.source != record.name or record.source_version != record.version:
                    upstream = record.source
                    if record.source_version != record.version:
                        upstream += f"@{record.source_version}"
                properties = [
                    ("sealgate:deb:source", record.source),
                    ("sealgate:deb:source-version", record.source_version),
                ]
                packages.append(
                    Package(
                        name=record.name,
                        version=record.version,
                        purl=purl(
                            "deb",
                            record.name,
                            record.version,
                            namespace=namespace,
                            qualifiers={"arch": record.arch, "distro": qualifier, "upstream": upstream},
                        ),
                        path=item.path,
                        layer=layers.get(record.name, item.layer),
                        licenses=licenses.get(record.name, ()),
                        properties=tuple(properties),
                    )
                )
        return packages
