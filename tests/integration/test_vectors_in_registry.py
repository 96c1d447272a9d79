"""Real-world signatures (tests/vectors) pushed to the loopback registry in cosign's `.sig` layout and
checked with `sealgate verify`, the same code path users run. Expected results: vectors/README.md §6a, §6d."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from pathlib import Path

import pytest

from tests.support.sigstore_json import read_sigstore_json
from verifier.cli import main
from verifier.cosign import SIMPLE_SIGNING_MEDIA_TYPE, attachment_tag, build_signature_manifest
from verifier.oci import OCI_MANIFEST, Descriptor, Digest, Reference
from verifier.registry import RegistryClient

pytestmark = pytest.mark.integration

TOBBY_SUBJECT = "sha256:f20c43161d73848408ef247f0ec7111b19fe58ffebc0cbcaa0d2c8bda4967268"


def _push_raw_sig_manifest(repository: Reference, digest: str, manifest: bytes, blobs: list[bytes]) -> None:
    async def push():
        async with RegistryClient() as client:
            for blob in blobs:
                await client.push_blob(repository, blob)
            await client.put_manifest(repository.with_tag(attachment_tag(Digest.parse(digest))), manifest, OCI_MANIFEST)

    asyncio.run(push())


def _sigstore_json_layer(path: Path) -> tuple[Descriptor, bytes]:
    """containers/image's on-disk signature file -> (layer descriptor, payload)."""
    sig = read_sigstore_json(path)
    desc = Descriptor(sig.mime_type, Digest.of(sig.payload), len(sig.payload), annotations=sig.annotations)
    return desc, sig.payload


def _push_ci_fixture(registry, repo: str, image_digest: str, signature_files: list[Path]) -> str:
    layers, payloads = [], []
    for path in signature_files:
        desc, payload = _sigstore_json_layer(path)
        layers.append(desc)
        payloads.append(payload)
    manifest, config = build_signature_manifest(layers)
    repository = Reference.parse(f"{registry.host}/{repo}")
    _push_raw_sig_manifest(repository, image_digest, manifest, [*payloads, config])
    return f"{registry.host}/{repo}@{image_digest}"


def _verify_json(capsys, *argv: str) -> tuple[int, dict]:
    code = main(["verify", "--output", "json", *argv])
    return code, json.loads(capsys.readouterr().out)


def test_tobby_cosign_3_classic_signature_verifies_in_its_layout(registry, vectors, capsys):
    base = vectors / "tobby-fetch-cosign-oci"
    manifest = (base / "signature-manifest.json").read_bytes().strip()
    payload = (base / "simplesigning-payload.json").read_bytes()
    assert hashlib.sha256(payload).hexdigest() == "3a29d26a2fc848d25ccf9c2288194ca90599e70ef69087644f186e5e7331f28b"
    # the config blob is not in the vector; it is fully determined by the layer (test_layout checks its digest)
    config = build_signature_manifest([Descriptor(SIMPLE_SIGNING_MEDIA_TYPE, Digest.of(payload), len(payload))])[1]
    repository = Reference.parse(f"{registry.host}/tobby/fixture")
    _push_raw_sig_manifest(repository, TOBBY_SUBJECT, manifest, [payload, config])
    image = f"{registry.host}/tobby/fixture@{TOBBY_SUBJECT}"

    code, report = _verify_json(capsys, "--key", str(base / "cosign.pub"), "--skip-reference-check", image)
    assert code == 0, report
    # upstream signed it for localhost:15381/tobby/fixture; the strict default names that
    code, report = _verify_json(capsys, "--key", str(base / "cosign.pub"), image)
    assert code == 1
    assert report["results"][0]["evidence"][0]["code"] == "REFERENCE_MISMATCH"
    assert "localhost:15381/tobby/fixture" in report["results"][0]["evidence"][0]["reason"]
    # any other key fails
    other = vectors / "sigstore-rs" / "cosign-key-signed" / "cosign.pub"
    code, report = _verify_json(capsys, "--key", str(other), "--skip-reference-check", image)
    assert code == 1
    assert report["results"][0]["evidence"][0]["code"] == "SIGNATURE_INVALID"


CI = "containers-image/fixtures"


