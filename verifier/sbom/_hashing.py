"""SHA-256 of a layer's bytes in a worker thread, so hashing runs beside reading, decompressing and parsing.

The bytes are handed over as they are read (a layer is still read only once) and queued in pieces of at least
``batch`` bytes (small reads, as a decompressor makes, are joined first), through a small bounded queue. hashlib
releases the GIL while it hashes a piece; large pieces matter because the worker needs the GIL back after each
one, and a thread waiting for the GIL can wait a whole switch interval while the parser holds it.
:meth:`ThreadedSha256.hexdigest` waits for the worker to catch up; :meth:`ThreadedSha256.close` stops it
whatever happened (the worker always drains its queue, so handing over never blocks for longer than hashing what
is queued).
"""

from __future__ import annotations

import hashlib
import queue
import threading

__all__ = ["ThreadedSha256"]

#: bytes handed to hashlib at once
_BATCH = 4 * 1024 * 1024
#: pieces queued for the worker at most
_DEPTH = 4


class ThreadedSha256:
    """``update`` now, ``hexdigest`` later; the hashing happens in between, in a worker thread."""

    def __init__(self, first: bytes = b"", *, batch: int = _BATCH, depth: int = _DEPTH) -> None:
        self._hash = hashlib.sha256()
        self._batch = batch
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=depth)
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="sbom-layer-sha256", daemon=True)
        self._thread.start()
        self.update(first)

    def _run(self) -> None:
        while (data := self._queue.get()) is not None:
            self._hash.update(data)

    def update(self, data: bytes) -> None:
        if self._closed:
            raise ValueError("update() after the digest was taken")
        if not data:
            return
        piece = data if type(data) is bytes else bytes(data)  # a buffer could change once queued
        if not self._pending and len(piece) >= self._batch:
            self._queue.put(piece)
            return
        self._pending.append(piece)
        self._pending_size += len(piece)
        if self._pending_size >= self._batch:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            self._queue.put(b"".join(self._pending))
            self._pending, self._pending_size = [], 0

    def close(self) -> None:
        """Stop the worker once it has hashed what was handed over (idempotent)."""
        if not self._closed:
            self._closed = True
            self._flush()
            self._queue.put(None)
            self._thread.join()

    def hexdigest(self) -> str:
        self.close()
        return self._hash.hexdigest()
