"""Real cosign 3 captures (vectors/tobby-fetch-cosign-oci, README §6d) pushed in their own layouts and found
by discover(): the key-signed bundle referrer through the fallback tag (docker-registry 2.8 has no referrers
API) and through a referrers API (the in-process loopback FaultRegistry), and the classic `.sig` manifest.

The subject image itself is not in the vectors: everything is verified by digest reference."""

# ruff: noqa: F811 - test functions take the imported `sealgate` fixture by name
from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import pytest

from tests.support.cli import sealgate  # noqa: F401 - the fixture
from tests.support.faultregistry import Fault, FaultRegistry
from verifier.attachments import COSIGN_SIGN_PREDICATE, FALLBACK_TAG, LEGACY_SIG, REFERRERS, discover
from verifier.cosign import NamedKey, SignatureLayer, check_simple_signature, load_public_key
from verifier.cosign._attest_check import check_attestation
from verifier.cosign._layout import SIMPLE_SIGNING_MEDIA_TYPE
from verifier.cosign._layout import build_signature_manifest as sig_manifest
from verifier.oci import OCI_INDEX, OCI_MANIFEST, Descriptor, Digest, Reference
from verifier.registry import RegistryClient

pytestmark = pytest.mark.integration

V3_SUBJECT = Digest.parse("sha256:d7d5640c741c60b47fa4b5530daa20a6469b55754a89dd42adbadadb59f9093c")
CLASSIC_SUBJECT = Digest.parse("sha256:f20c43161d73848408ef247f0ec7111b19fe58ffebc0cbcaa0d2c8bda4967268")


def _v3(vectors: Path) -> Path:
    return vectors / "tobby-fetch-cosign-oci" / "v3-bundle-referrers"


def _key(path: Path) -> NamedKey:
    return NamedKey(path.name, load_public_key(path.read_bytes()))


async def _push(host: str, repo: str, blobs: list[bytes], manifests: list[tuple[str, bytes, str]]) -> Reference:
    """Push ``blobs``, then each ``(tag or digest, bytes, media type)`` manifest exactly as given."""
    repository = Reference.parse(f"{host}/{repo}")
    async with RegistryClient() as client:
        for blob in blobs:
            await client.push_blob(repository, blob)
        for where, raw, media_type in manifests:
            target = repository.with_digest(Digest.parse(where)) if ":" in where else repository.with_tag(where)
            await client.put_manifest(target, raw, media_type)
    return repository


def _v3_parts(vectors: Path, bundle: bytes | None = None) -> tuple[bytes, bytes, bytes]:
    """(bundle, referring manifest, fallback index); a replaced bundle gets a manifest and index to match."""
    base = _v3(vectors)
    manifest = (base / "bundle-referring-manifest.json").read_bytes()
    index = (base / "bundle-referrers-index.json").read_bytes()
    original = (base / "bundle-sigstore.json").read_bytes()
    if bundle is None:
        return original, manifest, index
    doc = json.loads(manifest)
    doc["layers"][0].update(size=len(bundle), digest=str(Digest.of(bundle)))
    manifest = json.dumps(doc, separators=(",", ":")).encode()
    idx = json.loads(index)
    idx["manifests"][0].update(size=len(manifest), digest=str(Digest.of(manifest)))
    return bundle, manifest, json.dumps(idx, separators=(",", ":")).encode()


async def _push_v3_fallback(host: str, repo: str, vectors: Path, bundle: bytes | None = None) -> Reference:
    bundle, manifest, index = _v3_parts(vectors, bundle)
    return await _push(
        host,
        repo,
        [b"{}", bundle],
        [(str(Digest.of(manifest)), manifest, OCI_MANIFEST), (V3_SUBJECT.tag_form, index, OCI_INDEX)],
    )


async def _found(repository: Reference, digest: Digest, **kw: bool):
    async with RegistryClient() as client:
        return await discover(client, repository, digest, **kw)


