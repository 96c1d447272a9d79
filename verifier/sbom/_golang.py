"""Go binaries: the build information the Go linker embeds (``go version -m`` reads the same).

Reads the ``.go.buildinfo`` section of executable ELF files (or, in a binary without section headers, the
``\\xff Go buildinf:`` blob wherever it is): the toolchain version, the main module (``mod``), every
dependency (``dep``) and their replacements (``=>``). Both layouts are read: Go 1.18+ writes the two strings
inline (varint length prefixed); older linkers store pointers to Go string headers, followed through the ELF
sections. A binary built outside module mode (``path`` without ``mod``, as Debian builds its Go packages)
yields its main package without a version, and the standard library. Not read: Mach-O and PE binaries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from ._elf import ELF_MAGIC, Elf, parse_elf
from ._model import Context, Found, Package, purl

__all__ = ["Golang", "parse_buildinfo"]

MAGIC = b"\xff Go buildinf:"
_FLAG_BIG_ENDIAN = 0x1
_FLAG_INLINE = 0x2
_MAX_STRING = 1024 * 1024
Bytes = bytes | bytearray


@dataclass(frozen=True, slots=True)
class Module:
    path: str
    version: str
    kind: str  # "main", "dep", or "path" (main package without module information)
    #: the directory a ``replace`` directive put in the module's place (its version is then unknown)
    directory: str = ""


@dataclass(frozen=True, slots=True)
class BuildInfo:
    go_version: str
    modules: tuple[Module, ...]


def _uvarint(data: Bytes, at: int) -> tuple[int, int] | None:
    value = shift = 0
    for i in range(at, min(at + 10, len(data))):
        byte = data[i]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, i + 1
        shift += 7
    return None


def _inline_strings(blob: Bytes) -> tuple[Bytes, Bytes] | None:
    out = []
    at = 32
    for _ in range(2):
        decoded = _uvarint(blob, at)
        if decoded is None:
            return None
        length, at = decoded
        if length > _MAX_STRING or at + length > len(blob):
            return None
        out.append(blob[at : at + length])
        at += length
    return out[0], out[1]


def _pointer_strings(blob: Bytes, elf: Elf, big_endian: bool, size: int) -> tuple[Bytes, Bytes] | None:
    order: Literal["big", "little"] = "big" if big_endian else "little"

    def pointer(raw: Bytes | None, at: int) -> int | None:
        if raw is None or len(raw) < at + size:
            return None
        return int.from_bytes(raw[at : at + size], order)

    def string(address: int | None) -> Bytes | None:
        if address is None:
            return None
        header = elf.read(address, 2 * size)
        data, length = pointer(header, 0), pointer(header, size)
        if data is None or length is None or length > _MAX_STRING:
            return None
        return elf.read(data, length) if length else b""

    version, modinfo = string(pointer(blob, 16)), string(pointer(blob, 16 + size))
    return (version, modinfo) if version is not None and modinfo is not None else None


def parse_buildinfo(data: Bytes) -> BuildInfo | None:
    """The build information of an ELF Go binary, or ``None`` when it has none (or it is unreadable)."""
    elf = parse_elf(data)
    section = elf.section(".go.buildinfo") if elf is not None else None
    start = section.find(MAGIC) if section is not None else -1
    if section is not None and start >= 0:
        blob = section[start:]
    else:
        at = data.find(MAGIC)
        if at < 0:
            return None
        blob = data[at : at + 64 + 2 * _MAX_STRING]
    if len(blob) < 32:
        return None
    size, flags = blob[14], blob[15]
    if flags & _FLAG_INLINE:
        strings = _inline_strings(blob)
    elif size in (4, 8) and elf is not None:
        strings = _pointer_strings(blob, elf, bool(flags & _FLAG_BIG_ENDIAN), size)
    else:
        return None
    if strings is None:
        return None
    version, modinfo = strings
    if len(modinfo) >= 33 and modinfo[-17] == ord("\n"):
        modinfo = modinfo[16:-16]
    else:
        modinfo = b""
    return BuildInfo(version.decode("utf-8", "replace"), _modules(modinfo.decode("utf-8", "replace")))


def _modules(text: str) -> tuple[Module, ...]:
    modules: list[Module] = []
    path_only: str | None = None
    for line in text.split("\n"):
        fields = line.split("\t")
        if fields[0] == "path" and len(fields) >= 2:
            path_only = fields[1]
        elif fields[0] in ("mod", "dep") and len(fields) >= 3:
            modules.append(Module(fields[1], fields[2], "main" if fields[0] == "mod" else "dep"))
        elif fields[0] == "=>" and len(fields) >= 3 and modules:
            replaced = modules[-1]
            if _is_directory(fields[1]):  # code from a local directory: still that module, at no known version
                modules[-1] = Module(replaced.path, "", replaced.kind, directory=fields[1])
            else:
                modules[-1] = Module(fields[1], fields[2], replaced.kind)
    if path_only is not None and not any(m.kind == "main" for m in modules):
        modules.insert(0, Module(path_only, "", "path"))
    return tuple(modules)


def _is_directory(path: str) -> bool:
    """Whether a ``replace`` target is a file system path rather than a module path (as ``go mod`` tells them
    apart: relative to the module with ``./`` or ``../``, or absolute, on Unix or Windows)."""
    return path in (".", "..") or path.startswith(("./", "../", "/", ".\\", "..\\", "\\")) or path[1:3] in (":\\", ":/")


def _golang_purl(path: str, version: str) -> str:
    namespace, _, name = path.rpartition("/")
    return purl("golang", name, version or None, namespace=namespace or None)


class Golang:
    name = "go"
    magic = ELF_MAGIC

    def wants(self, path: str, size: int, executable: bool) -> bool:
        return executable and size >= 1024

    def extract(self, path: str, data: bytes | bytearray, context: Context) -> object | None:
        if not data.startswith(ELF_MAGIC):
            return None
        elf = parse_elf(data)
        if elf is not None and elf.section(".go.buildinfo") is None:
            return None  # section headers without Go's: not a Go binary (no need to search its bytes)
        if elf is None and MAGIC not in data:
            return None  # no section headers (stripped with strip --strip-all -R or packed): look for the blob
        info = parse_buildinfo(data)
        if info is None:
            context.warn(f"{path}: Go build information present but unreadable; skipped")
        return info

    def catalog(self, found: Sequence[Found], context: Context) -> list[Package]:
        packages = []
        for item in found:
            info = item.result
            if not isinstance(info, BuildInfo):
                continue
            toolchain = ("sealgate:go:toolchain", info.go_version)
            for module in info.modules:
                replaced = (("sealgate:go:replaced-by", module.directory),) if module.directory else ()
                packages.append(
                    Package(
                        name=module.path,
                        version=module.version,
                        purl=_golang_purl(module.path, module.version),
                        path=item.path,
                        layer=item.layer,
                        properties=(toolchain, *replaced),
                        kind="library" if module.kind == "dep" else "application",
                    )
                )
            if info.go_version.startswith("go"):
                version = info.go_version[2:].split(" ", 1)[0]
                packages.append(
                    Package(
                        name="stdlib",
                        version=info.go_version.split(" ", 1)[0],
                        purl=purl("golang", "stdlib", version),
                        path=item.path,
                        layer=item.layer,
                        properties=(toolchain,),
                    )
                )
        return packages
