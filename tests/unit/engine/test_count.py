"""Threshold counting: a maximum matching between authorities and distinct signers, so one signer never counts
twice, whatever the authorities' keys or identity patterns. Pure cases first, then the judge over real signatures
in the in-memory registry (two authorities with one key; one key signing twice with distinct signature bytes)."""

from __future__ import annotations

import pytest

from tests.support.memregistry import MemRegistry
from verifier.cosign import generate_signing_key, public_key_pem
from verifier.engine import Engine, Outcome
from verifier.engine._count import counted_authorities
from verifier.policy import compile_documents

# (case, authorities in policy order, signers per authority, the authorities that count)
MATCHING = [
    ("one signer for two authorities counts once", ["a", "b"], {"a": {"k"}, "b": {"k"}}, ["a"]),
    ("two signers for two authorities count twice", ["a", "b"], {"a": {"k1"}, "b": {"k2"}}, ["a", "b"]),
    ("an authority nobody signed for does not count", ["a", "b"], {"a": {"k"}, "b": set()}, ["a"]),
    (
        "an overlapping pattern takes the signer the narrow one does not need",
        ["wide", "alice"],
        {"wide": {"alice", "bob"}, "alice": {"alice"}},
        ["wide", "alice"],
    ),
    (
        "the matching moves a signer to make room (augmenting path)",
        ["a", "b", "c"],
        {"a": {"x", "y"}, "b": {"x"}, "c": {"y", "z"}},
        ["a", "b", "c"],
    ),
    (
        "three authorities, two signers: two count",
        ["a", "b", "c"],
        {"a": {"x", "y"}, "b": {"x", "y"}, "c": {"x"}},
        ["a", "b"],
    ),
    ("no signers, nothing counts", ["a"], {}, []),
]


@pytest.mark.parametrize(("case", "names", "signers", "counted"), MATCHING, ids=[c[0] for c in MATCHING])
def test_counted_authorities_is_a_maximum_matching(case, names, signers, counted):
    assert counted_authorities(names, signers) == counted


KEYS = {name: generate_signing_key() for name in ("ci", "release")}


def _policy(authorities, threshold):
    return compile_documents(
        [
            (
                "p.yaml",
                1,
                {
                    "apiVersion": "sealgate.dev/v1alpha1",
                    "kind": "ImagePolicy",
                    "metadata": {"name": "two"},
                    "spec": {
                        "images": ["mem.test/**"],
                        "threshold": threshold,
                        "authorities": [
                            {"name": name, "key": {"data": public_key_pem(KEYS[key].public_key()).decode()}}
                            for name, key in authorities
                        ],
                    },
                },
            )
        ]
    )


async def _decide(policies, tag, *signers):
    reg = MemRegistry()
    image = reg.add_image("mem.test/team/app", tag, layer=tag.encode())
    for signer in signers:
        await reg.sign(image, KEYS[signer])
    return await Engine(policies, reg).decide(image)


async def test_two_authorities_with_one_key_do_not_make_one_signature_count_twice():
    policies = _policy([("ci", "ci"), ("ci-again", "ci")], threshold=2)
    decision = await _decide(policies, "once", "ci")
    assert decision.outcome is Outcome.DENY and decision.code == "THRESHOLD_NOT_MET"
    assert decision.results[0].reason == (
        '1 of the required 2 authorities verified (missing "ci-again"); "ci-again" verified only by a signer '
        "already counted for another authority"
    )


async def test_one_key_signing_twice_is_still_one_signer():
    """ECDSA signatures are randomised: signing twice gives two different signature layers, one signer."""
    policies = _policy([("ci", "ci"), ("ci-again", "ci")], threshold=2)
    decision = await _decide(policies, "twice", "ci", "ci")
    assert decision.code == "THRESHOLD_NOT_MET"


async def test_two_keys_still_meet_a_threshold_of_two_beside_a_duplicate_authority():
    policies = _policy([("ci", "ci"), ("ci-again", "ci"), ("release", "release")], threshold=2)
    decision = await _decide(policies, "both", "ci", "release")
    assert decision.outcome is Outcome.ALLOW, decision
    assert decision.results[0].authorities == ("ci", "release")
