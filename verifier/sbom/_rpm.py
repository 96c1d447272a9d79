"""RPM packages: the SQLite database (``var/lib/rpm/rpmdb.sqlite``, ``usr/lib/sysimage/rpm/rpmdb.sqlite``) of
Fedora 33+, RHEL 9+, CentOS Stream 9+ and their relatives.

Each row of its ``Packages`` table is an RPM header blob (index entries then a data store); read are NAME,
VERSION, RELEASE, EPOCH, ARCH, LICENSE and SOURCERPM (kept as ``upstream``). ``gpg-pubkey`` entries are not
packages and are skipped. NOT read: the BerkeleyDB ``Packages`` file (RHEL/CentOS 8 and older) and the ndb
``Packages.db`` (SUSE); when one is present the SBOM carries a warning that its packages are missing.
"""

from __future__ import annotations

import sqlite3
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from ._licenses import spdx
from ._model import Context, Found, Package, purl

__all__ = ["Rpm", "parse_header"]

_SQLITE = ("var/lib/rpm/rpmdb.sqlite", "usr/lib/sysimage/rpm/rpmdb.sqlite")
_UNREAD = {
    "var/lib/rpm/Packages": "BerkeleyDB",
    "usr/lib/sysimage/rpm/Packages": "BerkeleyDB",
    "var/lib/rpm/Packages.db": "ndb",
    "usr/lib/sysimage/rpm/Packages.db": "ndb",
}
_TAGS = {1000: "name", 1001: "version", 1002: "release", 1003: "epoch", 1014: "license", 1022: "arch", 1044: "source"}
_STRING, _INT32, _I18N = 6, 4, 9
_MAX_ENTRIES = 100_000
_MAX_ROWS = 200_000


@dataclass(frozen=True, slots=True)
class _Record:
    name: str
    version: str
    release: str
    epoch: int | None
    arch: str
    license: str
    source: str


@dataclass(frozen=True, slots=True)
class _Unread:
    format: str


def parse_header(blob: bytes) -> dict[str, object] | None:
    """The tags sealgate reads from one RPM header blob, or ``None`` when it is malformed."""
    try:
        count, size = struct.unpack_from(">II", blob, 0)
    except struct.error:
        return None
    store = 8 + 16 * count
    if count > _MAX_ENTRIES or store + size > len(blob):
        return None
    values: dict[str, object] = {}
    for i in range(count):
        tag, kind, offset, items = struct.unpack_from(">IIII", blob, 8 + 16 * i)
        field = _TAGS.get(tag)
        if field is None or offset >= size:
            continue
        at = store + offset
        if kind in (_STRING, _I18N):
            end = blob.find(b"\0", at, store + size)
            if end < 0:
                return None
            values[field] = blob[at:end].decode("utf-8", "replace")
        elif kind == _INT32 and items >= 1 and at + 4 <= store + size:
            values[field] = struct.unpack_from(">i", blob, at)[0]
    return values


def _read_database(data: bytes | bytearray, path: str, context: Context) -> tuple[_Record, ...]:
    connection = sqlite3.connect(":memory:")
    try:
        connection.deserialize(data)
        rows = connection.execute("SELECT blob FROM Packages LIMIT ?", (_MAX_ROWS,)).fetchall()
    except sqlite3.Error as exc:
        context.warn(f"{path}: not a readable rpm database ({str(exc)[:80]}); skipped")
        return ()
    finally:
        connection.close()
    records = []
    for number, (blob,) in enumerate(rows, 1):
        header = parse_header(blob) if isinstance(blob, bytes) else None
        if header is None or not header.get("name") or not header.get("version"):
            context.warn(f"{path}: package {number} has an unreadable header; skipped")
            continue
        if header["name"] == "gpg-pubkey":
            continue
        epoch = header.get("epoch")
        records.append(
            _Record(
                str(header["name"]),
                str(header["version"]),
                str(header.get("release", "")),
                epoch if isinstance(epoch, int) else None,
                str(header.get("arch", "")),
                str(header.get("license", "")),
                str(header.get("source", "")),
            )
        )
    return tuple(records)


class Rpm:
    name = "rpm"
    magic = b""

    def wants(self, path: str, size: int, executable: bool) -> bool:
        return path in _SQLITE or path in _UNREAD

    def extract(self, path: str, data: bytes | bytearray, context: Context) -> object | None:
        if path in _UNREAD:
            return _Unread(_UNREAD[path])
        return _read_database(data, path, context)

    def catalog(self, found: Sequence[Found], context: Context) -> list[Package]:
        distro = context.distro
        namespace = distro.id if distro is not None else "redhat"
        qualifier = distro.qualifier if distro is not None else ""
        packages = []
        for item in found:
            if isinstance(item.result, _Unread):
                context.warn(
                    f"/{item.path}: {item.result.format} rpm databases are not read; their packages are not in the SBOM"
                )
                continue
            if not isinstance(item.result, tuple):
                continue
            for r in item.result:
                version = f"{r.version}-{r.release}" if r.release else r.version
                licence = spdx(r.license) if r.license else None
                qualifiers = {"arch": r.arch, "distro": qualifier, "upstream": r.source}
                if r.epoch:
                    qualifiers["epoch"] = str(r.epoch)
                packages.append(
                    Package(
                        name=r.name,
                        version=f"{r.epoch}:{version}" if r.epoch else version,
                        purl=purl("rpm", r.name, version, namespace=namespace, qualifiers=qualifiers),
                        path=item.path,
                        layer=item.layer,
                        licenses=(licence,) if licence else (),
                        properties=(("sealgate:rpm:sourcerpm", r.source),) if r.source else (),
                    )
                )
        return packages
