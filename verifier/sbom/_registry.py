"""Images in a registry (``REF`` or ``docker://REF``), read through :class:`verifier.registry.RegistryClient`.

The async client runs on its own thread and event loop; layers reach the (synchronous) tar reader through a
bounded queue of chunks, so at most ``_QUEUE_CHUNKS`` chunks are in memory and the download of the next layer
overlaps the reading of this one. Each blob's digest is checked once its last chunk is in; a mismatch fails
the whole SBOM.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from verifier.errors import ImageInvalidError, SealgateError
from verifier.limits import Limits
from verifier.oci import Digest, Reference
from verifier.registry import RegistryClient

from ._image import Layer, choose_manifest, is_index, parse_config, parse_json, parse_manifest, with_diff_ids
from ._model import ImageInfo

__all__ = ["RegistryImage", "open_registry"]

_QUEUE_CHUNKS = 64
THREAD_NAME = "sealgate-sbom-download"
_END = object()


class _Cancelled(Exception):
    pass


@dataclass(slots=True)
class _Pipe:
    items: queue.Queue[object] = field(default_factory=lambda: queue.Queue(_QUEUE_CHUNKS))
    cancelled: threading.Event = field(default_factory=threading.Event)

    def put(self, item: object) -> None:
        while not self.cancelled.is_set():
            try:
                self.items.put(item, timeout=0.2)
                return
            except queue.Full:
                continue
        raise _Cancelled

    def get(self) -> object:
        item = self.items.get()
        if isinstance(item, BaseException):
            raise item
        return item


class _LayerReader:
    """One layer's bytes as they arrive from the download thread."""

    def __init__(self, pipe: _Pipe) -> None:
        self._pipe = pipe
        self._chunk = b""
        self._done = False

    def read(self, size: int = -1, /) -> bytes:
        while not self._chunk and not self._done:
            item = self._pipe.get()
            if item is _END:
                self._done = True
            else:
                assert isinstance(item, bytes)  # noqa: S101 - only chunks and markers are queued
                self._chunk = item
        if size is None or size < 0:
            size = len(self._chunk)
        data, self._chunk = self._chunk[:size], self._chunk[size:]
        return data

    def drain(self) -> None:
        while self.read(1 << 20):
            pass


@dataclass(slots=True)
class RegistryImage:
    info: ImageInfo
    layers: list[Layer]
    notes: list[str]
    _pipe: _Pipe
    _thread: threading.Thread

    def streams(self) -> Iterator[tuple[Layer, BinaryIO]]:
        for layer in self.layers:
            reader = _LayerReader(self._pipe)
            yield layer, reader  # type: ignore[misc]
            reader.drain()

    def close(self) -> None:
        self._pipe.cancelled.set()
        while True:  # unblock a producer waiting on a full queue
            try:
                self._pipe.items.get_nowait()
            except queue.Empty:
                break
        self._thread.join(timeout=10)


def open_registry(
    source: str, text: str, platform: str | None, limits: Limits, client: Callable[[], RegistryClient]
) -> RegistryImage:
    """Resolve ``text`` (a tag is resolved to its digest), pick the platform, and start streaming its layers."""
    ref = Reference.parse(text)
    pipe = _Pipe()
    thread = threading.Thread(
        target=_download, args=(ref, source, platform, limits, client, pipe), name=THREAD_NAME, daemon=True
    )
    thread.start()
    try:
        first = pipe.get()
    except BaseException:
        pipe.cancelled.set()
        raise
    assert isinstance(first, tuple)  # noqa: S101 - the producer's first item is the image
    info, layers, notes = first
    return RegistryImage(info, layers, notes, pipe, thread)


def _download(
    ref: Reference,
    source: str,
    platform: str | None,
    limits: Limits,
    client: Callable[[], RegistryClient],
    pipe: _Pipe,
) -> None:
    try:
        asyncio.run(_fetch(ref, source, platform, limits, client, pipe))
    except _Cancelled:
        return
    except SealgateError as exc:
        _offer(pipe, exc)
    except Exception as exc:  # a bug: reported on the reading side, not lost in a thread
        _offer(pipe, ImageInvalidError(f"{source}: download failed: {type(exc).__name__}: {exc}"))


def _offer(pipe: _Pipe, exc: BaseException) -> None:
    try:
        pipe.put(exc)
    except _Cancelled:
        pass


async def _fetch(
    ref: Reference,
    source: str,
    platform: str | None,
    limits: Limits,
    make_client: Callable[[], RegistryClient],
    pipe: _Pipe,
) -> None:
    async with make_client() as client:
        notes = []
        if ref.digest is None:
            digest = (await client.resolve(ref)).digest
            notes.append(f"tag {ref.tag!r} of {ref.name} resolved to {digest}")
            ref = ref.with_digest(digest)
        manifest = await client.get_manifest(ref)
        data = parse_json(manifest.raw, f"{source} manifest")
        if is_index(data):
            chosen_digest, chosen = choose_manifest(data, platform, f"{source} index {ref.digest}", limits)
            notes.append(f"platform {chosen} chosen from the index")
            ref = ref.with_digest(Digest.parse(chosen_digest))
            manifest = await client.get_manifest(ref)
            data = parse_json(manifest.raw, f"{source} manifest")
        config_digest, layers = parse_manifest(data, f"{source} manifest {ref.digest}", limits)
        raw_config = await client.get_blob(ref, Digest.parse(config_digest), max_bytes=limits.max_manifest_bytes)
        config = parse_config(raw_config, f"{source} config")
        info = ImageInfo(
            ref.name,
            str(ref.digest),
            config.os,
            config.architecture,
            config.variant,
            config.created,
            source,
            image_id=config_digest,
        )
        layers = with_diff_ids(layers, config)
        pipe.put((info, layers, notes))

        async def sink(chunk: bytes) -> None:
            pipe.put(chunk)

        for layer in layers:
            await client.stream_blob(
                ref, Digest.parse(layer.digest), sink, max_bytes=limits.max_image_bytes, limit_name="max_image_bytes"
            )
            pipe.put(_END)
