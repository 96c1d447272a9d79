"""Rust binaries built with cargo-auditable: the ``.dep-v0`` ELF section, zlib-compressed JSON listing every
crate compiled in (``{"packages": [{"name", "version", "source", "kind", "root"}, ...]}``).

Build-time-only crates (``"kind": "build"``) are left out, as cargo-audit does; the root crate is the
application. Not read: Rust binaries without cargo-auditable data (plain Rust binaries carry no crate list).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import orjson

from ._elf import ELF_MAGIC, parse_elf
from ._model import Context, Found, Package, purl

__all__ = ["Rust", "parse_audit_data"]

_MAX_JSON = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Crate:
    name: str
    version: str
    source: str
    root: bool


def parse_audit_data(data: bytes | bytearray, path: str, context: Context) -> tuple[Crate, ...] | None:
    """The crates of a cargo-auditable binary, or ``None`` when it has no (readable) ``.dep-v0`` section; entries
    without a name and version are counted in one warning."""
    elf = parse_elf(data)
    section = elf.section(".dep-v0") if elf is not None else None
    if section is None:
        return None
    try:
        inflater = zlib.decompressobj()
        raw = inflater.decompress(section, _MAX_JSON)
        if inflater.unconsumed_tail:
            return None
        body = orjson.loads(raw)
    except (zlib.error, orjson.JSONDecodeError):
        return None
    packages = body.get("packages") if isinstance(body, dict) else None
    if not isinstance(packages, list):
        return None
    crates = []
    unusable = 0
    for entry in packages:
        if not isinstance(entry, dict) or entry.get("kind", "runtime") == "build":
            unusable += not isinstance(entry, dict)
            continue
        name, version = entry.get("name"), entry.get("version")
        if isinstance(name, str) and isinstance(version, str) and name and version:
            crates.append(Crate(name, version, str(entry.get("source", "")), bool(entry.get("root", False))))
        else:
            unusable += 1
    if unusable:
        context.warn(f"{path}: {unusable} cargo-auditable entries without a name and version; skipped")
    return tuple(crates)


class Rust:
    name = "rust"
    magic = ELF_MAGIC

    def wants(self, path: str, size: int, executable: bool) -> bool:
        return executable and size >= 1024

    def extract(self, path: str, data: bytes | bytearray, context: Context) -> object | None:
        if not data.startswith(ELF_MAGIC):
            return None
        elf = parse_elf(data)
        if elf is None or all(s.name != ".dep-v0" for s in elf.sections):
            return None
        crates = parse_audit_data(data, path, context)
        if crates is None:
            context.warn(f"{path}: cargo-auditable section present but unreadable; skipped")
        return crates

    def catalog(self, found: Sequence[Found], context: Context) -> list[Package]:
        packages = []
        for item in found:
            if not isinstance(item.result, tuple):
                continue
            for crate in item.result:
                packages.append(
                    Package(
                        name=crate.name,
                        version=crate.version,
                        purl=purl("cargo", crate.name, crate.version),
                        path=item.path,
                        layer=item.layer,
                        properties=(("sealgate:cargo:source", crate.source),) if crate.source else (),
                        kind="application" if crate.root else "library",
                    )
                )
        return packages
