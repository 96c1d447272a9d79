"""The layer digest computed in a worker thread is exactly hashlib's, whatever the chunking, and its worker
always ends."""

from __future__ import annotations

import hashlib
import os
import threading

import pytest

from verifier.sbom._hashing import ThreadedSha256


@pytest.mark.parametrize("chunks", [[], [b""], [b"a"], [os.urandom(n) for n in (1, 511, 4096, 1 << 20, 3, 0, 77)]])
def test_the_digest_is_hashlibs(chunks):
    threaded = ThreadedSha256(b"head", depth=2)
    for chunk in chunks:
        threaded.update(chunk)
    assert threaded.hexdigest() == hashlib.sha256(b"head" + b"".join(chunks)).hexdigest()
    assert threaded.hexdigest() == hashlib.sha256(b"head" + b"".join(chunks)).hexdigest(), "asked twice"


def test_a_buffer_changed_after_it_was_handed_over_does_not_change_the_digest():
    threaded = ThreadedSha256(depth=1)
    buffer = bytearray(b"x" * 100_000)
    threaded.update(buffer)
    buffer[:] = b"y" * 100_000
    threaded.update(memoryview(buffer))
    assert threaded.hexdigest() == hashlib.sha256(b"x" * 100_000 + b"y" * 100_000).hexdigest()


def test_close_ends_the_worker_and_no_update_follows():
    threaded = ThreadedSha256()
    threaded.update(b"abc")
    threaded.close()
    threaded.close()
    assert not any(t.name == "sbom-layer-sha256" and t.is_alive() for t in threading.enumerate())
    with pytest.raises(ValueError, match="after the digest"):
        threaded.update(b"more")
    assert threaded.hexdigest() == hashlib.sha256(b"abc").hexdigest()
