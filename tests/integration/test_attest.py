"""`sealgate attest` / `verify-attestation` end to end against a real docker-registry (no referrers API),
driven through main(): the legacy `.att` layout, `--replace`, and `--bundle-format` via the fallback tag."""

# ruff: noqa: F811 - test functions take the imported `sealgate` fixture by name
from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import jsonschema
import pytest

from tests.support.cli import sealgate  # noqa: F401 - the fixture
from verifier.cli import main
from verifier.cosign._layout import DSSE_MEDIA_TYPE, SIGNATURE_ANNOTATION
from verifier.oci import OCI_INDEX, OCI_MANIFEST, Digest, Reference
from verifier.registry import RegistryClient

pytestmark = pytest.mark.integration

SCHEMA = jsonschema.Draft202012Validator(
    json.loads((Path(__file__).parents[2] / "schemas" / "verify-result.schema.json").read_text())
)

CYCLONEDX = b'{"bomFormat":"CycloneDX","specVersion":"1.6","components":[{"name":"zlib","version":"1.3"}]}'
SPDX = b'{"spdxVersion":"SPDX-2.3","name":"app"}'


@pytest.fixture
def keys(tmp_path, monkeypatch):
    monkeypatch.setenv("COSIGN_PASSWORD", "s3cret")
    for name in ("signer", "stranger"):
        assert main(["keygen", "--output-key-prefix", str(tmp_path / name)]) == 0
    return {name: tmp_path / name for name in ("signer", "stranger")}


@pytest.fixture
def predicates(tmp_path):
    files = {"cyclonedx": CYCLONEDX, "spdxjson": SPDX, "custom": b"free text <&>\n"}
    for name, data in files.items():
        (tmp_path / f"{name}.json").write_bytes(data)
    return {name: str(tmp_path / f"{name}.json") for name in files}


def _manifest(ref: str, tag: str) -> dict:
    async def fetch():
        async with RegistryClient() as client:
            return (await client.get_manifest(Reference.parse(ref).with_tag(tag))).json()

    return asyncio.run(fetch())


def _blob(ref: str, digest: str) -> bytes:
    async def fetch():
        async with RegistryClient() as client:
            return await client.get_blob(Reference.parse(ref), Digest.parse(digest))

    return asyncio.run(fetch())


def _verify(sealgate, capsys, *argv: str) -> tuple[int, dict]:
    capsys.readouterr()
    code = sealgate(["verify-attestation", "--output", "json", *argv])
    report = json.loads(capsys.readouterr().out)
    SCHEMA.validate(report)  # the one documented schema, verified statements included
    return code, report


def _checked(report: dict) -> list[dict]:
    """The attestations the engine judged for the flags' one policy (a Decision's evidence)."""
    (result,) = report["results"]
    assert result["policy"] == "command-line"
    return [e for e in result["evidence"] if e["kind"] == "attestation"]


