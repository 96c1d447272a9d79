"""A layer blob as a stream of tar bytes: compression detected from the first bytes and undone on the fly.

Every byte is counted: the compressed side is hashed (and the digest checked at the end when the caller knows
it), the decompressed side may be hashed too (a ``docker save`` layer's diff-id), and the decompressed total
and the decompression ratio are bounded by :class:`~verifier.limits.Limits`, so a gzip or zstd bomb stops
early instead of filling memory or the CPU.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any, BinaryIO, Protocol, cast

import zstandard
from isal import igzip, isal_zlib

from verifier.errors import ImageInvalidError, LimitExceededError
from verifier.limits import Limits

from ._hashing import ThreadedSha256

__all__ = ["LayerStream", "open_layer"]

_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_HEAD = 64 * 1024
_CHUNK = 1024 * 1024
_TICK = 4 * 1024 * 1024
_ISAL_ERROR: type[Exception] = isal_zlib.error  # type: ignore[assignment]  # stubs call it an instance


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class _Counting:
    """The compressed bytes: counted and hashed (in a worker) as they are read (the head, read to sniff, first)."""

    def __init__(self, raw: _Readable, head: bytes) -> None:
        self._raw = raw
        self._head = head
        self.count = len(head)
        self.sha256 = ThreadedSha256(head)

    def read(self, size: int = -1, /) -> bytes:
        if size is None or size < 0:
            size = _CHUNK
        if self._head:
            data, self._head = self._head[:size], self._head[size:]
            return data
        data = self._raw.read(size)
        self.count += len(data)
        self.sha256.update(data)
        return data

    def readinto(self, buffer: memoryview) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class LayerStream:
    """The decompressed tar bytes of one layer, bounded by the limits (read it to the end: the digests are of
    every byte; close it in any case: the hashing runs in worker threads)."""

    def __init__(
        self,
        raw: BinaryIO,
        what: str,
        limits: Limits,
        *,
        budget: int,
        hash_output: bool = False,
        tick: Callable[[int], None] | None = None,
    ) -> None:
        head = raw.read(_HEAD)
        self.what = what
        self._limits = limits
        self._budget = budget
        self._in = _Counting(raw, head)
        self._slack = max(limits.decompression_slack, 1)
        self.compression = "gzip" if head.startswith(_GZIP_MAGIC) else "zstd" if head.startswith(_ZSTD_MAGIC) else ""
        self._source: _Readable
        if self.compression == "gzip":
            self._source = igzip.GzipFile(fileobj=cast(Any, self._in), mode="rb")  # type: ignore[no-untyped-call]
        elif self.compression == "zstd":
            self._source = zstandard.ZstdDecompressor().stream_reader(cast(Any, self._in), read_across_frames=True)
        else:
            self._source = self._in
        self.out = 0
        # a plain layer's bytes are its compressed bytes: one hash serves as both, each byte is hashed once
        self._out_hash = ThreadedSha256() if hash_output and self.compression else None
        self._hash_output = hash_output
        self._tick = tick
        self._next_tick = _TICK

    @property
    def compressed_digest(self) -> str:
        """``sha256:HEX`` of the blob's bytes (read to the end first)."""
        return "sha256:" + self._in.sha256.hexdigest()

    @property
    def output_digest(self) -> str | None:
        """``sha256:HEX`` of the tar bytes (a diff-id), when asked for with ``hash_output``."""
        if not self._hash_output:
            return None
        return "sha256:" + (self._out_hash or self._in.sha256).hexdigest()

    def close(self) -> None:
        """Stop the hashing workers (after an error, or once the digests were taken)."""
        self._in.sha256.close()
        if self._out_hash is not None:
            self._out_hash.close()

    def read(self, size: int = -1, /) -> bytes:
        if size is None or size < 0:
            size = _CHUNK
        try:
            data = self._source.read(size)
        except (OSError, EOFError, zlib.error, _ISAL_ERROR, zstandard.ZstdError) as exc:
            kind = self.compression or "tar"
            raise ImageInvalidError(f"{self.what}: corrupt {kind} stream: {_reason(exc)}") from None
        if data:
            self.out += len(data)
            if self._out_hash is not None:
                self._out_hash.update(data)
            if self.out > self._slack or self.out > self._budget:
                self._check()
            if self._tick is not None and self._in.count >= self._next_tick:
                self._next_tick = self._in.count + _TICK
                self._tick(self._in.count)
        return data

    def _check(self) -> None:
        if self.out > self._budget:
            raise LimitExceededError(
                f"{self.what}: layers decompress to more than the limit max_image_bytes of "
                f"{self._limits.max_image_bytes} bytes"
            )
        if self.out / max(self._in.count, 1) > self._limits.max_decompression_ratio:
            raise LimitExceededError(
                f"{self.what}: decompresses to more than {self._limits.max_decompression_ratio} times its "
                "compressed size (limit max_decompression_ratio; a decompression bomb?)"
            )


def _reason(exc: BaseException) -> str:
    if isinstance(exc, EOFError):
        return "truncated"
    return (str(exc) or type(exc).__name__)[:120]


def open_layer(
    raw: BinaryIO,
    what: str,
    limits: Limits,
    *,
    budget: int,
    hash_output: bool = False,
    tick: Callable[[int], None] | None = None,
) -> LayerStream:
    """The decompressed stream of ``raw`` (gzip, zstd or plain tar, told apart by their first bytes);
    ``tick`` is called with the bytes read of ``raw`` every few MiB (for a progress line)."""
    return LayerStream(raw, what, limits, budget=budget, hash_output=hash_output, tick=tick)
