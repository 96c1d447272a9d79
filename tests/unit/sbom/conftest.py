"""Every SBOM test ends with no layer worker left running (read-ahead, hashing, registry download), whatever
the source did: a corrupt stream, a limit, a digest mismatch."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

_WORKERS = ("sbom-layer-", "sealgate-sbom-download")


def _running() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith(_WORKERS) and t.is_alive()]


@pytest.fixture(autouse=True)
def no_layer_worker_left() -> Iterator[None]:
    yield
    deadline = time.monotonic() + 2
    while _running() and time.monotonic() < deadline:  # a worker told to stop may need a moment to see it
        time.sleep(0.01)
    assert _running() == [], "a layer worker thread outlived the generation"