def test_attest_writes_cosign_att_layout_and_verifies(registry, pushed_image, keys, predicates, sealgate, capsys):
    ref, digest = pushed_image(registry, repo="att/app", tag="v1")
    assert (
        sealgate(
            [
                "attest",
                "--key",
                f"{keys['signer']}.key",
                "--type",
                "cyclonedx",
                "--predicate",
                predicates["cyclonedx"],
                ref,
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert f"Resolved tag 'v1' of {registry.host}/att/app to {digest}" in out
    assert f"legacy-att at {registry.host}/att/app:{Digest.parse(digest).tag_form}.att" in out

    manifest = _manifest(ref, f"{Digest.parse(digest).tag_form}.att")
    (layer,) = manifest["layers"]
    assert layer["mediaType"] == DSSE_MEDIA_TYPE
    assert layer["annotations"] == {SIGNATURE_ANNOTATION: "", "predicateType": "https://cyclonedx.org/bom"}
    envelope = json.loads(_blob(ref, layer["digest"]))
    assert envelope["payloadType"] == "application/vnd.in-toto+json"
    statement = json.loads(base64.b64decode(envelope["payload"]))
    assert statement["_type"] == "https://in-toto.io/Statement/v0.1"
    assert statement["subject"] == [
        {"name": f"{registry.host}/att/app", "digest": {"sha256": Digest.parse(digest).hex}}
    ]
    assert statement["predicate"] == json.loads(CYCLONEDX)

    code, report = _verify(sealgate, capsys, "--key", f"{keys['signer']}.pub", "--type", "cyclonedx", ref)
    assert code == 0, report
    assert report["digest"] == digest and report["resolvedFromTag"] == "v1"
    assert _checked(report)[0]["statement"]["predicate"]["components"][0]["name"] == "zlib"
    # the text report: the decision, the attestation checked, and the verified statement as one JSON line
    assert sealgate(["verify-attestation", "--key", f"{keys['signer']}.pub", "--type", "cyclonedx", ref]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:3] == [
        f"Decision for {ref}: ALLOW",
        f"  tag 'v1' resolved to {digest}",
        '  PASS policy "command-line" (enforce)',
    ]
    assert f"    OK attestation {layer['digest']} [legacy-att]: attestation verified with key 'signer.pub'" in lines
    assert lines[-1] == json.dumps(statement, sort_keys=True)


@pytest.mark.parametrize(
    ("key", "type_", "code", "reason", "missing"),
    [
        pytest.param(
            "signer",
            "https://slsa.dev/provenance/v0.2",
            "PREDICATE_TYPE_MISMATCH",
            "not 'https://slsa",
            'no verified https://slsa.dev/provenance/v0.2 attestation ("https://slsa.dev/provenance/v0.2") signed by '
            '"signer.pub"',
            id="wrong predicate type fails",
        ),
        pytest.param(
            "stranger",
            "cyclonedx",
            "SIGNATURE_INVALID",
            "signature invalid for key 'stranger.pub'",
            'no verified https://cyclonedx.org/bom attestation ("cyclonedx") signed by "stranger.pub"',
            id="another key fails",
        ),
    ],
)
def test_verify_attestation_failures(
    registry, pushed_image, keys, predicates, sealgate, capsys, key, type_, code, reason, missing
):
    ref, _ = pushed_image(registry, repo="att/fail", tag="v1")
    assert (
        sealgate(
            [
                "attest",
                "--key",
                f"{keys['signer']}.key",
                "--type",
                "cyclonedx",
                "--predicate",
                predicates["cyclonedx"],
                ref,
            ]
        )
        == 0
    )
    exit_code, report = _verify(sealgate, capsys, "--key", f"{keys[key]}.pub", "--type", type_, ref)
    assert exit_code == 1
    # the decision says which attestation is missing (as the webhook does); what was wrong with each one found is
    # in its evidence
    assert (report["code"], report["reason"]) == ("ATTESTATION_MISSING", f'policy "command-line": {missing}')
    assert _checked(report)[0]["code"] == code
    assert reason in _checked(report)[0]["reason"]


def test_image_without_attestations_fails_with_attestation_missing(registry, pushed_image, keys, sealgate, capsys):
    ref, _ = pushed_image(registry, repo="att/none", tag="v1")
    code, report = _verify(sealgate, capsys, "--key", f"{keys['signer']}.pub", ref)
    assert (code, report["code"]) == (1, "ATTESTATION_MISSING")
    missing = 'no verified https://cosign.sigstore.dev/attestation/v1 attestation ("custom") signed by "signer.pub"'
    assert report["reason"] == f'policy "command-line": {missing}'
    assert _checked(report) == []


def test_custom_type_wraps_text_and_replace_keeps_one_per_type(
    registry, pushed_image, keys, predicates, sealgate, capsys
):
    ref, digest = pushed_image(registry, repo="att/replace", tag="v1")
    key = f"{keys['signer']}.key"
    tag = f"{Digest.parse(digest).tag_form}.att"
    assert sealgate(["attest", "--key", key, "--predicate", predicates["custom"], ref]) == 0
    assert sealgate(["attest", "--key", key, "--type", "spdxjson", "--predicate", predicates["spdxjson"], ref]) == 0
    assert sealgate(["attest", "--key", key, "--type", "spdxjson", "--predicate", predicates["spdxjson"], ref]) == 0
    assert [layer["annotations"]["predicateType"] for layer in _manifest(ref, tag)["layers"]] == [
        "https://cosign.sigstore.dev/attestation/v1",
        "https://spdx.dev/Document",
        "https://spdx.dev/Document",
    ]
    capsys.readouterr()
    assert (
        sealgate(
            ["attest", "--key", key, "--type", "spdxjson", "--replace", "--predicate", predicates["spdxjson"], ref]
        )
        == 0
    )
    assert "Replaced 2 attestation(s)" in capsys.readouterr().out
    assert [layer["annotations"]["predicateType"] for layer in _manifest(ref, tag)["layers"]] == [
        "https://spdx.dev/Document",
        "https://cosign.sigstore.dev/attestation/v1",
    ]
    code, report = _verify(sealgate, capsys, "--key", f"{keys['signer']}.pub", ref)  # default type: custom
    assert code == 0
    good = [a for a in _checked(report) if a["verified"]]
    assert good[0]["statement"]["predicate"]["Data"] == "free text <&>\n"


def test_bundle_format_goes_to_the_fallback_tag_and_verifies(
    registry, pushed_image, keys, predicates, sealgate, capsys
):
    ref, digest = pushed_image(registry, repo="att/bundle", tag="v1")
    key = f"{keys['signer']}.key"
    for type_ in ("cyclonedx", "spdxjson"):
        assert (
            sealgate(
                ["attest", "--key", key, "--type", type_, "--bundle-format", "--predicate", predicates[type_], ref]
            )
            == 0
        )
    assert "fallback-tag at" in capsys.readouterr().out
    index = _manifest(ref, Digest.parse(digest).tag_form)
    assert index["mediaType"] == OCI_INDEX
    entries = index["manifests"]
    assert len(entries) == 2 and entries == sorted(entries, key=lambda e: e["digest"])
    assert {e["artifactType"] for e in entries} == {"application/vnd.dev.sigstore.bundle.v0.3+json"}

    async def referring():
        async with RegistryClient() as client:
            r = Reference.parse(ref)
            return [(await client.get_manifest(r.with_digest(Digest.parse(e["digest"])))).json() for e in entries]

    for manifest in asyncio.run(referring()):
        assert manifest["mediaType"] == OCI_MANIFEST
        assert manifest["subject"]["digest"] == digest
        assert manifest["annotations"]["dev.sigstore.bundle.content"] == "dsse-envelope"
    for type_ in ("cyclonedx", "spdxjson"):
        code, report = _verify(sealgate, capsys, "--key", f"{keys['signer']}.pub", "--type", type_, ref)
        assert code == 0, report
        assert {a["layout"] for a in _checked(report)} == {"fallback-tag"}
    code, report = _verify(sealgate, capsys, "--key", f"{keys['stranger']}.pub", "--type", "cyclonedx", ref)
    assert (code, report["code"]) == (1, "ATTESTATION_MISSING")
    assert {a["code"] for a in _checked(report)} == {"SIGNATURE_INVALID"}


def test_attestation_replayed_onto_another_image_fails_its_subject(
    registry, pushed_image, keys, predicates, sealgate, capsys
):
    ref_a, digest_a = pushed_image(registry, repo="att/replay", tag="a")
    ref_b, digest_b = pushed_image(registry, repo="att/replay", tag="b")
    assert (
        sealgate(
            [
                "attest",
                "--key",
                f"{keys['signer']}.key",
                "--type",
                "cyclonedx",
                "--predicate",
                predicates["cyclonedx"],
                ref_a,
            ]
        )
        == 0
    )
    manifest = _manifest(ref_a, f"{Digest.parse(digest_a).tag_form}.att")

    async def copy():
        async with RegistryClient() as client:
            target = Reference.parse(ref_b).with_tag(f"{Digest.parse(digest_b).tag_form}.att")
            await client.put_manifest(target, json.dumps(manifest).encode(), OCI_MANIFEST)

    asyncio.run(copy())
    code, report = _verify(sealgate, capsys, "--key", f"{keys['signer']}.pub", "--type", "cyclonedx", ref_b)
    assert (code, report["code"]) == (1, "SUBJECT_MISMATCH")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["--type", "not a type"], "neither a known type", id="unknown type is a usage error"),
        pytest.param(
            ["--predicate", "/nonexistent/p.json"], "--predicate /nonexistent/p.json", id="missing predicate file"
        ),
        pytest.param(
            ["--bundle-format", "--replace"], "--replace applies to the legacy", id="replace with bundle format"
        ),
    ],
)
def test_attest_usage_errors_exit_2(registry, pushed_image, keys, predicates, sealgate, capsys, argv, message):
    ref, _ = pushed_image(registry, repo="att/usage", tag="v1")
    base = ["attest", "--key", f"{keys['signer']}.key", "--predicate", predicates["cyclonedx"], "--type", "cyclonedx"]
    assert sealgate([*base, *argv, ref]) == 2
    assert message in capsys.readouterr().err


