"""Fixtures for the registry client tests: a fault-injecting loopback registry."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.faultregistry import FaultRegistry


@pytest.fixture
def registry() -> Iterator[FaultRegistry]:
    with FaultRegistry() as reg:
        yield reg