def test_cosign3_bundle_in_fallback_tag_verifies_with_its_key(registry, vectors):
    repository = asyncio.run(_push_v3_fallback(registry.host, "tobby/v3", vectors))
    found = asyncio.run(_found(repository, V3_SUBJECT))
    assert [(a.layout, a.ok) for a in found] == [(FALLBACK_TAG, True)]
    assert found[0].bundle == (_v3(vectors) / "bundle-sigstore.json").read_bytes()
    assert found[0].is_signature  # cosign sign v3 writes a DSSE "sign" statement
    check = check_attestation(found[0], [_key(_v3(vectors) / "bundle-cosign.pub")], V3_SUBJECT, COSIGN_SIGN_PREDICATE)
    assert check.verified, check.reason
    assert check.statement["subject"][0]["digest"]["sha256"] == V3_SUBJECT.hex


def test_cosign3_bundle_through_the_cli(registry, vectors, sealgate, capsys):
    asyncio.run(_push_v3_fallback(registry.host, "tobby/v3cli", vectors))
    image = f"{registry.host}/tobby/v3cli@{V3_SUBJECT}"
    key = str(_v3(vectors) / "bundle-cosign.pub")
    assert (
        sealgate(["verify-attestation", "--key", key, "--type", COSIGN_SIGN_PREDICATE, "--output", "json", image]) == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["outcome"] == "allow"
    assert [(e["layout"], e["code"]) for e in report["results"][0]["evidence"]] == [(FALLBACK_TAG, "OK")]
    # it is a signature, not an attestation of the default (custom) type
    assert sealgate(["verify-attestation", "--key", key, "--output", "json", image]) == 1
    assert json.loads(capsys.readouterr().out)["code"] == "ATTESTATION_MISSING"
    other = vectors / "tobby-fetch-cosign-oci" / "cosign.pub"
    assert sealgate(["verify-attestation", "--key", str(other), "--type", COSIGN_SIGN_PREDICATE, image]) == 1
    assert "FAIL" in capsys.readouterr().out


def test_cosign3_signature_bundle_verifies_with_sealgate_verify(registry, vectors, sealgate, capsys):
    """`sealgate verify --key` reads cosign 3's bundle layout too (no legacy `.sig` exists for this image)."""
    ref = asyncio.run(_push_v3_fallback(registry.host, "tobby/verify", vectors))
    image = f"{ref.name}@{V3_SUBJECT}"
    assert sealgate(["verify", "--key", str(_v3(vectors) / "bundle-cosign.pub"), "--output", "json", image]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [c["code"] for c in report["results"][0]["evidence"]] == ["OK"]
    other = vectors / "tobby-fetch-cosign-oci" / "cosign.pub"
    assert sealgate(["verify", "--key", str(other), "--output", "json", image]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["outcome"] == "deny"
    assert [c["code"] != "OK" for c in report["results"][0]["evidence"]] == [True]


def _flip_signature(bundle: bytes) -> bytes:
    doc = json.loads(bundle)
    sig = bytearray(base64.b64decode(doc["dsseEnvelope"]["signatures"][0]["sig"]))
    sig[-1] ^= 0x01
    doc["dsseEnvelope"]["signatures"][0]["sig"] = base64.b64encode(bytes(sig)).decode()
    return json.dumps(doc).encode()


def _flip_set(bundle: bytes) -> bytes:
    doc = json.loads(bundle)
    promise = doc["verificationMaterial"]["tlogEntries"][0]["inclusionPromise"]
    raw = bytearray(base64.b64decode(promise["signedEntryTimestamp"]))
    raw[-1] ^= 0x01
    promise["signedEntryTimestamp"] = base64.b64encode(bytes(raw)).decode()
    return json.dumps(doc).encode()


def test_cosign3_bundle_with_a_flipped_signature_byte_fails(registry, vectors):
    original = (_v3(vectors) / "bundle-sigstore.json").read_bytes()
    repository = asyncio.run(_push_v3_fallback(registry.host, "tobby/v3flip", vectors, _flip_signature(original)))
    (item,) = asyncio.run(_found(repository, V3_SUBJECT))
    check = check_attestation(item, [_key(_v3(vectors) / "bundle-cosign.pub")], V3_SUBJECT, COSIGN_SIGN_PREDICATE)
    assert (check.verified, check.code) == (False, "SIGNATURE_INVALID")


def test_cosign3_bundle_with_a_forged_rekor_promise_fails(registry, vectors):
    original = (_v3(vectors) / "bundle-sigstore.json").read_bytes()
    repository = asyncio.run(_push_v3_fallback(registry.host, "tobby/v3set", vectors, _flip_set(original)))
    (item,) = asyncio.run(_found(repository, V3_SUBJECT))
    check = check_attestation(item, [_key(_v3(vectors) / "bundle-cosign.pub")], V3_SUBJECT, COSIGN_SIGN_PREDICATE)
    assert not check.verified
    assert check.reason.startswith("bundle rejected:")


def test_cosign3_bundle_for_another_digest_is_not_found_for_it(registry, vectors):
    repository = asyncio.run(_push_v3_fallback(registry.host, "tobby/v3other", vectors))
    # the same referrer listed under another image's fallback tag: its subject names the real image
    other = Digest.of(b"some other image")
    _, manifest, index = _v3_parts(vectors)
    asyncio.run(_push(registry.host, "tobby/v3other", [], [(other.tag_form, index, OCI_INDEX)]))
    (item,) = asyncio.run(_found(repository, other))
    assert not item.ok and "refers to" in item.payload.message


def test_cosign3_bundle_through_a_referrers_api(vectors):
    bundle, manifest, _ = _v3_parts(vectors)
    with FaultRegistry() as reg:
        for blob in (b"{}", bundle):
            reg.add_blob("tobby/api", blob)
        reg.add_manifest("tobby/api", manifest, OCI_MANIFEST)
        repository = Reference.parse(f"{reg.host}/tobby/api")
        found = asyncio.run(_found(repository, V3_SUBJECT))
        assert [a.layout for a in found] == [REFERRERS]
        check = check_attestation(found[0], [_key(_v3(vectors) / "bundle-cosign.pub")], V3_SUBJECT, None)
        assert check.verified, check.reason
        # a tampered blob byte on the way: the layer no longer matches its descriptor digest
        reg.inject(Fault("corrupt", path=f"/blobs/{Digest.of(bundle)}"))
        (item,) = asyncio.run(_found(repository, V3_SUBJECT))
        check = check_attestation(item, [_key(_v3(vectors) / "bundle-cosign.pub")], V3_SUBJECT, None)
        assert (check.verified, check.code) == (False, "DIGEST_MISMATCH")


def test_cosign3_classic_sig_is_discovered_and_verifies(registry, vectors):
    base = vectors / "tobby-fetch-cosign-oci"
    manifest = (base / "signature-manifest.json").read_bytes().strip()
    payload = (base / "simplesigning-payload.json").read_bytes()
    config = sig_manifest([Descriptor(SIMPLE_SIGNING_MEDIA_TYPE, Digest.of(payload), len(payload))])[1]
    repository = asyncio.run(
        _push(
            registry.host,
            "tobby/classic",
            [payload, config],
            [(f"{CLASSIC_SUBJECT.tag_form}.sig", manifest, OCI_MANIFEST)],
        )
    )
    found = asyncio.run(_found(repository, CLASSIC_SUBJECT, attestations=False))
    assert [(a.layout, a.payload) for a in found] == [(LEGACY_SIG, payload)]
    layer = SignatureLayer(Descriptor(found[0].media_type, found[0].digest, len(payload), found[0].annotations))
    image = repository.with_digest(CLASSIC_SUBJECT)
    check = check_simple_signature(
        layer, payload, [_key(base / "cosign.pub")], image, CLASSIC_SUBJECT, check_reference=False
    )
    assert check.verified, check.reason
    wrong = check_simple_signature(
        layer, payload, [_key(_v3(vectors) / "bundle-cosign.pub")], image, CLASSIC_SUBJECT, check_reference=False
    )
    assert wrong.code == "SIGNATURE_INVALID"