def _big_sbom(components: int) -> bytes:
    """A CycloneDX document the size real SBOMs of large images have (a few MiB)."""
    listed = [
        {
            "type": "library",
            "bom-ref": f"pkg:npm/dep-{i}@1.0.{i}",
            "name": f"dep-{i}",
            "version": f"1.0.{i}",
            "purl": f"pkg:npm/dep-{i}@1.0.{i}",
            "licenses": [{"license": {"id": "MIT"}}],
            "properties": [{"name": "sealgate:location", "value": f"/usr/lib/node_modules/dep-{i}/package.json"}],
        }
        for i in range(components)
    ]
    return json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.6", "components": listed}).encode()


@pytest.mark.parametrize("layout", ["legacy", "bundle"])
def test_an_sbom_attestation_of_thousands_of_components_is_read_past_the_signature_caps(
    registry, pushed_image, keys, sealgate, capsys, tmp_path, layout
):
    """A 5,000-component SBOM is ~2 MiB as JSON and larger in base64 inside DSSE: above the 1 MiB bundle cap
    meant for signatures, below max_attestation_bytes. It verifies through the CLI and through a policy."""
    ref, digest = pushed_image(registry, repo="att/big", tag=layout)
    sbom = tmp_path / "big.json"
    sbom.write_bytes(_big_sbom(5000))
    assert len(sbom.read_bytes()) > 1 << 20
    extra = ["--bundle-format"] if layout == "bundle" else []
    argv = ["attest", "--key", f"{keys['signer']}.key", "--type", "cyclonedx", "--predicate", str(sbom), *extra]
    assert sealgate([*argv, ref]) == 0
    code, report = _verify(sealgate, capsys, "--key", f"{keys['signer']}.pub", "--type", "cyclonedx", ref)
    assert code == 0, report
    assert len(_checked(report)[0]["statement"]["predicate"]["components"]) == 5000
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "apiVersion: sealgate.dev/v1alpha1\nkind: ImagePolicy\nmetadata: {name: sbom}\nspec:\n"
        f'  images: ["{registry.host}/att/big"]\n  threshold: 1\n'
        f"  authorities: [{{name: ci, key: {{path: {keys['signer']}.pub}}}}]\n"
        "  attestations: [{name: sbom, predicateType: cyclonedx}]\n"
    )
    assert sealgate(["sign", "--key", f"{keys['signer']}.key", ref]) == 0
    capsys.readouterr()
    assert sealgate(["verify", "--policy", str(policy), f"{registry.host}/att/big@{digest}"]) == 0, capsys.readouterr()
