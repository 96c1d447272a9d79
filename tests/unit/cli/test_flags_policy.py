"""The CLI's verify flags compile into a one-policy PolicySet that the engine judges like a policy file."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from verifier.cli._decide import FLAGS_POLICY, flags_policy, key_authority, keyless_authority
from verifier.cosign import generate_signing_key, public_key_pem
from verifier.errors import SealgateError, UsageError
from verifier.oci import Reference

IMAGE = Reference.parse("127.0.0.1:5000/team/app:v1")


def _key(path: Path) -> str:
    path.write_bytes(public_key_pem(generate_signing_key().public_key()))
    return str(path)


def _keyless(**flags: str | None) -> argparse.Namespace:
    values = {
        "certificate_identity": None,
        "certificate_identity_regexp": None,
        "certificate_oidc_issuer": None,
        "certificate_oidc_issuer_regexp": None,
        "trusted_root": None,
    }
    return argparse.Namespace(**(values | flags))


def test_keys_annotations_and_reference_check_make_one_enforcing_policy(tmp_path: Path) -> None:
    authority = key_authority([_key(tmp_path / "a.pub"), _key(tmp_path / "b.pub")])
    assert authority.name == "a.pub, b.pub"
    assert [k.name for k in authority.keys] == ["a.pub", "b.pub"]
    policies = flags_policy(IMAGE, authority, claims={"env": "prod", "team": "x"}, check_reference=False)
    (policy,) = policies.policies
    assert (policy.name, policy.mode, policy.threshold) == (FLAGS_POLICY, "enforce", 1)
    assert policy.authorities == (authority,)
    assert policy.claims == (("env", "prod"), ("team", "x"))
    assert policy.check_reference is False
    assert policy.attestations == ()
    assert policy.signature_repository is None


def test_the_policy_matches_the_image_repository_only(tmp_path: Path) -> None:
    policies = flags_policy(IMAGE, key_authority([_key(tmp_path / "k.pub")]))
    assert [p.name for p in policies.matching(Reference.parse("127.0.0.1:5000/team/app@sha256:" + "a" * 64))] == [
        FLAGS_POLICY
    ]
    assert policies.matching(Reference.parse("127.0.0.1:5000/team/other:v1")) == []
    assert policies.matching(Reference.parse("127.0.0.1:5001/team/app:v1")) == []
    assert policies.registry_allowed("127.0.0.1:5000")
    assert not policies.registry_allowed("127.0.0.1:5001")


def test_different_flags_give_different_policy_hashes(tmp_path: Path) -> None:
    authority = key_authority([_key(tmp_path / "k.pub")])
    hashes = {
        flags_policy(IMAGE, authority).policies[0].hash,
        flags_policy(IMAGE, authority, claims={"env": "prod"}).policies[0].hash,
        flags_policy(IMAGE, authority, check_reference=False).policies[0].hash,
        flags_policy(IMAGE, authority, predicate=("cyclonedx", "https://cyclonedx.org/bom")).policies[0].hash,
    }
    assert len(hashes) == 4


def test_verify_attestation_requires_the_predicate_type_signed_by_the_keys(tmp_path: Path) -> None:
    authority = key_authority([_key(tmp_path / "k.pub")])
    (policy,) = flags_policy(IMAGE, authority, predicate=("cyclonedx", "https://cyclonedx.org/bom")).policies
    assert policy.threshold == 0, "an attestation alone satisfies it, as cosign verify-attestation"
    (wanted,) = policy.attestations
    assert (wanted.name, wanted.predicate_type, wanted.authorities) == (
        "cyclonedx",
        "https://cyclonedx.org/bom",
        ("k.pub",),
    )


def test_cosign_repository_says_where_signatures_are(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COSIGN_REPOSITORY", "127.0.0.1:5000/signatures/store")
    (policy,) = flags_policy(IMAGE, key_authority([_key(tmp_path / "k.pub")])).policies
    assert policy.signature_repository == Reference.parse("127.0.0.1:5000/signatures/store")


def test_keyless_flags_make_a_keyless_authority_named_by_its_identity() -> None:
    args = _keyless(certificate_identity="me@example.com", certificate_oidc_issuer_regexp="https://.*")
    authority = keyless_authority(args)
    assert authority.keyless and authority.keys == ()
    assert authority.trusted_root is not None  # the public-good root shipped with sealgate
    assert authority.name == "subject 'me@example.com', issuer ~ /https://.*/"
    (policy,) = flags_policy(IMAGE, authority).policies
    assert policy.authorities[0].identity is authority.identity


def test_keyless_without_an_issuer_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="--certificate-oidc-issuer"):
        keyless_authority(_keyless(certificate_identity="me@example.com"))


def test_a_missing_trusted_root_file_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    args = _keyless(
        certificate_identity="me@example.com",
        certificate_oidc_issuer="https://issuer.test",
        trusted_root=str(tmp_path / "nope.json"),
    )
    with pytest.raises(SealgateError, match="nope.json"):
        keyless_authority(args)
