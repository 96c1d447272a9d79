"""An attacker with push rights attaches material beside a correctly signed image, on the real loopback registry
(docker-registry: referrers in the fallback tag) and through the real webhook app:

- a ``cosign sign-blob`` bundle over the manifest bytes is no image signature (keyless and key-signed, webhook
  and ``sealgate verify``); the image with cosign's sign/v1 statement beside it is still admitted;
- poisoned referrers (nested JSON, a 5000-digit integer, a certificate with an unknown key algorithm, malformed
  certificate extensions) are each one failed candidate: the good signature still admits the image under the
  default ``onError: deny``, and the poison alone is a denial with its own reason, never "internal error";
- 400 ``.sig`` layers naming one 2 MiB blob cost one download; more than ``max_verification_bytes`` is a
  DOWNLOAD_BUDGET_EXCEEDED denial (even under ``onError: allow``) that leaves the registry's breaker closed.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID
from fastapi.testclient import TestClient

from tools.reviews import review, shape, with_images
from tools.testsigstore import COSIGN_SIGN_PREDICATE, TestSigstore, pae
from verifier.attachments import attach_bundle, attest_image, sign_image
from verifier.cli import main
from verifier.cosign import (
    SIMPLE_SIGNING_MEDIA_TYPE,
    attachment_tag,
    build_key_bundle,
    build_signature_manifest,
    generate_signing_key,
    parse_signature_manifest,
    public_key_pem,
)
from verifier.engine import Engine, Outcome
from verifier.limits import Limits
from verifier.oci import OCI_MANIFEST, Descriptor, Digest, Reference
from verifier.policy import compile_documents
from verifier.registry import RegistryClient, RegistryConfig
from verifier.registry._breaker import BreakerState
from webhook.app import create_app
from webhook.settings import WebhookSettings

pytestmark = pytest.mark.integration

IDENTITY = "https://github.com/org/app/.github/workflows/release.yml@refs/tags/v1.0.0"
ISSUER = "https://token.actions.githubusercontent.com"
CYCLONEDX = "https://cyclonedx.org/bom"
KEY = generate_signing_key()
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def sigstore(tmp_path_factory):
    return TestSigstore(tmp_path_factory.mktemp("sigstore"))


def _policies(registry, sigstore, *, on_error: str = "deny", sbom: bool = False):
    keyless = {"identity": IDENTITY, "issuer": ISSUER, "trustedRoot": str(sigstore.trusted_root_path)}
    docs: list[dict] = [{"apiVersion": "sealgate.dev/v1alpha1", "kind": "Settings", "spec": {"onError": on_error}}]
    for name, repo, authority in (
        ("release", "poison/keyless/**", {"name": "gha", "keyless": keyless}),
        ("ci", "poison/keyed/**", {"name": "ci", "key": {"data": public_key_pem(KEY.public_key()).decode()}}),
    ):
        spec: dict = {"images": [f"{registry.host}/{repo}"], "authorities": [authority]}
        if sbom:
            spec["attestations"] = [{"name": "sbom", "predicateType": "cyclonedx"}]
        docs.append(
            {"apiVersion": "sealgate.dev/v1alpha1", "kind": "ImagePolicy", "metadata": {"name": name}, "spec": spec}
        )
    return compile_documents([("policy.yaml", i + 1, d) for i, d in enumerate(docs)])


def _admit(policies, image: str) -> dict:
    settings = WebhookSettings(policy_paths=("unused",))
    with TestClient(create_app(settings, policies=policies)) as client:
        return client.post("/validate", json=review(with_images(shape("pod"), [image]))).json()["response"]


def _decide(policies, image: str, limits: Limits | None = None):
    async def run():
        async with RegistryClient(RegistryConfig(limits=limits or Limits())) as client:
            decision = await Engine(policies, client).decide(image)
            return decision, client.request_count, client.breaker(Reference.parse(image).api_host)

    return asyncio.run(run())


def _image(registry, pushed_image, repo: str, tag: str) -> tuple[Reference, Digest]:
    ref_text, digest = pushed_image(registry, repo=repo, tag=tag)
    return Reference.parse(ref_text), Digest.parse(digest)


async def _manifest_bytes(ref: Reference, digest: Digest) -> bytes:
    async with RegistryClient() as client:
        return (await client.get_manifest(ref.with_digest(digest))).raw


async def _push_bundle(ref: Reference, digest: Digest, bundle: bytes | dict, predicate: str) -> None:
    raw = bundle if isinstance(bundle, bytes) else json.dumps(bundle).encode()
    async with RegistryClient() as client:
        subject = await client.resolve(ref.with_digest(digest))
        layout, _ = await attach_bundle(client, ref, subject, raw, predicate, datetime.now(UTC))
    assert layout == "fallback-tag"  # docker-registry 2.8 has no referrers API


def _good_keyless(sigstore, ref: Reference, digest: Digest) -> None:
    statement = sigstore.statement_for_image(str(digest), COSIGN_SIGN_PREDICATE)
    bundle = sigstore.sign_bundle(statement=statement, identity=IDENTITY, issuer=ISSUER)
    asyncio.run(_push_bundle(ref, digest, bundle, COSIGN_SIGN_PREDICATE))


def _sign_with_key(ref: Reference, digest: Digest) -> None:
    async def sign():
        async with RegistryClient() as client:
            await sign_image(client, ref.with_digest(digest), KEY)

    asyncio.run(sign())


def _key_file(registry) -> str:
    key_file = registry.root.parent / "poison-cosign.pub"
    key_file.write_bytes(public_key_pem(KEY.public_key()))
    return str(key_file)


# --- sign-blob bundles are no image signatures ---------------------------------------------------------------


def _sign_blob(sigstore, manifest: bytes, *, keyless: bool) -> dict:
    """`cosign sign-blob --bundle` over the manifest bytes: a message signature over their SHA-256."""
    who = {"identity": IDENTITY, "issuer": ISSUER} if keyless else {"key": KEY}
    bundle = sigstore.sign_bundle(artifact_digest=hashlib.sha256(manifest).digest(), **who)
    if not keyless:  # --tlog-upload=false: a key-signed bundle needs no log entry
        bundle["verificationMaterial"].pop("tlogEntries")
    return bundle


@pytest.mark.parametrize("keyless", [True, False], ids=["keyless", "key"])
def test_a_sign_blob_bundle_over_the_manifest_does_not_admit(registry, pushed_image, sigstore, keyless):
    repo = "poison/keyless/blob" if keyless else "poison/keyed/blob"
    ref, digest = _image(registry, pushed_image, repo, "attacked")
    blob = _sign_blob(sigstore, asyncio.run(_manifest_bytes(ref, digest)), keyless=keyless)
    asyncio.run(_push_bundle(ref, digest, blob, COSIGN_SIGN_PREDICATE))
    image = f"{ref.name}@{digest}"
    answer = _admit(_policies(registry, sigstore), image)
    assert answer["allowed"] is False, answer
    decision, _, _ = _decide(_policies(registry, sigstore), image)
    assert decision.outcome is Outcome.DENY and decision.code == "SIGNATURE_INVALID"
    # `sealgate verify` judges it the same way
    if keyless:
        flags = ["--certificate-identity", IDENTITY, "--certificate-oidc-issuer", ISSUER]
        flags += ["--trusted-root", str(sigstore.trusted_root_path)]
    else:
        flags = ["--key", _key_file(registry)]
    assert main(["verify", *flags, image]) == 1

    # beside it, cosign's own sign/v1 statement over the digest admits the image
    legit, legit_digest = _image(registry, pushed_image, repo, "legit")
    statement = sigstore.statement_for_image(str(legit_digest), COSIGN_SIGN_PREDICATE)
    if keyless:
        bundle: bytes | dict = sigstore.sign_bundle(statement=statement, identity=IDENTITY, issuer=ISSUER)
    else:
        bundle = build_key_bundle(KEY, json.dumps(statement).encode())
    asyncio.run(_push_bundle(legit, legit_digest, bundle, COSIGN_SIGN_PREDICATE))
    legit_manifest = asyncio.run(_manifest_bytes(legit, legit_digest))
    asyncio.run(
        _push_bundle(legit, legit_digest, _sign_blob(sigstore, legit_manifest, keyless=keyless), COSIGN_SIGN_PREDICATE)
    )
    assert _admit(_policies(registry, sigstore), f"{legit.name}@{legit_digest}")["allowed"] is True
    assert main(["verify", *flags, f"{legit.name}@{legit_digest}"]) == 0


# --- poisoned referrers beside a good signature ----------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _rogue_bundle(sigstore, digest: Digest, extension: x509.ExtensionType) -> dict:
    """A bundle by a self-made certificate with a malformed extension, honestly logged (Rekor logs anyone)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "rogue")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(sigstore.now - timedelta(minutes=1))
        .not_valid_after(sigstore.now + timedelta(minutes=10))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
        .add_extension(extension, critical=False)
        .sign(key, hashes.SHA256())
    )
    payload = json.dumps(sigstore.statement_for_image(str(digest), COSIGN_SIGN_PREDICATE)).encode()
    signature = key.sign(pae("application/vnd.in-toto+json", payload), ec.ECDSA(hashes.SHA256()))
    envelope = {
        "payload": _b64(payload),
        "payloadType": "application/vnd.in-toto+json",
        "signatures": [{"sig": _b64(signature)}],
    }
    pem = cert.public_bytes(serialization.Encoding.PEM)
    entry = sigstore.log.add_dsse(envelope, pem, integrated_time=int(sigstore.now.timestamp()))
    return {
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {
            "certificate": {"rawBytes": _b64(cert.public_bytes(serialization.Encoding.DER))},
            "tlogEntries": [entry.bundle_entry()],
        },
        "dsseEnvelope": envelope,
    }


