"""Fixtures every test may use: the shared real-world vectors and named test assets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ASSETS = Path(__file__).resolve().parent / "assets"


@pytest.fixture(scope="session")
def vectors() -> Path:
    """The read-only real-world signatures in ``../shared/vectors`` (override with ``SEALGATE_VECTORS``)."""
    path = Path(os.environ.get("SEALGATE_VECTORS") or Path(__file__).resolve().parents[2] / "shared" / "vectors")
    if not (path / "manifest.json").is_file():
        pytest.fail(f"shared vectors not found at {path} (set SEALGATE_VECTORS)")
    return path


@pytest.fixture(scope="session")
def asset():
    """``asset("name")`` -> path of a file under tests/assets."""

    def _asset(name: str) -> Path:
        path = ASSETS / name
        assert path.exists(), f"missing test asset {name}"
        return path

    return _asset
