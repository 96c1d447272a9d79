"""The sigstore-conformance ``bundle-verify`` suite, run through the real ``sealgate verify-bundle`` CLI.

Each case directory runs twice (FORMATS.md §9): ``[path]`` passes the artifact file, ``[digest]`` passes
``sha256:<hex>``. A directory name ending in ``_fail`` must exit non-zero; every other case must exit 0.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

import verifier.cli

BEACON_IDENTITY = (
    "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/"
    ".github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
)
BEACON_ISSUER = "https://token.actions.githubusercontent.com"
EXPECTED_CASES = 70
REPO = Path(__file__).resolve().parents[2]


def _suite() -> Path:
    root = Path(os.environ.get("SEALGATE_VECTORS") or REPO / "tests" / "vectors")
    return root / "conformance" / "bundle-verify"


def _cases() -> list[str]:
    suite = _suite()
    return sorted(p.name for p in suite.iterdir() if p.is_dir()) if suite.is_dir() else []


CASES = _cases()
_results: dict[tuple[str, str], bool] = {}


def _subcommands(parser: argparse.ArgumentParser) -> argparse._SubParsersAction:  # type: ignore[type-arg]
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


@pytest.fixture
def cli() -> Callable[[Sequence[str]], int]:
    """``verifier.cli.main`` (the ``sealgate`` entry point)."""
    return verifier.cli.main


def conformance_args(case: Path, form: str) -> list[str]:
    """The argument list the conformance harness would pass for ``case`` in ``form`` (path | digest)."""
    suite = case.parent
    artifact = case / "artifact" if (case / "artifact").exists() else suite / "a.txt"
    args = ["verify-bundle", "--bundle", str(case / "bundle.sigstore.json")]
    if (case / "key.pub").exists():
        args += ["--key", str(case / "key.pub")]
    else:
        identity = (case / "identity").read_text().strip() if (case / "identity").exists() else BEACON_IDENTITY
        issuer = (case / "issuer").read_text().strip() if (case / "issuer").exists() else BEACON_ISSUER
        args += ["--certificate-identity", identity, "--certificate-oidc-issuer", issuer]
    if (case / "trusted_root.json").exists():
        args += ["--trusted-root", str(case / "trusted_root.json")]
    if form == "digest":
        args.append("sha256:" + hashlib.sha256(artifact.read_bytes()).hexdigest())
    else:
        args.append(str(artifact))
    return args


def test_the_suite_has_all_seventy_cases() -> None:
    assert len(CASES) == EXPECTED_CASES
    assert sum(name.endswith("_fail") for name in CASES) == 49


@pytest.mark.parametrize("form", ["path", "digest"])
@pytest.mark.parametrize("case", CASES)
def test_conformance_case(
    case: str, form: str, cli: Callable[[Sequence[str]], int], capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli(conformance_args(_suite() / case, form))
    out, err = capsys.readouterr()
    expect_failure = case.endswith("_fail")
    passed = (code != 0) if expect_failure else (code == 0)
    _results[(case, form)] = passed
    if expect_failure:
        assert code in (1, 2), f"{case} [{form}] must fail with a SealgateError exit code, got {code}: {out}{err}"
        assert err.startswith("error: "), err
    else:
        assert code == 0, f"{case} [{form}] must verify: {err}"
        assert out.startswith("Verified OK: "), out


def test_every_case_passed_in_both_forms() -> None:
    """Runs after the parametrized cases (file order); prints the score, e.g. "70 of 70"."""
    if len(_results) != 2 * EXPECTED_CASES:
        pytest.skip("run the whole module to get the score")
    per_case = {case: all(_results[(case, form)] for form in ("path", "digest")) for case in CASES}
    score = sum(per_case.values())
    print(f"\nsigstore-conformance bundle-verify: {score} of {len(CASES)} cases (both forms)")
    assert score == EXPECTED_CASES, sorted(case for case, ok in per_case.items() if not ok)


@pytest.mark.parametrize(
    ("case", "expected_code"),
    [("happy-path-v0.3-new-mediaType", 0), ("signature-mismatch_fail", 1)],
)
def test_a_real_subprocess_runs_the_conformance_entrypoint(case: str, expected_code: int) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "verifier.cli", *conformance_args(_suite() / case, "path")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == expected_code, result.stderr
    if expected_code:
        assert "error: " in result.stderr and "Traceback" not in result.stderr
