"""Apply an image's layers in order, giving each cataloger the files it wants, and keep what survives.

Each layer's tar is read once, as a stream. Paths are normalised (``./`` and a leading ``/`` dropped; an entry
whose path climbs out of the root with ``..`` is skipped with a warning). A file a later layer replaces, and
whatever a whiteout (``.wh.NAME``) or an opaque directory (``.wh..wh..opq``) of a later layer hides, is dropped,
so the SBOM reports the image's final file system. Hard links are resolved within their layer; a link to a
file not in the layer is ignored. Symbolic links are never followed: nothing is read through them.
"""

from __future__ import annotations

import posixpath
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from verifier.errors import LimitExceededError

from ._model import Cataloger, Context, Found
from ._tar import DIRECTORY, HARDLINK, REGULAR, TarEntry, TarReader

__all__ = ["LayerWalk", "normalise"]


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


_WHITEOUT = ".wh."
_OPAQUE = ".wh..wh..opq"
#: warnings about individual entries kept per image (then one line counting the rest)
_MAX_ENTRY_WARNINGS = 20


def normalise(name: str) -> str | None:
    """An entry name as a root-relative path, or ``None`` when it climbs out of the root (``../x``)."""
    if "\\" not in name and "/." not in name and "//" not in name and not name.startswith((".", "/")):
        return name[:-1] if name.endswith("/") else name  # already plain (most names): nothing to resolve
    parts: list[str] = []
    for part in name.replace("\\", "/").split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                return None
            parts.pop()
            continue
        parts.append(part)
    return "/".join(parts)


@dataclass(slots=True)
class _Kept:
    layer_index: int
    layer: str | None
    results: list[tuple[int, object]]


