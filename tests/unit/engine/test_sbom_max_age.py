"""SBOM ``maxAge`` when the SBOM states no time: the age runs from the attestation's *verified* signing time
(the transparency-log integrated time or RFC 3161 timestamp of a bundle, the Rekor SET of a legacy ``.att``
layer); with no verified time the age is unknown and the requirement is denied (fail closed)."""

from __future__ import annotations

import base64
import dataclasses
import json
from datetime import UTC, datetime, timedelta

import pytest

from tools.testsigstore import TestSigstore, pae
from verifier.cosign import (
    BUNDLE_PREDICATE_ANNOTATION,
    BUNDLE_V03_MEDIA_TYPE,
    DSSE_MEDIA_TYPE,
    Attachment,
    generate_signing_key,
    public_key_pem,
)
from verifier.cosign._attest import build_key_bundle
from verifier.crypto import sign_bytes
from verifier.engine import judge
from verifier.oci import Digest, Reference
from verifier.policy import CompiledPolicy, compile_documents
from verifier.sigstore import TrustedRoot

CYCLONEDX = "https://cyclonedx.org/bom"
INTOTO = "application/vnd.in-toto+json"
IDENTITY = "https://github.com/org/app/.github/workflows/release.yml@refs/tags/v1.0.0"
ISSUER = "https://token.actions.githubusercontent.com"
KEY = generate_signing_key()
IMAGE = Reference.parse("127.0.0.1:5000/sbom/app")
DIGEST = Digest.of(b'{"schemaVersion":2,"the":"image manifest"}')
SIGNED = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)  # when the test Sigstore logs and timestamps everything
NO_TIME = {"bomFormat": "CycloneDX", "specVersion": "1.6", "components": []}


@pytest.fixture(scope="module")
def sg(tmp_path_factory: pytest.TempPathFactory) -> TestSigstore:
    return TestSigstore(tmp_path_factory.mktemp("sigstore"), now=SIGNED)


def _policy(sg: TestSigstore, authority: dict, *, key_root: bool = False) -> CompiledPolicy:
    spec = {
        "images": ["127.0.0.1:5000/**"],
        "authorities": [authority],
        "attestations": [{"name": "sbom", "predicateType": "cyclonedx", "sbom": {"maxAge": "2h"}}],
    }
    doc = {"apiVersion": "sealgate.dev/v1alpha1", "kind": "ImagePolicy", "metadata": {"name": "prod"}, "spec": spec}
    (policy,) = compile_documents([("p.yaml", 0, doc)]).policies
    if key_root:  # key authorities trust the public-good root; this one trusts the test Sigstore's log
        root = sg.trusted_root_path.read_bytes()
        authority_with_root = dataclasses.replace(
            policy.authorities[0], trusted_root=TrustedRoot.from_content(root, source="test")
        )
        policy = dataclasses.replace(policy, authorities=(authority_with_root,))
    return policy


def _keyless(sg: TestSigstore) -> CompiledPolicy:
    keyless = {"identity": IDENTITY, "issuer": ISSUER, "trustedRoot": str(sg.trusted_root_path)}
    return _policy(sg, {"name": "ci", "keyless": keyless})


def _keyed(sg: TestSigstore, *, key_root: bool = True) -> CompiledPolicy:
    return _policy(sg, {"name": "ci", "key": {"data": public_key_pem(KEY.public_key()).decode()}}, key_root=key_root)


def _statement(sg: TestSigstore, predicate: dict) -> dict:
    return sg.statement_for_image(str(DIGEST), CYCLONEDX, predicate)


def _bundle(bundle: bytes | dict) -> Attachment:
    data = bundle if isinstance(bundle, bytes) else json.dumps(bundle).encode()
    annotations = {BUNDLE_PREDICATE_ANNOTATION: CYCLONEDX}
    return Attachment("referrers", BUNDLE_V03_MEDIA_TYPE, Digest.of(data), data, annotations, data)


