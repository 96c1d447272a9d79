"""The wrong allows of issue 8 (matching, counting, oversized reviews), each tried as an attacker with push
rights would, over the real webhook (`sealgate serve` over HTTPS) and the real registry, beside the legitimate
case that must still be admitted.

- a digest reference is never matched by the tag written beside it: `infra/tool:1.2@D` is not exempt because
  `infra/tool:1.2` is, and `web/app:dev-1@D` does not pick the warn-mode `:dev-*` policy;
- `threshold: 2` needs two signers: two authorities with one key, or one key signing twice, is one; keyless
  authorities whose identity patterns overlap are not satisfied twice by one identity;
- a well-formed review above the body limit is an AdmissionReview denial naming the limit, not an HTTP 413 that
  the API server's failurePolicy would turn into an admission;
- an image volume (`volumes[].image.reference`) is pulled like a container image and verified like one;
- a log entry whose time Python cannot hold (past the year 9999) fails its candidate, even under `onError: allow`
  (it escaped as an internal error, which follows onError).
"""

from __future__ import annotations

import asyncio

import pytest

from tests.integration.test_keyless_e2e import _admit, _policy, _push_bundle, _push_legacy
from tests.support.keyedwebhook import keyed_webhook
from tools.reviews import review, shape, with_images
from tools.testsigstore import COSIGN_SIGN_PREDICATE, TestSigstore
from verifier.cli import main
from verifier.oci import Digest, Reference
from verifier.policy import compile_documents

pytestmark = pytest.mark.integration

PASSWORD = "wrong-allows-password"
MAX_BODY = 20_000

POLICIES = """\
apiVersion: sealgate.dev/v1alpha1
kind: ImagePolicy
metadata: {{name: infra}}
spec:
  images: ["{reg}/infra/**"]
  authorities: [{{name: ci, key: {{path: ci.pub}}}}]
---
apiVersion: sealgate.dev/v1alpha1
kind: ImagePolicy
metadata: {{name: web-release}}
spec:
  images: ["{reg}/web/app:v*"]
  authorities: [{{name: ci, key: {{path: ci.pub}}}}]
---
apiVersion: sealgate.dev/v1alpha1
kind: ImagePolicy
metadata: {{name: web-dev}}
spec:
  images: ["{reg}/web/app:dev-*"]
  mode: warn
  authorities: [{{name: ci, key: {{path: ci.pub}}}}]
---
apiVersion: sealgate.dev/v1alpha1
kind: ImagePolicy
metadata: {{name: two-of-three}}
spec:
  images: ["{reg}/two/**"]
  threshold: 2
  authorities:
    - {{name: ci, key: {{path: ci.pub}}}}
    - {{name: ci-again, key: {{path: ci.pub}}}}
    - {{name: release, key: {{path: release.pub}}}}
---
apiVersion: sealgate.dev/v1alpha1
kind: Settings
spec:
  exemptions: {{images: ["{reg}/infra/tool:1.2"]}}
"""


@pytest.fixture(scope="module")
def env(tmp_path_factory, registry):
    tmp = tmp_path_factory.mktemp("wrong-allows")
    policy = POLICIES.format(reg=registry.host)
    limits = {"SEALGATE_MAX_BODY_BYTES": str(MAX_BODY)}  # read by `sealgate serve` (WebhookSettings)
    with keyed_webhook(tmp, policy, password=PASSWORD, env=limits) as hook:
        yield {"tmp": tmp, "hook": hook, "registry": registry}


def _sign(env, image: str, key: str = "ci") -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COSIGN_PASSWORD", PASSWORD)
        assert main(["sign", "--key", str(env["tmp"] / f"{key}.key"), image]) == 0


# --- repo:tag@digest ---------------------------------------------------------------------------------------


