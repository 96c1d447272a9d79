"""Keyless end to end, offline: a test-only private Sigstore (tools/testsigstore.py) signs images on the real
loopback registry in both layouts (legacy `.sig` with certificate/chain/SET annotations, and cosign 3 bundles
listed in the referrers fallback tag), and the webhook admits the right identity and denies each defect with
its own reason. Attestation requirements are enforced the same way."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from tools.reviews import review, shape, with_images
from tools.testsigstore import COSIGN_SIGN_PREDICATE, TestSigstore
from verifier.attachments import attach_bundle
from verifier.cosign import (
    SIMPLE_SIGNING_MEDIA_TYPE,
    attachment_tag,
    build_signature_manifest,
    parse_signature_manifest,
)
from verifier.engine import Engine
from verifier.errors import ManifestUnknownError
from verifier.oci import OCI_MANIFEST, Descriptor, Digest, Reference
from verifier.policy import compile_documents
from verifier.registry import RegistryClient
from webhook.app import create_app
from webhook.settings import WebhookSettings

pytestmark = pytest.mark.integration

IDENTITY = "https://github.com/org/app/.github/workflows/release.yml@refs/tags/v1.0.0"
ISSUER = "https://token.actions.githubusercontent.com"
CYCLONEDX = "https://cyclonedx.org/bom"


@pytest.fixture(scope="module")
def sigstore(tmp_path_factory):
    return TestSigstore(tmp_path_factory.mktemp("sigstore"))


def _policy(registry, sigstore, *, identity=IDENTITY, issuer=ISSUER, attestations=(), on_error=None):
    doc = {
        "apiVersion": "sealgate.dev/v1alpha1",
        "kind": "ImagePolicy",
        "metadata": {"name": "release"},
        "spec": {
            "images": [f"{registry.host}/keyless/**"],
            "authorities": [
                {
                    "name": "gha",
                    "keyless": {
                        "identity": identity,
                        "issuer": issuer,
                        "trustedRoot": str(sigstore.trusted_root_path),
                    },
                }
            ],
            "attestations": list(attestations),
        },
    }
    docs = [("policy.yaml", 1, doc)]
    if on_error is not None:
        settings = {"apiVersion": "sealgate.dev/v1alpha1", "kind": "Settings", "spec": {"onError": on_error}}
        docs.append(("settings.yaml", 1, settings))
    return compile_documents(docs)


async def _push_legacy(ref: Reference, digest: Digest, layer: dict) -> None:
    """Append one layer (payload + cosign annotations) to the image's `.sig` manifest, as cosign does."""
    async with RegistryClient() as client:
        tag = ref.with_tag(attachment_tag(digest))
        try:
            layers = [x.descriptor for x in parse_signature_manifest(await client.get_manifest(tag), max_layers=100)]
        except ManifestUnknownError:
            layers = []
        payload = layer["payload"]
        layers.append(Descriptor(SIMPLE_SIGNING_MEDIA_TYPE, Digest.of(payload), len(payload), layer["annotations"]))
        manifest, config = build_signature_manifest(layers)
        await client.push_blob(ref, payload)
        await client.push_blob(ref, config)
        await client.put_manifest(tag, manifest, OCI_MANIFEST)


async def _push_bundle(ref: Reference, digest: Digest, bundle: dict, predicate_type: str) -> str:
    async with RegistryClient() as client:
        subject = await client.resolve(ref.with_digest(digest))
        layout, _ = await attach_bundle(
            client, ref, subject, json.dumps(bundle).encode(), predicate_type, datetime.now(UTC)
        )
        return layout


def _admit(policies, image: str) -> dict:
    settings = WebhookSettings(policy_paths=("unused",))
    with TestClient(create_app(settings, policies=policies)) as client:
        return client.post("/validate", json=review(with_images(shape("pod"), [image]))).json()["response"]


def _decide(policies, image: str):
    async def run():
        async with RegistryClient() as client:
            return await Engine(policies, client).decide(image)

    return asyncio.run(run())


def _legacy_image(registry, pushed_image, sigstore, tag, **sign):
    ref_text, digest = pushed_image(registry, repo="keyless/app", tag=tag)
    ref = Reference.parse(ref_text)
    layer = sigstore.sign_image_legacy(digest=digest, docker_reference=ref.name, **sign)
    asyncio.run(_push_legacy(ref, Digest.parse(digest), layer))
    return f"{ref.name}@{digest}"


