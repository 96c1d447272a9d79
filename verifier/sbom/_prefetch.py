"""Read-ahead of a layer stream in a worker thread, so reading and decompressing overlap with parsing.

The worker reads the stream in chunks into a small bounded queue (memory stays at most ``depth`` chunks); the
gzip and zstd decompressors and file reads release the GIL, so that work runs beside the tar reader's Python
(hashing runs in a thread of its own, see :mod:`._hashing`). Whatever the stream raises (a corrupt stream, a
limit) is raised again, unchanged, by the :meth:`Prefetch.read` that reaches that point; the reader stopping
early (its own error) stops the worker.
"""

from __future__ import annotations

import queue
import threading
from typing import Protocol

__all__ = ["Prefetch"]

_CHUNK = 4 * 1024 * 1024
_POLL = 0.05


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class Prefetch:
    """``read`` from ``stream``, through a worker thread that keeps up to ``depth`` chunks ready."""

    def __init__(self, stream: _Readable, *, depth: int = 4, chunk: int = _CHUNK) -> None:
        self._stream = stream
        self._chunk = chunk
        self._queue: queue.Queue[bytes | BaseException] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._current = b""
        self._at = 0
        self._ended = False
        self._thread = threading.Thread(target=self._run, name="sbom-layer-read", daemon=True)
        self._thread.start()

    def _put(self, item: bytes | BaseException) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=_POLL)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                data = self._stream.read(self._chunk)
                if not self._put(data) or not data:
                    return
        except BaseException as exc:  # handed to the reader, which raises it in its own thread
            self._put(exc)

    def read(self, size: int = -1, /) -> bytes:
        """Up to ``size`` bytes (fewer at a chunk's end; ``b""`` only at the end of the stream)."""
        if self._at >= len(self._current):
            if self._ended:
                return b""
            item = self._queue.get()
            if isinstance(item, BaseException):
                self._ended = True
                self._current, self._at = b"", 0
                raise item
            if not item:
                self._ended = True
                return b""
            self._current, self._at = item, 0
        if size is None or size < 0 or (self._at == 0 and size >= len(self._current)):
            data = self._current[self._at :] if self._at else self._current
            self._current, self._at = b"", 0
            return data
        data = self._current[self._at : self._at + size]
        self._at += len(data)
        return data

    def finish(self) -> None:
        """Read to the end of the stream (raising what the stream raised) and wait for the worker."""
        while self.read(self._chunk):
            pass
        self._thread.join()

    def close(self) -> None:
        """Stop the worker (after an error of the reader's); what it had read is dropped."""
        self._stop.set()
        self._thread.join(timeout=5)
