"""The read-ahead worker: the same bytes in the same order, the stream's errors raised in the reader's thread,
and a worker that stops (and stops reading) when the reader gives up early."""

from __future__ import annotations

import io
import threading

import pytest

from verifier.errors import LimitExceededError
from verifier.sbom._prefetch import Prefetch


class _Failing:
    """``good`` bytes, then the error a bounded stream raises."""

    def __init__(self, good: bytes) -> None:
        self._data = io.BytesIO(good)

    def read(self, size: int = -1, /) -> bytes:
        data = self._data.read(size)
        if not data:
            raise LimitExceededError("layer 1/1: decompresses to more than 100 times its compressed size")
        return data


class _Endless:
    def __init__(self) -> None:
        self.reads = 0

    def read(self, size: int = -1, /) -> bytes:
        self.reads += 1
        return b"x" * size


@pytest.mark.parametrize("size", [1, 500, 4096, 1 << 20])
def test_same_bytes_in_order_whatever_the_read_size(size):
    data = bytes(range(256)) * 5000 + b"tail"
    ahead = Prefetch(io.BytesIO(data), depth=2, chunk=4096)
    got = bytearray()
    while chunk := ahead.read(size):
        assert len(chunk) <= size
        got += chunk
    ahead.finish()
    assert bytes(got) == data
    assert ahead.read(10) == b""


def test_the_streams_error_is_raised_by_the_reader_at_that_point():
    ahead = Prefetch(_Failing(b"a" * 10_000), chunk=4096)
    got = bytearray()
    with pytest.raises(LimitExceededError, match="decompresses to more than 100 times"):
        while chunk := ahead.read(1000):
            got += chunk
    assert bytes(got) == b"a" * 10_000
    ahead.close()


def test_finish_raises_what_the_stream_raised_after_the_reader_stopped():
    ahead = Prefetch(_Failing(b"a" * 10), chunk=4096)
    assert ahead.read(5) == b"aaaaa"
    with pytest.raises(LimitExceededError):
        ahead.finish()


def test_close_stops_the_worker_and_its_reading():
    stream = _Endless()
    ahead = Prefetch(stream, depth=2, chunk=1024)
    assert ahead.read(10) == b"x" * 10
    ahead.close()
    assert not any(t.name == "sbom-layer-read" and t.is_alive() for t in threading.enumerate())
    reads = stream.reads
    assert reads <= 5  # the queue is bounded: it read ahead by at most its depth (plus one in hand)