def test_an_exemption_by_tag_does_not_exempt_an_unsigned_digest_written_with_that_tag(env, pushed_image):
    reg = env["registry"].host
    evil, evil_digest = pushed_image(env["registry"], repo="infra/tool", tag="evil")
    answer = env["hook"].admit(f"{reg}/infra/tool:1.2@{evil_digest}")
    assert answer["allowed"] is False, answer
    assert 'policy "infra": no signatures found' in answer["status"]["message"]
    # the legitimate cases: the exempt tag itself (no signature needed), and a signed digest written with it
    pushed_image(env["registry"], repo="infra/tool", tag="1.2")
    assert env["hook"].admit(f"{reg}/infra/tool:1.2")["allowed"] is True
    good, good_digest = pushed_image(env["registry"], repo="infra/tool", tag="good")
    _sign(env, good)
    assert env["hook"].admit(f"{reg}/infra/tool:1.2@{good_digest}")["allowed"] is True


def test_a_warn_mode_tag_policy_cannot_be_picked_by_writing_its_tag_beside_a_digest(env, pushed_image):
    reg = env["registry"].host
    _, evil_digest = pushed_image(env["registry"], repo="web/app", tag="evil")
    answer = env["hook"].admit(f"{reg}/web/app:dev-1@{evil_digest}")
    assert answer["allowed"] is False, answer
    assert "no policy matches" in answer["status"]["message"]
    # the legitimate case: a dev tag (by tag alone) is still only warned about
    dev, _ = pushed_image(env["registry"], repo="web/app", tag="dev-1")
    answer = env["hook"].admit(dev)
    assert answer["allowed"] is True
    assert any('policy "web-dev": no signatures found' in w for w in answer["warnings"])


# --- threshold -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("signers", "allowed"),
    [
        pytest.param(["ci"], False, id="one key that two authorities hold is one signer"),
        pytest.param(["ci", "ci"], False, id="one key signing twice is one signer"),
        pytest.param(["ci", "release"], True, id="two keys are two signers"),
    ],
)
def test_threshold_counts_distinct_signers(env, pushed_image, signers, allowed):
    ref, _ = pushed_image(env["registry"], repo="two/app", tag="-".join(signers))
    for key in signers:
        _sign(env, ref, key)
    answer = env["hook"].admit(ref)
    assert answer["allowed"] is allowed, answer
    if not allowed:
        assert "1 of the required 2 authorities verified" in answer["status"]["message"]


IDENTITY = "https://github.com/org/app/.github/workflows/release.yml@refs/tags/v1.0.0"
OTHER = "https://github.com/org/app/.github/workflows/other.yml@refs/heads/main"
OUTSIDER = "https://github.com/attacker/fork/.github/workflows/release.yml@refs/heads/main"
ISSUER = "https://token.actions.githubusercontent.com"


@pytest.fixture(scope="module")
def sigstore(tmp_path_factory):
    return TestSigstore(tmp_path_factory.mktemp("sigstore"))


def _overlapping(sigstore: TestSigstore, registry) -> object:
    root = str(sigstore.trusted_root_path)
    doc = {
        "apiVersion": "sealgate.dev/v1alpha1",
        "kind": "ImagePolicy",
        "metadata": {"name": "two-people"},
        "spec": {
            "images": [f"{registry.host}/people/**"],
            "threshold": 2,
            "authorities": [
                {
                    "name": "anyone-in-org",
                    "keyless": {
                        "identityRegExp": r"https://github\.com/org/app/.*",
                        "issuer": ISSUER,
                        "trustedRoot": root,
                    },
                },
                {"name": "release", "keyless": {"identity": IDENTITY, "issuer": ISSUER, "trustedRoot": root}},
            ],
        },
    }
    return compile_documents([("people.yaml", 1, doc)])


@pytest.mark.parametrize(
    ("identities", "allowed"),
    [
        pytest.param([IDENTITY], False, id="one identity matching two overlapping patterns counts once"),
        pytest.param([IDENTITY, IDENTITY], False, id="one identity signing twice counts once"),
        pytest.param([IDENTITY, OTHER], True, id="two identities count twice"),
    ],
)
def test_overlapping_keyless_identities_count_one_identity_once(registry, pushed_image, sigstore, identities, allowed):
    ref_text, digest = pushed_image(registry, repo="people/app", tag=f"n{len(identities)}-{len(set(identities))}")
    ref = Reference.parse(ref_text)
    for identity in identities:
        layer = sigstore.sign_image_legacy(digest=digest, docker_reference=ref.name, identity=identity, issuer=ISSUER)
        asyncio.run(_push_legacy(ref, Digest.parse(digest), layer))
    answer = _admit(_overlapping(sigstore, registry), f"{ref.name}@{digest}")
    assert answer["allowed"] is allowed, answer