@pytest.mark.parametrize(
    ("case", "signatures", "manifest", "key", "expected"),
    [
        pytest.param(
            "valid",
            ["dir-img-cosign-valid/signature-1"],
            "dir-img-cosign-valid/manifest.json",
            "cosign.pub",
            ["OK"],
            id="valid signature passes",
        ),
        pytest.param(
            "valid-2",
            ["dir-img-cosign-valid-2/signature-1", "dir-img-cosign-valid-2/signature-2"],
            "dir-img-cosign-valid-2/manifest.json",
            "cosign.pub",
            ["OK", "OK"],
            id="two valid signatures",
        ),
        pytest.param(
            "mixed",
            ["dir-img-cosign-mixed/signature-1", "dir-img-cosign-mixed/signature-2"],
            "dir-img-cosign-mixed/manifest.json",
            "cosign.pub",
            ["SIGNATURE_INVALID", "OK"],
            id="unknown key and valid signature: image passes",
        ),
        pytest.param(
            "unknown",
            ["unknown-cosign-key.signature"],
            "dir-img-cosign-valid/manifest.json",
            "cosign.pub",
            ["SIGNATURE_INVALID"],
            id="signature by an unknown key fails",
        ),
        pytest.param(
            "unknown2",
            ["unknown-cosign-key.signature"],
            "dir-img-cosign-valid/manifest.json",
            "cosign2.pub",
            ["SIGNATURE_INVALID"],
            id="unknown key fails with cosign2.pub too",
        ),
        pytest.param(
            "modified",
            ["dir-img-cosign-modified-manifest/signature-1"],
            "dir-img-cosign-modified-manifest/manifest.json",
            "cosign.pub",
            ["PAYLOAD_DIGEST_MISMATCH"],
            id="modified manifest is a digest mismatch",
        ),
        pytest.param(
            "with-tag",
            ["dir-img-cosign-valid-with-tag/signature-1"],
            "dir-img-cosign-valid-with-tag/manifest.json",
            "cosign.pub",
            ["OK"],
            id="containers-image signature with creator and timestamp passes",
        ),
        pytest.param(
            "rekor-key",
            ["dir-img-cosign-key-rekor-valid/signature-1"],
            "dir-img-cosign-key-rekor-valid/manifest.json",
            "cosign2.pub",
            ["OK"],
            id="key signature with a Rekor bundle verifies by key",
        ),
        pytest.param(
            "rekor-key-wrong",
            ["dir-img-cosign-key-rekor-valid/signature-1"],
            "dir-img-cosign-key-rekor-valid/manifest.json",
            "cosign.pub",
            ["SIGNATURE_INVALID"],
            id="key signature with a Rekor bundle fails with only cosign.pub trusted",
        ),
    ],
)
def test_containers_image_fixtures(registry, vectors, capsys, case, signatures, manifest, key, expected):
    image_digest = str(Digest.of((vectors / CI / manifest).read_bytes()))
    image = _push_ci_fixture(registry, f"ci-fixtures/{case}", image_digest, [vectors / CI / s for s in signatures])
    code, report = _verify_json(capsys, "--key", str(vectors / CI / key), "--skip-reference-check", image)
    assert [s["code"] for s in report["results"][0]["evidence"]] == expected
    assert code == (0 if "OK" in expected else 1)


def test_other_attachment_is_not_a_signature(registry, vectors, capsys):
    image_digest = str(Digest.of((vectors / CI / "dir-img-cosign-other-attachment/manifest.json").read_bytes()))
    image = _push_ci_fixture(
        registry,
        "ci-fixtures/other",
        image_digest,
        [vectors / CI / "dir-img-cosign-other-attachment/signature-1"],
    )
    code, report = _verify_json(capsys, "--key", str(vectors / CI / "cosign.pub"), image)
    assert code == 1
    assert report["code"] == "NO_SIGNATURES"


def test_containers_image_signature_tampered_annotation_fails(registry, vectors, capsys, tmp_path):
    """README: FAIL if the signature is replaced by base64('invalid signature')."""
    path = vectors / CI / "dir-img-cosign-valid/signature-1"
    raw = path.read_bytes()
    doc = json.loads(raw.split(b"\n", 1)[1])
    doc["annotations"]["dev.cosignproject.cosign/signature"] = base64.b64encode(b"invalid signature").decode()
    tampered = tmp_path / "signature-1"
    tampered.write_bytes(b"\x00sigstore-json\n" + json.dumps(doc).encode())
    image_digest = str(Digest.of((vectors / CI / "dir-img-cosign-valid/manifest.json").read_bytes()))
    image = _push_ci_fixture(registry, "ci-fixtures/tampered", image_digest, [tampered])
    code, report = _verify_json(capsys, "--key", str(vectors / CI / "cosign.pub"), "--skip-reference-check", image)
    assert code == 1
    assert report["results"][0]["evidence"][0]["code"] == "SIGNATURE_INVALID"
