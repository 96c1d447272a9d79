"""Limits live in one place (verifier/limits.py), each one used, and no new cap grows outside it (issue 9)."""

from __future__ import annotations

import ast
import re
from dataclasses import fields
from pathlib import Path

import pytest

from verifier.errors import ConfigError
from verifier.limits import DEFAULT_LIMITS, Limits

REPO = Path(__file__).resolve().parents[2]
_CAP_NAME = re.compile(r"^_?MAX_[A-Z0-9_]+$")
#: module-level ``MAX_*`` constants that stay outside limits.py, each for a reason; the list may only shrink.
#: - format bounds (not a size an input chooses): a Merkle proof of a 2^64 tree, an OCI tag's 128 characters,
#:   ELF section headers, RSA key sizes cosign accepts;
#: - output caps (what sealgate writes, not what it reads): the webhook's messages and warnings, audit's list of
#:   pods, SBOM warnings, certificate lifetimes;
#: - SBOM cataloger caps and the CLI's predicate file: owned by the SBOM and CLI changes of issue 9 in flight.
CAPS_OUTSIDE_LIMITS = frozenset(
    {
        "verifier/sigstore/_tlog.py:_MAX_PROOF_HASHES",
        "verifier/policy/_glob.py:_MAX_GLOB",
        "verifier/policy/_glob.py:_MAX_TAG",
        "verifier/crypto/_keys.py:_MAX_RSA_BITS",
        "verifier/sbom/_elf.py:_MAX_SECTIONS",
        "webhook/_response.py:MAX_WARNING_CHARS",
        "webhook/_response.py:MAX_WARNINGS_TOTAL_CHARS",
        "webhook/_response.py:MAX_MESSAGE_CHARS",
        "verifier/engine/_render.py:MAX_DENIAL_LINES",
        "verifier/engine/_render.py:_MAX_QUOTED_CHARS",
        "webhook/_response.py:_MAX_ANNOTATION_VALUE_CHARS",
        "webhook/certs.py:_MAX_DAYS",
        "verifier/audit/_inventory.py:_MAX_PODS_NAMED",
        "verifier/sbom/_walk.py:_MAX_ENTRY_WARNINGS",
        "verifier/sbom/_rpm.py:_MAX_ENTRIES",
        "verifier/sbom/_rpm.py:_MAX_ROWS",
        "verifier/sbom/_tar.py:_MAX_META",
        "verifier/sbom/_archive.py:_MAX_MEMBERS",
        "verifier/sbom/_golang.py:_MAX_STRING",
        "verifier/sbom/_java.py:_MAX_METADATA",
        "verifier/sbom/_rust.py:_MAX_JSON",
        "verifier/cli/_attest.py:_MAX_PREDICATE_BYTES",
    }
)


#: limits declared for a change in flight that will read them (issue 9); the list may only shrink
NOT_YET_READ: dict[str, str] = {}


def _sources() -> list[Path]:
    return sorted(p for root in ("verifier", "webhook") for p in (REPO / root).rglob("*.py"))


def _module_caps() -> set[str]:
    found = set()
    for path in _sources():
        if path == REPO / "verifier" / "limits.py":
            continue
        for node in ast.parse(path.read_text()).body:
            targets = (
                node.targets
                if isinstance(node, ast.Assign)
                else [node.target]
                if isinstance(node, ast.AnnAssign)
                else []
            )
            for target in targets:
                if isinstance(target, ast.Name) and _CAP_NAME.match(target.id):
                    found.add(f"{path.relative_to(REPO)}:{target.id}")
    return found


def test_no_new_cap_outside_limits() -> None:
    caps = _module_caps()
    assert caps - CAPS_OUTSIDE_LIMITS == set(), "put input caps in verifier.limits.Limits"
    assert CAPS_OUTSIDE_LIMITS - caps == set(), "these caps are gone: drop them from CAPS_OUTSIDE_LIMITS"


@pytest.mark.parametrize("name", [f.name for f in fields(Limits)])
def test_every_limit_is_enforced_somewhere(name: str) -> None:
    """A limit nothing reads is a promise nobody keeps."""
    users = [p for p in _sources() if p.name != "limits.py" and re.search(rf"\b{name}\b", p.read_text())]
    if name in NOT_YET_READ:
        assert not users, f"Limits.{name} is read now: drop it from NOT_YET_READ"
    else:
        assert users, f"Limits.{name} is read nowhere"


def test_the_gathered_caps_keep_their_values_and_are_validated() -> None:
    assert (DEFAULT_LIMITS.max_tlog_entries, DEFAULT_LIMITS.max_timestamps, DEFAULT_LIMITS.max_envelope_signatures) == (
        32,
        32,
        32,
    )
    assert DEFAULT_LIMITS.max_key_file_bytes == DEFAULT_LIMITS.max_password_bytes == 64 * 1024
    assert DEFAULT_LIMITS.max_policy_file_bytes == DEFAULT_LIMITS.max_rekor_bundle_bytes == 1024 * 1024
    with pytest.raises(ConfigError, match="max_envelope_signatures"):
        Limits(max_envelope_signatures=0)