def _unknown_key_algorithm(sigstore, digest: Digest) -> dict:
    statement = sigstore.statement_for_image(str(digest), COSIGN_SIGN_PREDICATE)
    bundle = sigstore.sign_bundle(statement=statement, identity=IDENTITY, issuer=ISSUER, tamper="untrusted-ca")
    der = base64.b64decode(bundle["verificationMaterial"]["certificate"]["rawBytes"])
    patched = der.replace(bytes.fromhex("06072a8648ce3d0201"), bytes.fromhex("06072a8648ce3d0209"), 1)
    bundle["verificationMaterial"]["certificate"]["rawBytes"] = _b64(patched)
    return bundle


POISONS = {
    "nested JSON": lambda sigstore, digest: b"[" * 200_000 + b"]" * 200_000,
    "a 5000-digit integer": lambda sigstore, digest: b'{"mediaType":' + b"9" * 5000 + b"}",
    "a certificate with an unknown key algorithm": _unknown_key_algorithm,
    "a malformed basicConstraints extension": lambda sigstore, digest: _rogue_bundle(
        sigstore, digest, x509.UnrecognizedExtension(ExtensionOID.BASIC_CONSTRAINTS, b"\x04\x01\xff")
    ),
}


@pytest.mark.parametrize("poison", list(POISONS))
def test_a_poison_referrer_beside_a_good_keyless_signature_still_admits(registry, pushed_image, sigstore, poison):
    ref, digest = _image(registry, pushed_image, "poison/keyless/app", "poisoned")
    asyncio.run(_push_bundle(ref, digest, POISONS[poison](sigstore, digest), COSIGN_SIGN_PREDICATE))
    image = f"{ref.name}@{digest}"
    # the poison alone: a denial with the candidate's reason (not "internal error")
    alone = _admit(_policies(registry, sigstore), image)
    assert alone["allowed"] is False
    assert "internal error" not in alone["status"]["message"]
    assert 'policy "release"' in alone["status"]["message"]
    # a correctly signed image with the poison beside its good signature: admitted under the default onError
    _good_keyless(sigstore, ref, digest)
    answer = _admit(_policies(registry, sigstore), image)
    assert answer["allowed"] is True, answer


