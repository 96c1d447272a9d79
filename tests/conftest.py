"""Fixtures every test may use: the real-world vectors in tests/vectors and named test assets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ASSETS = Path(__file__).resolve().parent / "assets"
VECTORS = Path(__file__).resolve().parent / "vectors"


@pytest.fixture(scope="session")
def vectors() -> Path:
    """The read-only real-world signatures in ``tests/vectors`` (override with ``SEALGATE_VECTORS``)."""
    path = Path(os.environ.get("SEALGATE_VECTORS") or VECTORS)
    if not (path / "manifest.json").is_file():
        pytest.fail(f"real-world vectors not found at {path} (tests/vectors, or set SEALGATE_VECTORS)")
    return path


@pytest.fixture(scope="session")
def asset():
    """``asset("name")`` -> path of a file under tests/assets."""

    def _asset(name: str) -> Path:
        path = ASSETS / name
        assert path.exists(), f"missing test asset {name}"
        return path

    return _asset
