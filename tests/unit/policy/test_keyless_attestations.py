"""Keyless authorities and attestation requirements in policies: compile, hash, and every problem's path."""

from __future__ import annotations

import pytest

from verifier.errors import PolicyError
from verifier.policy import compile_documents

KEY = """-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEYw3SgH2Y3n4X0mJcW0K3aVlZy6GcQ2S6p8zBq1B3xk5w8eRk3K0O3k7X0m5vH2u8
-----END PUBLIC KEY-----
"""


def _policy(authorities, **spec):
    return {
        "apiVersion": "sealgate.dev/v1alpha1",
        "kind": "ImagePolicy",
        "metadata": {"name": "p"},
        "spec": {"images": ["127.0.0.1:5000/**"], "authorities": authorities, **spec},
    }


def _compile(doc, source="/tmp/p.yaml"):
    return compile_documents([(source, 1, doc)])


ISSUER = "https://token.actions.githubusercontent.com"
KEYLESS = {
    "name": "gha",
    "keyless": {
        "identityRegExp": r"https://github\.com/org/repo/\.github/workflows/.*@refs/tags/v.*",
        "issuer": "https://token.actions.githubusercontent.com",
    },
}


def test_a_keyless_authority_compiles_with_the_public_good_root_by_default():
    policy = _compile(_policy([KEYLESS])).policies[0]
    (authority,) = policy.authorities
    assert authority.keyless
    assert authority.keys == ()
    assert authority.trusted_root is not None


def test_a_keyless_authority_with_its_own_trusted_root(vectors):
    root = vectors / "conformance" / "bundle-verify" / "intoto-with-custom-trust-root" / "trusted_root.json"
    doc = _policy(
        [{"name": "private", "keyless": {"identity": "a@example.com", "issuer": ISSUER, "trustedRoot": str(root)}}]
    )
    default = _compile(
        _policy([{"name": "private", "keyless": {"identity": "a@example.com", "issuer": ISSUER}}])
    ).policies[0]
    custom = _compile(doc).policies[0]
    assert custom.authorities[0].trusted_root is not default.authorities[0].trusted_root
    assert custom.hash != default.hash, "the trust root is part of what the cache key covers"


def test_the_identity_is_part_of_the_hash():
    a = _compile(_policy([{"name": "x", "keyless": {"identity": "a@example.com", "issuer": ISSUER}}])).policies[0]
    b = _compile(_policy([{"name": "x", "keyless": {"identity": "b@example.com", "issuer": ISSUER}}])).policies[0]
    assert a.hash != b.hash


def test_attestation_shorthands_become_predicate_type_uris():
    policy = _compile(
        _policy(
            [KEYLESS],
            attestations=[
                {"name": "sbom", "predicateType": "cyclonedx", "authorities": ["gha"]},
                {"name": "provenance", "predicateType": "https://slsa.dev/provenance/v1"},
            ],
        )
    ).policies[0]
    assert [(a.name, a.predicate_type, a.authorities) for a in policy.attestations] == [
        ("sbom", "https://cyclonedx.org/bom", ("gha",)),
        ("provenance", "https://slsa.dev/provenance/v1", ()),
    ]


@pytest.mark.parametrize(
    ("authorities", "spec", "fragment"),
    [
        pytest.param(
            [{"name": "x", "keyless": {"issuer": "https://i"}}],
            {},
            "spec.authorities[0].keyless: exactly one of identity or identityRegExp",
            id="keyless without an identity",
        ),
        pytest.param(
            [{"name": "x", "keyless": {"identity": "a", "identityRegExp": "a.*", "issuer": ISSUER}}],
            {},
            "exactly one of identity or identityRegExp",
            id="identity both exact and regexp",
        ),
        pytest.param(
            [{"name": "x", "keyless": {"identityRegExp": "(unclosed", "issuer": ISSUER}}],
            {},
            "spec.authorities[0].keyless: invalid certificate identity regular expression",
            id="identity regexp that does not compile",
        ),
        pytest.param(
            [{"name": "x", "keyless": {"identity": "a", "issuer": ISSUER, "trustedRoot": "missing.json"}}],
            {},
            "spec.authorities[0].keyless:",
            id="trusted root file missing",
        ),
        pytest.param(
            [{"name": "x", "keyless": {"identity": "a@example.com"}}],
            {},
            "spec.authorities[0].keyless: an OIDC issuer is required",
            id="keyless without an issuer",
        ),
        pytest.param(
            [{"name": "x", "keyless": {"identity": "a", "issuer": ISSUER, "issuerRegExp": ".*"}}],
            {},
            "issuer and issuerRegExp are exclusive",
            id="issuer both exact and regexp",
        ),
        pytest.param(
            [{"name": "x", "key": {"data": KEY}, "keyless": {"identity": "a", "issuer": ISSUER}}],
            {},
            "exactly one of key or keyless",
            id="key and keyless together",
        ),
        pytest.param(
            [KEYLESS],
            {"attestations": [{"name": "s", "predicateType": "not a uri"}]},
            "spec.attestations[0].predicateType",
            id="predicate type neither shorthand nor URI",
        ),
        pytest.param(
            [KEYLESS],
            {"attestations": [{"name": "s", "predicateType": "cyclonedx", "authorities": ["nope"]}]},
            "spec.attestations[0].authorities[0]: no authority named 'nope'",
            id="unknown authority",
        ),
        pytest.param(
            [KEYLESS],
            {"attestations": [{"name": "s", "predicateType": "cyclonedx",
                               "sbom": {"deny": [{"name": "r", "purl": "pkg:maven/g/a",
                                                  "versions": "vers:maven/<<"}]}}]},
            "spec.attestations[0].sbom.deny[0].versions: 'vers:maven/<<' is not a vers range",
            id="SBOM rule with a malformed vers range",
        ),
        pytest.param(
            [KEYLESS],
            {"attestations": [{"name": "s", "predicateType": "cyclonedx",
                               "sbom": {"deny": [{"name": "r", "purl": "pkg:nosuchtype/a"}]}}]},
            "spec.attestations[0].sbom.deny[0].purl: unknown purl type 'nosuchtype'",
            id="SBOM rule with an unknown purl type",
        ),
        pytest.param(
            [KEYLESS],
            {"attestations": [{"name": "s", "predicateType": "spdxjson",
                               "sbom": {"licenses": {"allow": ["MIT", "MIT AND"]}}}]},
            "spec.attestations[0].sbom.licenses.allow[1]",
            id="SBOM licence allow-list with an invalid SPDX id",
        ),
        pytest.param(
            [KEYLESS],
            {"attestations": [{"name": "s", "predicateType": "slsaprovenance", "sbom": {"maxAge": "24h"}}]},
            "spec.attestations[0].sbom: SBOM rules need a cyclonedx or spdxjson predicateType",
            id="SBOM rules on a provenance attestation",
        ),
    ],
)  # fmt: skip
def test_keyless_and_attestation_problems_name_their_field(authorities, spec, fragment):
    with pytest.raises(PolicyError) as exc:
        _compile(_policy(authorities, **spec))
    assert any(fragment in problem for problem in exc.value.problems), exc.value.problems
