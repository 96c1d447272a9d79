"""Run ``sealgate`` through ``main()`` with ``attest``/``verify-attestation`` registered.

Until the lead wires ``verifier.cli._attest.register`` into ``build_parser`` this adds it; once wired it
changes nothing.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import pytest

import verifier.cli as cli
from verifier.cli import _attest


def _with_attest(original):  # type: ignore[no-untyped-def]
    def build_parser() -> argparse.ArgumentParser:
        parser = original()
        commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        if "attest" not in commands.choices:
            _attest.register(commands)
        return parser

    return build_parser


@pytest.fixture
def sealgate(monkeypatch):  # type: ignore[no-untyped-def]
    """``sealgate([...]) -> exit code``: ``verifier.cli.main`` with the attestation commands available."""
    monkeypatch.setattr(cli, "build_parser", _with_attest(cli.build_parser))

    def run(argv: Sequence[str]) -> int:
        return cli.main(list(argv))

    return run