@dataclass(slots=True)
class LayerWalk:
    """The state of an image being read: results per path, counts against the limits, warnings."""

    catalogers: Sequence[Cataloger]
    context: Context
    files: int = 0
    #: bytes of files handed to catalogers
    bytes_read: int = 0
    #: decompressed bytes of the layers read so far (against ``max_image_bytes``)
    bytes_seen: int = 0
    _kept: dict[str, _Kept] = field(default_factory=dict)
    #: every directory above a kept path (never shrinks: a stale entry only costs one look at the results)
    _dirs: set[str] = field(default_factory=set)
    _entry_warnings: int = 0
    _layer_index: int = -1

    def _warn_entry(self, message: str) -> None:
        self._entry_warnings += 1
        if self._entry_warnings <= _MAX_ENTRY_WARNINGS:
            self.context.warn(message)

    def _wanting(self, path: str, size: int, executable: bool) -> list[int]:
        return [i for i, c in enumerate(self.catalogers) if c.wants(path, size, executable)]

    def _extract(self, path: str, layer: str | None, wanting: list[int], data: bytes | bytearray) -> None:
        results: list[tuple[int, object]] = []
        for i in wanting:
            result = self.catalogers[i].extract(path, data, self.context)
            if result is not None:
                results.append((i, result))
        if results:
            self._keep(path, _Kept(self._layer_index, layer, results))

    def _keep(self, path: str, kept: _Kept) -> None:
        self._kept[path] = kept
        parent = posixpath.dirname(path)
        while parent and parent not in self._dirs:
            self._dirs.add(parent)
            parent = posixpath.dirname(parent)

    def _too_big(self, path: str, size: int, what: str) -> bool:
        cap = self.context.limits.max_file_read_bytes
        if size > cap:
            self._warn_entry(f"{what}: {path} not read: {size} bytes, above the limit max_file_read_bytes of {cap}")
            return True
        return False

    def _count_file(self, what: str) -> None:
        self.files += 1
        cap = self.context.limits.max_image_files
        if self.files > cap:
            raise LimitExceededError(f"{what}: more than the limit max_image_files of {cap} files in the image")

    # --- one layer as a tar stream -----------------------------------------------------------------------

    def tar_layer(self, stream: _Readable, layer: str | None, what: str) -> None:
        """Read one layer's tar (already decompressed) and apply it on top of the layers before."""
        self._layer_index += 1
        whiteouts: set[str] = set()
        opaque: set[str] = set()
        reader = TarReader(stream, what)
        for entry in reader:
            self._count_file(what)
            path = normalise(entry.name)
            if path is None:
                self._warn_entry(f"{what}: entry {entry.name[:200]!r} climbs out of the root; skipped")
                continue
            if not path:
                continue
            directory, slash, base = path.rpartition("/")  # a normalised path: no empty parts
            if base.startswith(_WHITEOUT):
                if base == _OPAQUE:
                    opaque.add(directory)
                else:
                    whiteouts.add(directory + slash + base[len(_WHITEOUT) :])
                continue
            old = self._kept.get(path)
            if old is not None and old.layer_index < self._layer_index:
                del self._kept[path]
            if entry.type != DIRECTORY and path in self._dirs:
                whiteouts.add(path)  # a file or link where lower layers had a directory: its contents are gone
            if entry.type == REGULAR:
                self._tar_file(reader, entry, path, layer, what)
            elif entry.type == HARDLINK:
                self._hard_link(entry.linkname, path, what)
        self._hide(whiteouts, opaque)

    def _tar_file(self, reader: TarReader, entry: TarEntry, path: str, layer: str | None, what: str) -> None:
        size = entry.size
        wanting = self._wanting(path, size, bool(entry.mode & 0o111))
        if wanting and all(self.catalogers[i].magic for i in wanting):
            head = reader.peek(min(size, 8))
            wanting = [i for i in wanting if head.startswith(self.catalogers[i].magic)]
        if not wanting or self._too_big(path, size, what):
            return
        data = bytearray(size)
        reader.read_into(data)
        self.bytes_read += size
        self._extract(path, layer, wanting, data)

    def _hard_link(self, linkname: str, path: str, what: str) -> None:
        target = normalise(linkname)
        kept = self._kept.get(target) if target else None
        if kept is None or kept.layer_index != self._layer_index:
            if target is None:
                self._warn_entry(f"{what}: hard link {path} points out of the root; ignored")
            return
        self._keep(path, _Kept(kept.layer_index, kept.layer, list(kept.results)))

    def _hide(self, whiteouts: set[str], opaque: set[str]) -> None:
        """Drop what lower layers had at (or under) a whiteout, and under an opaque directory."""
        if not whiteouts and not opaque:
            return
        current = self._layer_index
        gone = []
        for path, kept in self._kept.items():
            if kept.layer_index >= current:
                continue
            if path in whiteouts or _under_any(path, whiteouts) or _under_any(path, opaque):
                gone.append(path)
        for path in gone:
            del self._kept[path]

    # --- a directory (``dir:ROOTFS``) --------------------------------------------------------------------

    def file(self, path: str, size: int, mode: int, read: Callable[[int], bytes], what: str) -> None:
        """One file of an unpacked root (``dir:``); ``read(n)`` gives its first ``n`` bytes (all for -1) and is
        called only when the file is wanted."""
        self._count_file(what)
        if not stat.S_ISREG(mode):
            return
        wanting = self._wanting(path, size, bool(mode & 0o111))
        if wanting and all(self.catalogers[i].magic for i in wanting):
            head = read(8)
            wanting = [i for i in wanting if head.startswith(self.catalogers[i].magic)]
        if not wanting or self._too_big(path, size, what):
            return
        data = read(-1)
        self.bytes_read += len(data)
        self._extract(path, None, wanting, data)

    def begin_directory(self) -> None:
        self._layer_index += 1

    # --- the end -----------------------------------------------------------------------------------------

    def found(self) -> list[list[Found]]:
        """Per cataloger (in order), the results that survived every layer, sorted by path."""
        if self._entry_warnings > _MAX_ENTRY_WARNINGS:
            self.context.warn(f"... and {self._entry_warnings - _MAX_ENTRY_WARNINGS} more entry warnings")
        per: list[list[Found]] = [[] for _ in self.catalogers]
        for path in sorted(self._kept):
            kept = self._kept[path]
            for index, result in kept.results:
                per[index].append(Found(path, kept.layer, result))
        return per


def _under_any(path: str, directories: set[str]) -> bool:
    """Whether ``path`` lies strictly under one of ``directories`` (``""`` is the root)."""
    if "" in directories:
        return True
    head = path
    while True:
        head = posixpath.dirname(head)
        if not head:
            return False
        if head in directories:
            return True
