"""The engine end to end over the in-memory registry (tests/support/memregistry.py): no HTTP, real signatures.

Material is written by the project's own signer and attester (``sign_image``/``attest_image``), read back by
discovery through the ``Registry`` protocol, and judged.
"""

from __future__ import annotations

import pytest

from tests.support.memregistry import MemRegistry
from verifier.cosign import generate_signing_key, public_key_pem
from verifier.engine import Engine, Outcome
from verifier.policy import compile_documents

KEY = generate_signing_key()
STRANGER = generate_signing_key()
REPO = "mem.test/team/app"


def _policies(**spec):
    doc = {
        "apiVersion": "sealgate.dev/v1alpha1",
        "kind": "ImagePolicy",
        "metadata": {"name": "prod"},
        "spec": {
            "images": ["mem.test/**"],
            "authorities": [{"name": "ci", "key": {"data": public_key_pem(KEY.public_key()).decode()}}],
            **spec,
        },
    }
    return compile_documents([("p.yaml", 1, doc)])


async def test_signed_is_allowed_and_unsigned_denied_with_the_reason():
    reg = MemRegistry()
    signed = reg.add_image(REPO, "v1", layer=b"signed")
    unsigned = reg.add_image(REPO, "v2", layer=b"unsigned")
    await reg.sign(signed, KEY)
    engine = Engine(_policies(), reg)
    allowed, denied = await engine.decide_many([f"{REPO}:v1", unsigned])
    assert allowed.outcome is Outcome.ALLOW, allowed
    assert allowed.digest == signed.partition("@")[2] and allowed.resolved_from_tag == "v1"
    assert allowed.results[0].authorities == ("ci",)
    assert denied.outcome is Outcome.DENY
    assert denied.code == "NO_SIGNATURES"
    assert denied.reason.startswith('policy "prod": ')
    # the fast path: the signed image was decided on its .sig manifest and payload alone, no referrers read
    assert reg.calls["get_referrers"] == 1  # the unsigned image's slow path only


async def test_a_signature_by_another_key_is_denied_naming_the_authority():
    reg = MemRegistry()
    image = reg.add_image(REPO, "v1")
    await reg.sign(image, STRANGER)
    decision = await Engine(_policies(), reg).decide(image)
    assert decision.outcome is Outcome.DENY
    assert decision.code == "SIGNATURE_INVALID", decision
    assert '"ci"' in decision.reason


@pytest.mark.parametrize("bundle_format", [False, True], ids=["legacy .att", "bundle referrer"])
@pytest.mark.parametrize("referrers_api", [True, False], ids=["referrers API", "fallback tag"])
async def test_an_attestation_policy_passes_only_with_the_attestation(bundle_format, referrers_api):
    reg = MemRegistry(referrers_api=referrers_api)
    image = reg.add_image(REPO, "v1")
    await reg.sign(image, KEY)
    policies = _policies(attestations=[{"name": "prov", "predicateType": "https://example.com/custom/v1"}])
    before = await Engine(policies, reg).decide(image)
    assert before.outcome is Outcome.DENY and before.code == "ATTESTATION_MISSING", before
    await reg.attest(
        image,
        KEY,
        predicate=b'{"built": "ci"}',
        predicate_type="https://example.com/custom/v1",
        bundle_format=bundle_format,
    )
    after = await Engine(policies, reg, keep_statements=True).decide(image)
    assert after.outcome is Outcome.ALLOW, after
    statements = [e.statement for e in after.results[0].evidence if e.kind == "attestation" and e.verified]
    assert statements and statements[0]["predicate"] == {"built": "ci"}


async def test_the_registry_is_read_only_for_images_a_policy_matches():
    reg = MemRegistry()
    decision = await Engine(_policies(), reg).decide("other.test/team/app:v1")
    assert decision.code == "NO_MATCH"
    assert sum(reg.calls.values()) == 0
