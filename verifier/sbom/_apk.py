"""Alpine packages: ``lib/apk/db/installed``.

Reads each blank-line separated record's ``P:`` (name), ``V:`` (version), ``A:`` (arch), ``L:`` (licence) and
``o:`` (origin, the source package: kept as the purl's ``upstream`` and a property). Not read: the file lists
(``F:``/``R:``), ``world``, repository indexes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ._licenses import spdx
from ._model import Context, Found, Package, purl

__all__ = ["Apk", "parse_installed"]

_PATH = "lib/apk/db/installed"


@dataclass(frozen=True, slots=True)
class _Record:
    name: str
    version: str
    arch: str
    license: str
    origin: str


def parse_installed(text: str, path: str, context: Context) -> tuple[_Record, ...]:
    records = []
    for number, block in enumerate(text.split("\n\n"), 1):
        fields: dict[str, str] = {}
        for line in block.split("\n"):
            if len(line) >= 2 and line[1] == ":":
                fields.setdefault(line[0], line[2:].strip())
        if not fields:
            continue
        name, version = fields.get("P", ""), fields.get("V", "")
        if not name or not version:
            context.warn(f"{path}: record {number} lacks P: or V:; skipped")
            continue
        records.append(_Record(name, version, fields.get("A", ""), fields.get("L", ""), fields.get("o", "")))
    return tuple(records)


class Apk:
    name = "apk"
    magic = b""

    def wants(self, path: str, size: int, executable: bool) -> bool:
        return path == _PATH

    def extract(self, path: str, data: bytes | bytearray, context: Context) -> object | None:
        return parse_installed(data.decode("utf-8", "replace"), path, context)

    def catalog(self, found: Sequence[Found], context: Context) -> list[Package]:
        distro = context.distro
        namespace = distro.id if distro is not None else "alpine"
        qualifier = distro.qualifier if distro is not None else ""
        packages = []
        for item in found:
            if not isinstance(item.result, tuple):
                continue
            for record in item.result:
                licence = spdx(record.license) if record.license else None
                upstream = record.origin if record.origin and record.origin != record.name else ""
                packages.append(
                    Package(
                        name=record.name,
                        version=record.version,
                        purl=purl(
                            "apk",
                            record.name,
                            record.version,
                            namespace=namespace,
                            qualifiers={"arch": record.arch, "distro": qualifier, "upstream": upstream},
                        ),
                        path=item.path,
                        layer=item.layer,
                        licenses=(licence,) if licence else (),
                        properties=(("sealgate:apk:origin", record.origin),) if record.origin else (),
                    )
                )
        return packages