def test_poison_attestations_beside_good_ones_still_admit(registry, pushed_image, sigstore, tmp_path):
    """Key-signed: a legacy `.sig` signature and a bundle SBOM attestation, next to poisoned SBOM referrers."""
    ref, digest = _image(registry, pushed_image, "poison/keyed/sbom", "poisoned")
    image = f"{ref.name}@{digest}"
    _sign_with_key(ref, digest)
    for make in POISONS.values():
        asyncio.run(_push_bundle(ref, digest, make(sigstore, digest), CYCLONEDX))
    policies = _policies(registry, sigstore, sbom=True)
    missing = _admit(policies, image)
    assert missing["allowed"] is False and "internal error" not in missing["status"]["message"]
    assert f"{CYCLONEDX} attestation" in missing["status"]["message"]

    async def attest():
        async with RegistryClient() as client:
            predicate = json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.6"}).encode()
            await attest_image(
                client,
                ref.with_digest(digest),
                KEY,
                predicate=predicate,
                predicate_type="cyclonedx",
                bundle_format=True,
            )

    asyncio.run(attest())
    assert _admit(policies, image)["allowed"] is True


# --- downloads: each blob once, and a budget --------------------------------------------------------------------


async def _add_sig_layers(ref: Reference, digest: Digest, blobs: list[bytes], layers: list[Descriptor]) -> None:
    """Append ``layers`` to the image's `.sig` manifest (after pushing ``blobs``), as an attacker can."""
    async with RegistryClient() as client:
        tag = ref.with_tag(attachment_tag(digest))
        current = [x.descriptor for x in parse_signature_manifest(await client.get_manifest(tag), max_layers=1000)]
        for blob in blobs:
            await client.push_blob(ref, blob)
        manifest, config = build_signature_manifest([*current, *layers])
        await client.push_blob(ref, config)
        await client.put_manifest(tag, manifest, OCI_MANIFEST)


