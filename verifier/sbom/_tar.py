"""A forward-only tar reader for layer streams: ustar, GNU long names (``L``/``K``) and PAX headers (``x``/``g``:
``path``, ``linkpath``, ``size``), with every header checksum verified.

The standard library's :mod:`tarfile` does the same in stream mode, at several times the cost per entry; an
image holds tens of thousands of entries, most of which no cataloger wants, so headers are parsed here with
slicing alone and unwanted data is skipped without being copied.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from verifier.errors import ImageInvalidError

__all__ = ["TarEntry", "TarReader"]

BLOCK = 512
_REFILL = 1024 * 1024
#: largest GNU long name or PAX header accepted (real ones are a few hundred bytes)
_MAX_META = 1024 * 1024
REGULAR, HARDLINK, SYMLINK, DIRECTORY = "0", "1", "2", "5"
_META = frozenset("LKxg")  # GNU long name and link, PAX header and global header
_ZERO = bytes(BLOCK)
_PAX_KEYS = frozenset({b"path", b"linkpath", b"size"})
#: the ustar header fields read (name, mode, size, checksum, type, link name, magic, prefix), the rest skipped
_HEADER = struct.Struct("100s8s16x12s12x8sc100s6s2x80x155s12x")


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


@dataclass(slots=True)
class TarEntry:
    name: str
    type: str
    size: int
    mode: int
    linkname: str


def _octal(field: bytes, what: str) -> int:
    if field and field[0] & 0x80:  # GNU base-256 for values that do not fit in octal
        value = int.from_bytes(field[1:], "big")
        return -value if field[0] & 0x40 else value
    text = field.partition(b"\0")[0]
    try:
        return int(text, 8)  # the spaces tar pads with are allowed by int()
    except ValueError:
        if not text.strip(b" "):
            return 0
        raise ImageInvalidError(f"{what}: corrupt tar: bad number in a header") from None


def _byte_sum(block: bytes) -> int:
    """The sum of a 512-byte block's bytes, in C: Adler-32's first half is 1 + the byte sum modulo 65521, and
    256 bytes sum to at most 65280, so each half of the block gives its exact sum."""
    return (zlib.adler32(block[:256]) & 0xFFFF) + (zlib.adler32(block[256:]) & 0xFFFF) - 2


def _text(field: bytes) -> str:
    return field.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _pax(data: bytes, what: str) -> dict[str, str]:
    """The records of a PAX header this reader uses (``path``, ``linkpath``, ``size``); every record is checked."""
    records: dict[str, str] = {}
    at = 0
    while at < len(data):
        space = data.find(b" ", at)
        if space < 0:
            break
        try:
            length = int(data[at:space])
        except ValueError:
            raise ImageInvalidError(f"{what}: corrupt tar: bad PAX record") from None
        if length <= 0 or at + length > len(data):
            raise ImageInvalidError(f"{what}: corrupt tar: bad PAX record length")
        key, sep, value = data[space + 1 : at + length - 1].partition(b"=")
        if sep and key in _PAX_KEYS:
            records[key.decode()] = value.decode("utf-8", "surrogateescape")
        at += length
    return records


class TarReader:
    """Entries of a tar stream, in order; read or skip each one's data before asking for the next."""

    def __init__(self, stream: _Readable, what: str) -> None:
        self._stream = stream
        self._what = what
        self._buffer = b""
        self._at = 0
        self._left = 0  # data bytes (plus padding) of the current entry not yet consumed
        self._global: dict[str, str] = {}

    def _fill(self, need: int) -> bool:
        """Make at least ``need`` bytes available; False at the end of the stream."""
        while len(self._buffer) - self._at < need:
            chunk = self._stream.read(max(_REFILL, need))
            if not chunk:
                return False
            self._buffer = self._buffer[self._at :] + chunk
            self._at = 0
        return True

    def _take(self, size: int) -> bytes:
        if not self._fill(size):
            raise ImageInvalidError(f"{self._what}: corrupt tar: truncated")
        data = self._buffer[self._at : self._at + size]
        self._at += size
        return data

    def _skip(self, size: int) -> None:
        available = len(self._buffer) - self._at
        if size <= available:
            self._at += size
            return
        size -= available
        self._buffer, self._at = b"", 0
        while size > 0:
            chunk = self._stream.read(min(size, _REFILL) if size < _REFILL else _REFILL)
            if not chunk:
                raise ImageInvalidError(f"{self._what}: corrupt tar: truncated")
            if len(chunk) > size:
                self._buffer, self._at = chunk, size
                return
            size -= len(chunk)

    def read_into(self, buffer: bytearray) -> None:
        """The current entry's data (exactly ``len(buffer)`` bytes, its size) into ``buffer``."""
        size = len(buffer)
        with memoryview(buffer) as view:
            done = min(size, len(self._buffer) - self._at)
            view[:done] = memoryview(self._buffer)[self._at : self._at + done]
            self._at += done
            while done < size:  # the rest straight from the stream into place
                chunk = self._stream.read(min(size - done, _REFILL))
                if not chunk:
                    raise ImageInvalidError(f"{self._what}: corrupt tar: truncated")
                view[done : done + len(chunk)] = chunk
                done += len(chunk)
        self._left -= size

    def peek(self, size: int) -> bytes:
        """Up to ``size`` first bytes of the current entry's data, without consuming them."""
        size = min(size, self._left)
        self._fill(size)
        return self._buffer[self._at : self._at + size]

    def _meta(self, size: int, kind: str) -> bytes:
        if size < 0 or size > _MAX_META:
            raise ImageInvalidError(f"{self._what}: corrupt tar: {kind} of {size} bytes")
        data = self._take(size)
        self._skip(-size % BLOCK)
        return data

    def __iter__(self) -> Iterator[TarEntry]:
        long_name = long_link = None
        pax: dict[str, str] = {}
        what = self._what
        while True:
            if self._left:
                self._skip(self._left)
                self._left = 0
            if not self._fill(BLOCK):
                if len(self._buffer) - self._at:
                    raise ImageInvalidError(f"{what}: corrupt tar: truncated")
                return  # the stream ended without the end-of-archive blocks: tolerated, as tar does
            header = self._buffer[self._at : self._at + BLOCK]
            self._at += BLOCK
            if header == _ZERO:
                return
            name_f, mode_f, size_f, sum_f, type_f, link_f, magic, prefix = _HEADER.unpack(header)
            self._check(header, sum_f)
            kind = type_f.decode("latin-1") if type_f != b"\0" else REGULAR
            size = _octal(size_f, what)
            if kind in _META:
                data = self._meta(size, "metadata header")
                if kind == "L":
                    long_name = _text(data)
                elif kind == "K":
                    long_link = _text(data)
                elif kind == "x":
                    pax = _pax(data, what)
                else:
                    self._global.update(_pax(data, what))
                continue
            records = {**self._global, **pax} if self._global else pax
            name = _text(name_f)
            if magic == b"ustar\x00" and prefix[0]:  # POSIX only: a GNU header keeps times there
                name = f"{_text(prefix)}/{name}"
            linkname = long_link or _text(link_f)
            name = long_name or name
            if records:
                name = records.get("path", name)
                linkname = records.get("linkpath", linkname)
                if "size" in records:
                    try:
                        size = int(records["size"])
                    except ValueError:
                        raise ImageInvalidError(f"{what}: corrupt tar: bad PAX size") from None
            if size < 0:
                raise ImageInvalidError(f"{what}: corrupt tar: negative size")
            long_name = long_link = None
            pax = {}
            if kind in (SYMLINK, DIRECTORY):
                size = 0
            self._left = size + (-size % BLOCK)
            if kind == "7":  # contiguous file: a regular file to every reader but its writer
                kind = REGULAR
            yield TarEntry(name, kind, size, _octal(mode_f, what) & 0o7777, linkname)

    def _check(self, header: bytes, field: bytes) -> None:
        stored = _octal(field, self._what)
        unsigned = _byte_sum(header) - sum(field) + 8 * 32  # the checksum field counts as eight spaces
        if stored != unsigned:
            signed = sum(b - 256 if b > 127 else b for b in header) - sum(b - 256 if b > 127 else b for b in field)
            if stored != signed + 8 * 32:
                raise ImageInvalidError(f"{self._what}: corrupt tar: header checksum mismatch")
