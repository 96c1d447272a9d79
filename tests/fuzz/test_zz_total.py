"""The fuzz folder's total: at least 10,000 hostile inputs per default run (module named to run last)."""

from __future__ import annotations

import pytest

from tests.fuzz._support import SCALE
from tests.fuzz.conftest import COUNTS

#: the fuzz tests of this folder and the examples each runs by default (before SEALGATE_FUZZ_SCALE)
TARGETS = {
    "hostile reviews": 4000,
    "malformed bodies": 1500,
    "ephemeral containers": 1000,
    "registry answers": 2000,
    "poison candidates": 500,
    "openapi": 1200,
    "tag@digest references": 400,
    "thresholds": 200,
    "sbom layers": 600,
    "sbom records": 900,
    "sbom rules documents": 600,
    "audit manifests": 500,
}


def test_default_targets_add_up_to_10000() -> None:
    assert sum(TARGETS.values()) >= 10_000


def test_at_least_10000_hostile_inputs_ran() -> None:
    if set(COUNTS) != set(TARGETS):
        pytest.skip(f"only {sorted(COUNTS)} ran in this session")
    total = sum(COUNTS.values())
    print(f"\nfuzz examples: {COUNTS}, total {total}")
    assert total >= min(10_000, 10_000 * SCALE)
    assert all(COUNTS[name] >= int(n * SCALE) for name, n in TARGETS.items()), COUNTS
