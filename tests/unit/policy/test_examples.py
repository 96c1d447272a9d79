"""policies/examples: every example loads and compiles, alone and together, and means what its comments say."""

from __future__ import annotations

from pathlib import Path

import pytest

from verifier.oci import Reference
from verifier.policy import load_policy_files

EXAMPLES = Path(__file__).resolve().parents[3] / "policies" / "examples"
FILES = sorted(EXAMPLES.glob("*.yaml"))


def test_there_are_examples_for_each_feature() -> None:
    assert {f.name for f in FILES} >= {"prod-signed.yaml", "warn-mode.yaml", "n-of-m.yaml", "settings.yaml"}


@pytest.mark.parametrize("path", FILES, ids=[f.name for f in FILES])
def test_each_example_file_compiles_on_its_own(path: Path) -> None:
    policies = load_policy_files([path])
    if path.name == "settings.yaml":  # settings alone: no policy, and a warning that says so
        assert policies.policies == ()
        assert policies.warnings == ("no ImagePolicy documents: every image that is not exempt gets noMatch (deny)",)
    else:
        assert policies.policies and policies.warnings == ()


def test_no_private_key_is_committed_with_the_examples() -> None:
    for path in EXAMPLES.rglob("*"):
        if path.is_file():
            assert b"PRIVATE KEY" not in path.read_bytes(), path


def test_the_examples_folder_compiles_as_one_set() -> None:
    policies = load_policy_files([EXAMPLES])
    by_name = {p.name: p for p in policies.policies}
    assert sorted(by_name) == [
        "base-images-two-of-three",
        "payments-releases",
        "prod-signed",
        "release-keyless",
        "staging-warn",
    ]
    keyless = by_name["release-keyless"]
    assert keyless.authorities[0].keyless
    assert [a.predicate_type for a in keyless.attestations] == ["https://cyclonedx.org/bom"]
    assert policies.settings.source is not None and policies.settings.source.endswith(
        'settings.yaml: document 1 (Settings "sealgate-settings")'
    )
    assert policies.warnings == ()

    prod = by_name["prod-signed"]
    assert (prod.mode, prod.threshold, [a.name for a in prod.authorities]) == ("enforce", 1, ["ci"])
    assert prod.matches_image(Reference.parse("registry.example.com/team/app:1"))
    assert not prod.applies_to_namespace("kube-system", None)

    two_of_three = by_name["base-images-two-of-three"]
    assert two_of_three.threshold == 2 and len(two_of_three.authorities) == 3
    assert two_of_three.matches_image(Reference.parse("registry.example.com:5000/base/debian"))
    assert not two_of_three.matches_image(Reference.parse("registry.example.com/base/debian/slim"))

    warn = by_name["staging-warn"]
    assert warn.mode == "warn" and warn.uses_namespace_labels
    assert warn.applies_to_namespace("web", {"sealgate.dev/rollout": "staging"})
    assert not warn.applies_to_namespace("web", {"sealgate.dev/rollout": "staging", "sealgate.dev/opt-out": "y"})

    releases = by_name["payments-releases"]
    assert releases.require_digest
    assert releases.matches_image(Reference.parse("registry.example.com/payments/api:1.2"))
    assert releases.matches_image(Reference.parse("registry.example.com/payments/api@sha256:" + "a" * 64))
    assert releases.matches_image(Reference.parse("registry.example.com/payments/api:1.2@sha256:" + "a" * 64))
    assert releases.applies_to_namespace("payments-eu", None) and not releases.applies_to_namespace("web", None)

    settings = policies.settings
    assert settings.is_exempt("kube-system", "anything.example/x")
    assert settings.is_exempt("default", "registry.k8s.io/pause:3.9")
    assert policies.allowed_registries == [
        "ghcr.io",
        "registry.example.com",
        "registry.example.com:5000",
        "staging.registry.example.com",
    ]