def _bundle_image(
    registry, pushed_image, sigstore, tag, *, statement_digest=None, predicate=COSIGN_SIGN_PREDICATE, **sign
):
    ref_text, digest = pushed_image(registry, repo="keyless/app", tag=tag)
    ref = Reference.parse(ref_text)
    statement = sigstore.statement_for_image(statement_digest or digest, predicate)
    bundle = sigstore.sign_bundle(statement=statement, **sign)
    layout = asyncio.run(_push_bundle(ref, Digest.parse(digest), bundle, predicate))
    assert layout == "fallback-tag"  # docker-registry 2.8 has no referrers API
    return f"{ref.name}@{digest}"


LEGACY_CASES = [
    pytest.param({}, None, None, id="legacy: the right identity is admitted"),
    pytest.param(
        {"identity": "https://github.com/evil/fork/.github/workflows/x.yml@refs/heads/main"},
        "IDENTITY_MISMATCH",
        "found 'https://github.com/evil/fork/",
        id="legacy: a wrong identity is denied",
    ),
    pytest.param(
        {"issuer": "https://accounts.google.com"},
        "IDENTITY_MISMATCH",
        "issuer mismatch: expected 'https://token.actions.githubusercontent.com', found 'https://accounts.google.com'",
        id="legacy: a wrong issuer is denied",
    ),
    pytest.param(
        {"tamper": "expired-cert"},
        "TIMESTAMP_INVALID",
        "outside the signing certificate",
        id="legacy: an expired certificate is denied",
    ),
    pytest.param({"tamper": "bad-set"}, "TLOG_INVALID", "inclusion promise invalid", id="legacy: a bad SET is denied"),
]


@pytest.mark.parametrize(("overrides", "code", "fragment"), LEGACY_CASES)
def test_legacy_keyless_signatures(registry, pushed_image, sigstore, overrides, code, fragment):
    sign = {"identity": IDENTITY, "issuer": ISSUER, **overrides}
    image = _legacy_image(registry, pushed_image, sigstore, f"legacy-{abs(hash(str(overrides)))}", **sign)
    answer = _admit(_policy(registry, sigstore), image)
    if code is None:
        assert answer["allowed"] is True, answer
        return
    assert answer["allowed"] is False
    message = answer["status"]["message"]
    assert 'policy "release"' in message
    assert fragment.lower() in message.lower()
    assert _decide(_policy(registry, sigstore), image).results[0].code == code


BUNDLE_CASES = [
    pytest.param({}, None, id="bundle: the right identity is admitted"),
    pytest.param(
        {"identity": "https://github.com/evil/fork/.github/workflows/x.yml@refs/heads/main"},
        "found 'https://github.com/evil/fork/",
        id="bundle: a wrong identity is denied",
    ),
    pytest.param(
        {"issuer": "https://accounts.google.com"},
        "issuer mismatch: expected 'https://token.actions.githubusercontent.com', found 'https://accounts.google.com'",
        id="bundle: a wrong issuer is denied",
    ),
    pytest.param(
        {"tamper": "expired-cert"}, "outside the signing certificate", id="bundle: an expired certificate is denied"
    ),
    pytest.param({"tamper": "bad-set"}, "inclusion promise invalid", id="bundle: a bad SET is denied"),
]


@pytest.mark.parametrize(("overrides", "fragment"), BUNDLE_CASES)
def test_bundle_keyless_signatures(registry, pushed_image, sigstore, overrides, fragment):
    sign = {"identity": IDENTITY, "issuer": ISSUER, **overrides}
    image = _bundle_image(registry, pushed_image, sigstore, f"bundle-{abs(hash(str(overrides)))}", **sign)
    answer = _admit(_policy(registry, sigstore), image)
    if fragment is None:
        assert answer["allowed"] is True, answer
        return
    assert answer["allowed"] is False
    assert fragment.lower() in answer["status"]["message"].lower()


def test_a_bundle_for_another_digest_is_a_subject_mismatch(registry, pushed_image, sigstore):
    other = "sha256:" + "0" * 64
    image = _bundle_image(
        registry, pushed_image, sigstore, "subject-mismatch", statement_digest=other, identity=IDENTITY, issuer=ISSUER
    )
    answer = _admit(_policy(registry, sigstore), image)
    assert answer["allowed"] is False
    assert "subject" in answer["status"]["message"].lower()