def test_400_layers_naming_one_blob_cost_one_download(registry, pushed_image, sigstore):
    ref, digest = _image(registry, pushed_image, "poison/keyed/many", "v1")
    _sign_with_key(ref, digest)
    big = os.urandom(2 * MiB)
    layers = [
        Descriptor(SIMPLE_SIGNING_MEDIA_TYPE, Digest.of(big), len(big), {"dev.cosignproject.cosign/signature": str(i)})
        for i in range(400)
    ]
    asyncio.run(_add_sig_layers(ref, digest, [big], layers))
    image = f"{ref.name}@{digest}"
    decision, requests, _ = _decide(_policies(registry, sigstore), image)
    assert decision.outcome is Outcome.ALLOW, decision.reason
    assert requests < 20, f"{requests} requests for one verification"
    assert _admit(_policies(registry, sigstore), image)["allowed"] is True
    assert main(["verify", "--key", _key_file(registry), image]) == 0  # the CLI's `.sig` fast path too


def test_more_than_the_download_budget_is_its_own_denial(registry, pushed_image, sigstore, capsys):
    ref, digest = _image(registry, pushed_image, "poison/keyed/budget", "v1")
    _sign_with_key(ref, digest)
    blobs = [os.urandom(3 * MiB + MiB // 2) for _ in range(10)]  # 35 MiB of distinct payloads
    layers = [Descriptor(SIMPLE_SIGNING_MEDIA_TYPE, Digest.of(b), len(b)) for b in blobs]
    asyncio.run(_add_sig_layers(ref, digest, blobs, layers))
    image = f"{ref.name}@{digest}"
    lenient = _policies(registry, sigstore, on_error="allow")
    decision, _, breaker = _decide(lenient, image)
    assert (decision.outcome, decision.code) == (Outcome.DENY, "DOWNLOAD_BUDGET_EXCEEDED")
    assert "max_verification_bytes" in decision.reason
    assert breaker.state is BreakerState.CLOSED and breaker.consecutive_failures == 0
    answer = _admit(lenient, image)
    assert answer["allowed"] is False and "max_verification_bytes" in answer["status"]["message"]
    assert main(["verify", "--key", _key_file(registry), "--output", "json", image]) == 1
    assert json.loads(capsys.readouterr().out)["code"] == "DOWNLOAD_BUDGET_EXCEEDED"
    # the over-budget verdict is cached like any failed check: asking again downloads nothing
    async def twice() -> tuple[int, int, bool]:
        async with RegistryClient() as client:
            engine = Engine(lenient, client)
            first = await engine.decide(image)
            before = client.request_count
            again = await engine.decide(image)
            assert (first.code, again.code) == ("DOWNLOAD_BUDGET_EXCEEDED", "DOWNLOAD_BUDGET_EXCEEDED")
            return before, client.request_count - before, again.cached

    first_requests, repeat_requests, cached = asyncio.run(twice())
    assert first_requests > 0 and repeat_requests == 0 and cached
    # a budget that fits admits the same image
    decision, _, _ = _decide(lenient, image, Limits(max_verification_bytes=64 * MiB))
    assert decision.outcome is Outcome.ALLOW, decision.reason