# --- oversized reviews -----------------------------------------------------------------------------------------


def test_a_well_formed_review_above_the_limit_is_denied_by_uid_not_left_to_the_failure_policy(env, pushed_image):
    ref, _ = pushed_image(env["registry"], repo="infra/big", tag="v1")
    _sign(env, ref)
    doc = review(with_images(shape("pod"), [ref]))
    doc["request"]["object"]["metadata"]["annotations"] = {"padding": "x" * (2 * MAX_BODY)}
    status, answer = env["hook"].post(doc)
    assert status == 200, answer
    response = answer["response"]
    assert response["uid"] == doc["request"]["uid"] and response["allowed"] is False
    assert f"above the {MAX_BODY}-byte limit" in response["status"]["message"]
    # the legitimate case: the same signed image in a review of ordinary size
    assert env["hook"].admit(ref)["allowed"] is True


# --- image volumes -------------------------------------------------------------------------------------------


def test_an_unsigned_image_volume_beside_a_signed_container_is_denied(env, pushed_image):
    app, _ = pushed_image(env["registry"], repo="infra/app", tag="v1")
    tools, _ = pushed_image(env["registry"], repo="infra/tools", tag="v1")
    _sign(env, app)
    obj = with_images(shape("pod"), [app])
    obj["spec"]["volumes"] = [{"name": "tools", "image": {"reference": tools, "pullPolicy": "IfNotPresent"}}]
    answer = env["hook"].admit_object(obj)
    assert answer["allowed"] is False, answer
    assert (
        f'spec.volumes[0].image.reference "{tools}": policy "infra": no signatures found'
        in (answer["status"]["message"])
    )
    signed_tools, _ = pushed_image(env["registry"], repo="infra/tools", tag="signed")
    _sign(env, signed_tools)  # the legitimate case: a signed image volume
    obj["spec"]["volumes"][0]["image"]["reference"] = signed_tools
    assert env["hook"].admit_object(obj)["allowed"] is True


# --- a log entry's time Python cannot hold ---------------------------------------------------------------------


def _outsider_bundle_with_a_time_past_9999(sigstore: TestSigstore, digest: str) -> dict:
    """A keyless bundle by an identity the policy does not trust, for the attacker's own image, with its log entry
    copied once more without its promise and with integratedTime 10**17 (an inclusion proof covers the entry's
    body, not its time, so the copy still proves inclusion). Converting that time raised OSError, which escaped
    the judge as an internal error: and an internal error follows onError."""
    statement = sigstore.statement_for_image(digest, COSIGN_SIGN_PREDICATE)
    bundle = sigstore.sign_bundle(statement=statement, identity=OUTSIDER, issuer=ISSUER)
    entries = bundle["verificationMaterial"]["tlogEntries"]
    twin = {k: v for k, v in entries[0].items() if k != "inclusionPromise"}
    entries.append({**twin, "integratedTime": str(10**17)})
    return bundle


@pytest.mark.parametrize("on_error", ["deny", "allow"])
def test_a_log_time_past_the_year_9999_is_a_failed_candidate_not_an_internal_error(
    registry, pushed_image, sigstore, on_error
):
    ref_text, digest = pushed_image(registry, repo="keyless/outsider", tag=f"t-{on_error}")
    ref = Reference.parse(ref_text)
    bundle = _outsider_bundle_with_a_time_past_9999(sigstore, digest)
    asyncio.run(_push_bundle(ref, Digest.parse(digest), bundle, COSIGN_SIGN_PREDICATE))
    policies = _policy(registry, sigstore, identity=IDENTITY, issuer=ISSUER, on_error=on_error)
    answer = _admit(policies, f"{ref.name}@{digest}")
    assert answer["allowed"] is False, answer
    message = answer["status"]["message"]
    assert "internal error" not in message and "integratedTime" in message and "year 10000" in message, message
