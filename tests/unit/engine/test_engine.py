"""The engine decides: policy semantics, caching, singleflight, no-match, SSRF allow-list, N-of-M.

Runs on the in-memory registry (tests/support/memregistry.py, through the ``Registry`` protocol), with real
keys and real signatures written by `sign_image`, and a clock the tests move.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.support.memregistry import MemRegistry
from verifier.attachments import sign_image
from verifier.cosign import generate_signing_key, public_key_pem
from verifier.engine import Engine, Outcome
from verifier.oci import Reference
from verifier.policy import compile_documents

KEYS = {name: generate_signing_key() for name in ("ci", "release", "stranger")}
HOST = "mem.test"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _policy(name, images, authorities=("ci",), **spec):
    return {
        "apiVersion": "sealgate.dev/v1alpha1",
        "kind": "ImagePolicy",
        "metadata": {"name": name},
        "spec": {
            "images": images,
            "authorities": [
                {"name": a, "key": {"data": public_key_pem(KEYS[a].public_key()).decode()}} for a in authorities
            ],
            **spec,
        },
    }


def _settings(**spec):
    return {"apiVersion": "sealgate.dev/v1alpha1", "kind": "Settings", "spec": spec}


def _compile(*docs):
    return compile_documents([("test.yaml", i + 1, d) for i, d in enumerate(docs)])


@pytest.fixture
def reg():
    return MemRegistry()


def _add(reg, repo, tag):
    """An image ``HOST/repo:tag``; returns its digest."""
    return reg.add_image(f"{HOST}/{repo}", tag, layer=f"{repo}:{tag}".encode()).partition("@")[2]


async def _signed(reg, repo, tag, *signers):
    digest = _add(reg, repo, tag)
    for signer in signers:
        await reg.sign(f"{HOST}/{repo}:{tag}", KEYS[signer])
    return f"{HOST}/{repo}:{tag}", digest


def _reads(reg):
    return sum(reg.calls.values())


async def test_signed_image_is_allowed_and_names_the_authority(reg):
    image, digest = await _signed(reg, "team/app", "v1", "ci")
    engine = Engine(_compile(_policy("prod", [f"{HOST}/team/**"])), reg)
    decision = await engine.decide(image)
    assert decision.outcome is Outcome.ALLOW
    assert decision.digest == digest
    assert decision.resolved_from_tag == "v1"
    assert decision.results[0].authorities == ("ci",)


async def test_unsigned_image_is_denied_with_no_signatures(reg):
    _add(reg, "team/app", "unsigned")
    engine = Engine(_compile(_policy("prod", [f"{HOST}/team/**"])), reg)
    decision = await engine.decide(f"{HOST}/team/app:unsigned")
    assert decision.outcome is Outcome.DENY
    assert decision.code == "NO_SIGNATURES"
    assert decision.reason == 'policy "prod": no signatures found'


async def test_wrong_key_is_denied_naming_the_authority(reg):
    image, _ = await _signed(reg, "team/app", "v1", "stranger")
    engine = Engine(_compile(_policy("prod", [f"{HOST}/team/**"])), reg)
    decision = await engine.decide(image)
    assert decision.outcome is Outcome.DENY
    assert decision.code == "SIGNATURE_INVALID"
    assert decision.results[0].reason == 'no signature verifies with key of "ci"'


async def test_every_matching_policy_must_pass(reg):
    image, _ = await _signed(reg, "team/app", "v1", "ci")
    engine = Engine(
        _compile(
            _policy("ci-signed", [f"{HOST}/team/**"]),
            _policy("release-signed", [f"{HOST}/team/app"], authorities=("release",)),
        ),
        reg,
    )
    decision = await engine.decide(image)
    assert decision.outcome is Outcome.DENY
    assert [(r.policy, r.passed) for r in decision.results] == [("ci-signed", True), ("release-signed", False)]


async def test_one_authority_suffices_unless_threshold_says_more(reg):
    image, _ = await _signed(reg, "team/app", "v1", "release")
    one = Engine(_compile(_policy("any", [f"{HOST}/**"], authorities=("ci", "release"))), reg)
    assert (await one.decide(image)).outcome is Outcome.ALLOW
    two = Engine(_compile(_policy("both", [f"{HOST}/**"], authorities=("ci", "release"), threshold=2)), reg)
    decision = await two.decide(image)
    assert decision.outcome is Outcome.DENY
    assert decision.code == "THRESHOLD_NOT_MET"
    assert decision.results[0].reason == '1 of the required 2 authorities verified (missing "ci")'
    await _signed(reg, "team/app", "v1", "ci")  # now both signed
    two = Engine(_compile(_policy("both", [f"{HOST}/**"], authorities=("ci", "release"), threshold=2)), reg)
    assert (await two.decide(image)).outcome is Outcome.ALLOW


async def test_warn_mode_admits_with_a_warning(reg):
    _add(reg, "team/app", "unsigned")
    engine = Engine(_compile(_policy("audit", [f"{HOST}/**"], mode="warn")), reg)
    decision = await engine.decide(f"{HOST}/team/app:unsigned")
    assert decision.outcome is Outcome.WARN
    assert decision.allowed


@pytest.mark.parametrize(
    ("no_match", "outcome"), [("deny", Outcome.DENY), ("allow", Outcome.ALLOW), ("warn", Outcome.WARN)]
)
async def test_no_match_follows_settings_and_contacts_no_registry(reg, no_match, outcome):
    engine = Engine(_compile(_policy("prod", [f"{HOST}/team/**"]), _settings(noMatch=no_match)), reg)
    decision = await engine.decide(f"{HOST}/other/app:v1")
    assert decision.outcome is outcome
    assert decision.code == "NO_MATCH"
    assert _reads(reg) == 0


async def test_no_match_denies_by_default(reg):
    engine = Engine(_compile(_policy("prod", [f"{HOST}/team/**"])), reg)
    assert (await engine.decide("docker.io/library/nginx:1.25")).outcome is Outcome.DENY
    assert _reads(reg) == 0


async def test_registry_not_named_by_any_policy_is_never_contacted(reg):
    """SSRF: a registry no policy names gets no request, whatever the image says."""
    engine = Engine(_compile(_policy("prod", [f"{HOST}/**"]), _settings(noMatch="allow")), reg)
    decision = await engine.decide("127.0.0.1:5000/team/app:v1")
    assert decision.code == "NO_MATCH"
    assert _reads(reg) == 0


async def test_require_digest_denies_tags_without_a_registry_request(reg):
    image, digest = await _signed(reg, "team/app", "v1", "ci")
    engine = Engine(_compile(_policy("pinned", [f"{HOST}/**"], requireDigest=True)), reg)
    before = _reads(reg)
    decision = await engine.decide(image)
    assert decision.code == "DIGEST_REQUIRED"
    assert _reads(reg) == before
    assert (await engine.decide(f"{HOST}/team/app@{digest}")).outcome is Outcome.ALLOW


async def test_invalid_reference_is_denied(reg):
    engine = Engine(_compile(_policy("prod", [f"{HOST}/**"]), _settings(noMatch="allow")), reg)
    decision = await engine.decide("UPPER/Case:v1")
    assert decision.outcome is Outcome.DENY
    assert decision.code == "REFERENCE_INVALID"


async def test_exempt_namespace_and_image_are_allowed_without_verification(reg):
    engine = Engine(
        _compile(
            _policy("prod", [f"{HOST}/**"]),
            _settings(exemptions={"namespaces": ["kube-*"], "images": [f"{HOST}/infra/**"]}),
        ),
        reg,
    )
    assert (await engine.decide(f"{HOST}/team/app:v1", namespace="kube-system")).code == "EXEMPT"
    assert (await engine.decide(f"{HOST}/infra/proxy:v1", namespace="prod")).code == "EXEMPT"
    assert _reads(reg) == 0


async def test_namespace_selection_by_name(reg):
    _add(reg, "team/app", "unsigned")
    engine = Engine(
        _compile(_policy("prod", [f"{HOST}/**"], namespaces={"exclude": ["dev-*"]}), _settings(noMatch="allow")),
        reg,
    )
    assert (await engine.decide(f"{HOST}/team/app:unsigned", namespace="dev-alice")).code == "NO_MATCH"
    assert (await engine.decide(f"{HOST}/team/app:unsigned", namespace="prod")).outcome is Outcome.DENY


async def test_namespace_label_selection_fails_closed_without_labels(reg):
    image, _ = await _signed(reg, "team/app", "v1", "ci")
    policies = _compile(_policy("prod", [f"{HOST}/**"], namespaces={"matchLabels": {"env": "prod"}}))
    blind = Engine(policies, reg)
    decision = await blind.decide(image, namespace="payments")
    assert decision.outcome is Outcome.DENY
    assert decision.code == "NAMESPACE_LABELS_UNAVAILABLE"

    async def labels(name):
        return {"env": "prod"} if name == "payments" else {"env": "dev"}

    seeing = Engine(policies, reg, namespace_labels=labels)
    assert (await seeing.decide(image, namespace="payments")).outcome is Outcome.ALLOW
    assert (await seeing.decide(image, namespace="sandbox")).code == "NO_MATCH"


async def test_verdicts_are_cached_by_digest_and_policy(reg):
    image, digest = await _signed(reg, "team/app", "v1", "ci")
    clock = Clock()
    engine = Engine(_compile(_policy("prod", [f"{HOST}/**"])), reg, clock=clock)
    by_digest = f"{HOST}/team/app@{digest}"
    first = await engine.decide(by_digest)
    requests = _reads(reg)
    second = await engine.decide(by_digest)
    assert (first.cached, second.cached) == (False, True)
    assert _reads(reg) == requests, "a cached verdict must not touch the registry"
    assert engine.stats.cache_hits == 1
    clock.now += 301  # past ttlSeconds (300)
    third = await engine.decide(by_digest)
    assert third.cached is False
    assert _reads(reg) > requests


async def test_a_changed_policy_does_not_reuse_old_verdicts(reg):
    image, digest = await _signed(reg, "team/app", "v1", "ci")
    engine = Engine(_compile(_policy("prod", [f"{HOST}/**"])), reg)
    by_digest = f"{HOST}/team/app@{digest}"
    assert (await engine.decide(by_digest)).outcome is Outcome.ALLOW
    changed = _compile(_policy("prod", [f"{HOST}/**"], authorities=("release",)))
    assert changed.policies[0].hash != engine.policies.policies[0].hash, "verdicts are cached by policy hash"
    decision = await Engine(changed, reg).decide(by_digest)
    assert decision.outcome is Outcome.DENY
    assert decision.cached is False


async def test_failures_are_cached_briefly(reg):
    digest = _add(reg, "team/app", "unsigned")
    clock = Clock()
    engine = Engine(
        _compile(_policy("prod", [f"{HOST}/**"]), _settings(cache={"failureTtlSeconds": 5})), reg, clock=clock
    )
    by_digest = f"{HOST}/team/app@{digest}"
    assert (await engine.decide(by_digest)).cached is False
    assert (await engine.decide(by_digest)).cached is True
    clock.now += 6
    assert (await engine.decide(by_digest)).cached is False


async def test_registry_outage_is_denied_and_never_cached(reg):
    image, digest = await _signed(reg, "team/app", "v1", "ci")
    engine = Engine(_compile(_policy("prod", [f"{HOST}/**"])), reg)
    by_digest = f"{HOST}/team/app@{digest}"
    reg.down = True  # the outage
    decision = await engine.decide(by_digest)
    assert decision.outcome is Outcome.DENY
    assert decision.code == "REGISTRY_UNAVAILABLE"
    assert f"registry {HOST} unavailable" in decision.reason
    # the registry is back: the very next request verifies (nothing cached the outage)
    reg.down = False
    assert (await engine.decide(by_digest)).outcome is Outcome.ALLOW


async def test_concurrent_requests_share_one_verification(reg):
    image, digest = await _signed(reg, "team/app", "v1", "ci")
    engine = Engine(_compile(_policy("prod", [f"{HOST}/**"])), reg)
    by_digest = f"{HOST}/team/app@{digest}"
    reg.delay = 0.01  # every read yields, so the 20 requests overlap
    before = reg.calls["get_manifest"]
    decisions = await asyncio.gather(*(engine.decide(by_digest) for _ in range(20)))
    assert all(d.outcome is Outcome.ALLOW for d in decisions)
    assert reg.calls["get_manifest"] - before == 1, "one .sig manifest read for all 20"
    assert engine.stats.verifications == 1


async def test_decide_many_keeps_order_and_dedupes(reg):
    good, _ = await _signed(reg, "team/app", "good", "ci")
    _add(reg, "team/app", "bad")
    bad = f"{HOST}/team/app:bad"
    engine = Engine(_compile(_policy("prod", [f"{HOST}/**"])), reg)
    decisions = await engine.decide_many([good, bad, good])
    assert [d.outcome for d in decisions] == [Outcome.ALLOW, Outcome.DENY, Outcome.ALLOW]


async def test_a_pass_under_sbom_max_age_is_cached_no_longer_than_the_sbom_stays_fresh(reg):
    """ttlSeconds is 300, but the SBOM (written 2h - 60s ago, maxAge 2h) stops passing in about a minute: the
    verdict must not outlive it, or the image would be admitted from the cache with a stale SBOM."""
    image, digest = await _signed(reg, "team/sbom", "v1", "ci")
    written = datetime.now(UTC) - timedelta(hours=2) + timedelta(seconds=60)
    sbom = {"bomFormat": "CycloneDX", "specVersion": "1.6", "metadata": {"timestamp": written.isoformat()}}
    await reg.attest(image, KEYS["ci"], predicate=json.dumps(sbom).encode(), predicate_type="cyclonedx")
    attestations = [{"name": "sbom", "predicateType": "cyclonedx", "authorities": ["ci"], "sbom": {"maxAge": "2h"}}]
    clock = Clock()
    engine = Engine(_compile(_policy("prod", [f"{HOST}/**"], attestations=attestations)), reg, clock=clock)
    by_digest = f"{HOST}/team/sbom@{digest}"
    assert (await engine.decide(by_digest)).outcome is Outcome.ALLOW
    clock.now += 30
    assert (await engine.decide(by_digest)).cached is True  # still fresh: from the cache
    clock.now += 60  # past the SBOM's freshness, though ttlSeconds has not run out: judged again, not cached
    assert (await engine.decide(by_digest)).cached is False
    # the control: the same policy without maxAge keeps the pass for ttlSeconds
    del attestations[0]["sbom"]
    plain = Engine(_compile(_policy("prod", [f"{HOST}/**"], attestations=attestations)), reg, clock=clock)
    assert (await plain.decide(by_digest)).cached is False
    clock.now += 90
    assert (await plain.decide(by_digest)).cached is True


async def test_policy_annotations_and_reference_check_are_enforced(reg):
    """`annotations` and `skipReferenceCheck` in a policy mean what `verify -a` and `--skip-reference-check` mean."""
    digest = _add(reg, "team/app", "v1")
    ref = Reference.parse(f"{HOST}/team/app:v1")
    await sign_image(reg, ref, KEYS["ci"], annotations={"env": "prod"}, docker_reference="example.com/other")
    image = f"{HOST}/team/app@{digest}"
    glob = [f"{HOST}/**"]

    async def decide(**spec):
        return await Engine(_compile(_policy("prod", glob, **spec)), reg).decide(image)

    strict = await decide(annotations={"env": "prod"})
    assert (strict.outcome, strict.code) == (Outcome.DENY, "REFERENCE_MISMATCH")
    assert (await decide(annotations={"env": "prod"}, skipReferenceCheck=True)).outcome is Outcome.ALLOW
    wrong = await decide(annotations={"env": "dev"}, skipReferenceCheck=True)
    assert (wrong.outcome, wrong.code) == (Outcome.DENY, "ANNOTATION_MISMATCH")
    assert "annotations do not match env=dev" in wrong.reason