def _legacy_att(
    sg: TestSigstore, predicate: dict, *, logged: bool = True, tamper: bool = False, logged_key: object = KEY
) -> Attachment:
    """A key-signed ``.att`` layer as cosign writes it, with its Rekor SET annotation when ``logged``."""
    payload = json.dumps(_statement(sg, predicate)).encode()
    signature = base64.b64encode(sign_bytes(KEY, pae(INTOTO, payload))).decode()
    encoded = base64.b64encode(payload).decode()
    envelope = {"payloadType": INTOTO, "payload": encoded, "signatures": [{"sig": signature}]}
    data = json.dumps(envelope).encode()
    annotations = {"predicateType": CYCLONEDX}
    if logged:
        verifier = public_key_pem(logged_key.public_key())  # type: ignore[attr-defined]
        entry = sg.log.add_dsse(envelope, verifier, integrated_time=int(SIGNED.timestamp()))
        annotation = json.loads(sg.cosign_bundle_annotation(entry))
        if tamper:  # the SET no longer signs this integrated time
            annotation["Payload"]["integratedTime"] -= 3600
        annotations["dev.sigstore.cosign/bundle"] = json.dumps(annotation)
    return Attachment("legacy-att", DSSE_MEDIA_TYPE, Digest.of(data), data, annotations)


def _at(hours: float) -> datetime:
    return SIGNED + timedelta(hours=hours)


def _judge(policy: CompiledPolicy, found: Attachment, hours: float):
    return judge(dataclasses.replace(policy, threshold=0), IMAGE, DIGEST, [found], now=_at(hours))


def _cases(sg: TestSigstore) -> dict[str, tuple[CompiledPolicy, Attachment]]:
    statement = _statement(sg, NO_TIME)
    keyless = {"statement": statement, "identity": IDENTITY, "issuer": ISSUER}
    return {
        "keyless bundle (Rekor)": (_keyless(sg), _bundle(sg.sign_bundle(**keyless))),
        "keyless bundle (Rekor + RFC 3161)": (_keyless(sg), _bundle(sg.sign_bundle(**keyless, tsa=True))),
        "key-signed bundle (Rekor)": (_keyed(sg), _bundle(sg.sign_bundle(statement=statement, key=KEY))),
        "key-signed legacy .att (Rekor SET)": (_keyed(sg), _legacy_att(sg, NO_TIME)),
    }  # fmt: skip


@pytest.mark.parametrize(
    "case",
    ["keyless bundle (Rekor)", "keyless bundle (Rekor + RFC 3161)", "key-signed bundle (Rekor)",
     "key-signed legacy .att (Rekor SET)"],
)  # fmt: skip
def test_an_sbom_without_a_time_is_as_old_as_its_verified_signature(sg, case):
    policy, found = _cases(sg)[case]
    fresh = _judge(policy, found, 1.5)
    assert fresh.passed, fresh.reason
    stale = _judge(policy, found, 3)
    assert not stale.passed and stale.code == "SBOM_DENIED"
    assert stale.reason == "SBOM states no time; it was signed 3h ago, longer than maxAge 2h"


@pytest.mark.parametrize("case", ["key-signed bundle without a log entry", "legacy .att without a SET",
                                  "legacy .att whose SET does not verify",
                                  "legacy .att whose log entry names another key"])  # fmt: skip
def test_no_sbom_time_and_no_verified_signing_time_is_denied(sg, case):
    unlogged = build_key_bundle(KEY, json.dumps(_statement(sg, NO_TIME)).encode())
    found = {
        "key-signed bundle without a log entry": _bundle(unlogged),
        "legacy .att without a SET": _legacy_att(sg, NO_TIME, logged=False),
        "legacy .att whose SET does not verify": _legacy_att(sg, NO_TIME, tamper=True),
        "legacy .att whose log entry names another key": _legacy_att(sg, NO_TIME, logged_key=generate_signing_key()),
    }[case]  # fmt: skip
    result = _judge(_keyed(sg), found, 0.5)  # however fresh it may be, its age is unknown
    assert not result.passed and result.code == "SBOM_DENIED"
    assert result.reason == (
        "SBOM states no time and its attestation has no verified signing time (transparency log or RFC 3161 "
        "timestamp), so its age is unknown: denied by maxAge 2h"
    )
    # the attestation itself verified: without maxAge the same SBOM passes
    policy = _keyed(sg)
    (wanted,) = policy.attestations
    no_age = dataclasses.replace(wanted, sbom=dataclasses.replace(wanted.sbom, max_age=None))
    assert _judge(dataclasses.replace(policy, attestations=(no_age,)), found, 0.5).passed


