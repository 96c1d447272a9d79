"""``sealgate policy check``: a summary and warnings with exit 0, or every problem on its own line with exit 2."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.unit.policy.conftest import policy_doc, settings_doc
from verifier.cli import _policy

EXAMPLES = Path(__file__).resolve().parents[3] / "policies" / "examples"
WriteYaml = Callable[..., Path]


def run(*argv: str) -> int:
    """Parse and run like ``verifier.cli.main`` does once ``_policy.register`` is wired in."""
    parser = argparse.ArgumentParser(prog="sealgate")
    _policy.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return int(args.func(args))


def test_check_prints_a_summary_for_good_files(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("policy", "check", str(EXAMPLES)) == 0
    out, err = capsys.readouterr()
    assert out == (
        f'OK: 5 policies, settings from {EXAMPLES}/settings.yaml: document 1 (Settings "sealgate-settings"), '
        "registries reachable: ghcr.io, registry.example.com, registry.example.com:5000, "
        "staging.registry.example.com\n"
    )
    assert err == ""


def test_check_prints_warnings_and_still_succeeds(write_yaml: WriteYaml, capsys: pytest.CaptureFixture[str]) -> None:
    write_yaml("p.yaml", policy_doc("all", images=["**"]))
    assert run("policy", "check", "p.yaml") == 0
    out, err = capsys.readouterr()
    assert out == "OK: 1 policy, settings from defaults, registries reachable: *\n"
    assert err == (
        "warning: p.yaml: document 1 (ImagePolicy \"all\"): spec.images[0]: '**' matches every registry, "
        "so sealgate may contact any registry an admission request names\n"
    )


def test_check_prints_every_problem_on_its_own_line(write_yaml: WriteYaml, capsys: pytest.CaptureFixture[str]) -> None:
    write_yaml("a.yaml", policy_doc("x", mode="audit", threshold=0))
    write_yaml("b.yaml", "a: [\n")
    assert run("policy", "check", "a.yaml", "b.yaml") == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        "error: a.yaml: document 1 (ImagePolicy \"x\"): spec.mode: input should be 'enforce' or 'warn'",
        'error: a.yaml: document 1 (ImagePolicy "x"): spec.threshold: input should be greater than or equal to 1',
        "error: b.yaml: line 2, column 1: expected the node content, but found '<stream end>'",
    ]


def test_check_json_output_on_success(write_yaml: WriteYaml, capsys: pytest.CaptureFixture[str]) -> None:
    write_yaml("p.yaml", policy_doc("p", mode="warn"), settings_doc(noMatch="warn"))
    assert run("policy", "check", "--output", "json", "p.yaml") == 0
    report: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert report["ok"] is True and report["problems"] == []
    assert [(p["name"], p["mode"], p["authorities"]) for p in report["policies"]] == [("p", "warn", ["ci"])]
    assert report["settings"]["noMatch"] == "warn"
    assert report["settings"]["source"] == "p.yaml: document 2 (Settings)"
    assert report["registries"] == ["registry.example.com"]
    assert len(report["hash"]) == 64


def test_check_json_output_on_problems(write_yaml: WriteYaml, capsys: pytest.CaptureFixture[str]) -> None:
    write_yaml("p.yaml", policy_doc("p", extra=1))
    assert run("policy", "check", "--output", "json", "p.yaml") == 2
    report = json.loads(capsys.readouterr().out)
    assert report == {
        "ok": False,
        "problems": ['p.yaml: document 1 (ImagePolicy "p"): spec.extra: unknown field'],
        "warnings": [],
    }


def test_check_needs_a_path(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        run("policy", "check")
    assert info.value.code == 2
    assert "FILE_OR_DIR" in capsys.readouterr().err
