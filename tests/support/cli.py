"""The ``sealgate`` fixture: run the CLI through ``main()`` and get its exit code."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

from verifier.cli import main


@pytest.fixture
def sealgate() -> Callable[[Sequence[str]], int]:
    """``sealgate([...]) -> exit code``."""

    def run(argv: Sequence[str]) -> int:
        return main(list(argv))

    return run