def test_each_defect_has_its_own_reason(registry, pushed_image, sigstore):
    """Wrong identity, wrong issuer, expired certificate and bad SET give four different messages."""
    reasons = set()
    for overrides in (
        {"identity": "https://example.invalid/other"},
        {"issuer": "https://other.invalid"},
        {"tamper": "expired-cert"},
        {"tamper": "bad-set"},
    ):
        sign = {"identity": IDENTITY, "issuer": ISSUER, **overrides}
        image = _legacy_image(registry, pushed_image, sigstore, f"reason-{len(reasons)}", **sign)
        message = _admit(_policy(registry, sigstore), image)["status"]["message"]
        reasons.add(message.split(": ", 2)[-1].split(" for ")[0][:60])
    assert len(reasons) == 4, reasons


def test_attestation_requirement_is_enforced(registry, pushed_image, sigstore):
    wanted = [{"name": "sbom", "predicateType": "cyclonedx"}]
    # signed, but no SBOM attestation yet: denied naming the missing attestation
    image = _bundle_image(registry, pushed_image, sigstore, "attested", identity=IDENTITY, issuer=ISSUER)
    answer = _admit(_policy(registry, sigstore, attestations=wanted), image)
    assert answer["allowed"] is False
    assert f'no verified {CYCLONEDX} attestation ("sbom")' in answer["status"]["message"]
    # attach a keyless CycloneDX attestation for the same digest: admitted
    ref = Reference.parse(image)
    statement = sigstore.statement_for_image(str(ref.digest), CYCLONEDX, {"bomFormat": "CycloneDX"})
    bundle = sigstore.sign_bundle(statement=statement, identity=IDENTITY, issuer=ISSUER)
    asyncio.run(_push_bundle(ref, ref.digest, bundle, CYCLONEDX))
    assert _admit(_policy(registry, sigstore, attestations=wanted), image)["allowed"] is True


def test_a_cosign_classic_key_signature_does_not_satisfy_a_keyless_authority(registry, pushed_image, sigstore):
    from verifier.attachments import sign_image
    from verifier.cosign import generate_signing_key

    ref_text, digest = pushed_image(registry, repo="keyless/app", tag="keyed")

    async def sign():
        async with RegistryClient() as client:
            await sign_image(client, Reference.parse(ref_text), generate_signing_key())

    asyncio.run(sign())
    answer = _admit(_policy(registry, sigstore), f"{Reference.parse(ref_text).name}@{digest}")
    assert answer["allowed"] is False
    assert "gha" in answer["status"]["message"]


@pytest.mark.parametrize("layout", ["legacy", "bundle"])
def test_sealgate_verify_keyless_flags(registry, pushed_image, sigstore, layout, capsys):
    """`sealgate verify --certificate-identity ... --certificate-oidc-issuer ... --trusted-root ...`."""
    from verifier.cli import main

    make = _legacy_image if layout == "legacy" else _bundle_image
    image = make(registry, pushed_image, sigstore, f"cli-{layout}", identity=IDENTITY, issuer=ISSUER)
    root = ["--trusted-root", str(sigstore.trusted_root_path)]
    right = ["--certificate-identity", IDENTITY, "--certificate-oidc-issuer", ISSUER, *root]
    assert main(["verify", *right, "--output", "json", image]) == 0
    assert json.loads(capsys.readouterr().out)["outcome"] == "allow"
    by_regexp = [
        "--certificate-identity-regexp",
        r"https://github\.com/org/app/.*",
        "--certificate-oidc-issuer",
        ISSUER,
    ]
    assert main(["verify", *by_regexp, *root, image]) == 0
    capsys.readouterr()
    wrong = ["--certificate-identity", IDENTITY, "--certificate-oidc-issuer", "https://accounts.google.com", *root]
    assert main(["verify", *wrong, "--output", "json", image]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["code"] == "IDENTITY_MISMATCH"
    assert [c["code"] for c in report["results"][0]["evidence"]] == ["IDENTITY_MISMATCH"]
    # the public-good root does not trust the private test CA
    assert main(["verify", "--certificate-identity", IDENTITY, "--certificate-oidc-issuer", ISSUER, image]) == 1


def test_verify_needs_a_key_a_policy_or_an_identity(capsys):
    from verifier.cli import main

    assert main(["verify", "127.0.0.1:1/app@sha256:" + "a" * 64]) == 2
    assert "--certificate-identity" in capsys.readouterr().err


def test_keyless_verify_needs_an_issuer(capsys):
    """An identity means nothing without the issuer that vouched for it (cosign requires one too)."""
    from verifier.cli import main

    assert main(["verify", "--certificate-identity", IDENTITY, "127.0.0.1:1/app@sha256:" + "a" * 64]) == 2
    assert "--certificate-oidc-issuer" in capsys.readouterr().err