def test_a_log_entry_the_authority_does_not_trust_fails_the_bundle_not_just_its_time(sg):
    # a key authority on the public-good root: the test log's entry is evidence it cannot check
    found = _bundle(sg.sign_bundle(statement=_statement(sg, NO_TIME), key=KEY))
    result = _judge(_keyed(sg, key_root=False), found, 0.5)
    assert not result.passed and result.code != "SBOM_DENIED"


def test_the_sboms_own_time_comes_first(sg):
    written = {**NO_TIME, "metadata": {"timestamp": (SIGNED - timedelta(hours=5)).isoformat()}}
    keyless = sg.sign_bundle(statement=_statement(sg, written), identity=IDENTITY, issuer=ISSUER)
    result = _judge(_keyless(sg), _bundle(keyless), 1)  # signed 1h ago, written 6h ago
    assert not result.passed and result.reason == "SBOM is 6h old, older than maxAge 2h"


def test_a_pass_is_fresh_only_until_the_freshest_sbom_grows_too_old(sg):
    """The verdict cache keeps a pass no longer than maxAge allows: ``fresh_until`` is when the SBOM (signed at
    SIGNED, maxAge 2h) stops passing, and the engine caps the verdict's TTL at it."""
    policy, found = _cases(sg)["keyless bundle (Rekor)"]
    fresh = _judge(policy, found, 1.5)
    assert fresh.passed and fresh.fresh_until == SIGNED + timedelta(hours=2)
    assert _judge(policy, found, 3).fresh_until is None  # a failure is cached for the failure TTL as ever
    written = {**NO_TIME, "metadata": {"timestamp": (SIGNED - timedelta(minutes=30)).isoformat()}}
    own_time = _bundle(sg.sign_bundle(statement=_statement(sg, written), identity=IDENTITY, issuer=ISSUER))
    assert _judge(policy, own_time, 1).fresh_until == SIGNED + timedelta(hours=1, minutes=30)
    (wanted,) = policy.attestations
    no_age = dataclasses.replace(wanted, sbom=dataclasses.replace(wanted.sbom, max_age=None))
    assert _judge(dataclasses.replace(policy, attestations=(no_age,)), found, 1).fresh_until is None


def test_an_sbom_dated_after_its_signature_is_as_old_as_the_signature(sg):
    """An SBOM cannot be younger than the signature over it: a time after the verified signing time (dated ahead
    to stay "fresh") counts from the signing time instead."""
    ahead = {**NO_TIME, "metadata": {"timestamp": (SIGNED + timedelta(days=365)).isoformat()}}
    keyless = sg.sign_bundle(statement=_statement(sg, ahead), identity=IDENTITY, issuer=ISSUER)
    assert _judge(_keyless(sg), _bundle(keyless), 1.5).passed
    late = _judge(_keyless(sg), _bundle(keyless), 3)
    assert not late.passed and late.reason == "SBOM is 3h old, older than maxAge 2h"


def test_an_sbom_dated_in_the_year_9999_without_a_signing_time_is_denied_not_an_internal_error(sg):
    """Its freshness bound (its time + maxAge) lies past what a datetime holds: it is denied for its future time,
    and the bound saturates instead of raising (which would have been an internal error, following onError)."""
    dated = {**NO_TIME, "metadata": {"timestamp": "9999-12-31T23:59:59Z"}}
    unlogged = build_key_bundle(KEY, json.dumps(_statement(sg, dated)).encode())
    result = _judge(_keyed(sg), _bundle(unlogged), 0.5)
    assert not result.passed and result.code == "SBOM_DENIED"
    assert result.reason == "SBOM states a time in the future (9999-12-31T23:59:59+00:00): denied by maxAge 2h"


def test_a_bug_the_sbom_reaches_fails_the_requirement(sg, monkeypatch):
    from verifier.sbomrules import CompiledSbomRules

    def broken(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(CompiledSbomRules, "evaluate", broken)
    policy, found = _cases(sg)["keyless bundle (Rekor)"]
    result = _judge(policy, found, 1)
    assert not result.passed and result.code == "SBOM_INVALID"
    assert result.reason.endswith(": an SBOM sealgate could not judge (ZeroDivisionError: division by zero)")
