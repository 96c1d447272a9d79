"""`sealgate keygen / sign / verify` end to end against a real docker-registry, driven through main()."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest

from tools.testimages import push_index
from verifier.cli import main
from verifier.cosign import SIGNATURE_ANNOTATION, attachment_tag, load_public_key, verify_bytes
from verifier.oci import OCI_MANIFEST, Digest, Reference
from verifier.registry import RegistryClient

pytestmark = pytest.mark.integration


@pytest.fixture
def keys(tmp_path, monkeypatch):
    """Two key pairs made by `sealgate keygen`: ``signer`` and ``stranger`` (paths without suffix)."""
    monkeypatch.setenv("COSIGN_PASSWORD", "s3cret")
    monkeypatch.chdir(tmp_path)
    for name in ("signer", "stranger"):
        assert main(["keygen", "--output-key-prefix", str(tmp_path / name)]) == 0
    return {name: tmp_path / name for name in ("signer", "stranger")}


def _sig_manifest(ref: str, digest: str) -> dict:
    async def fetch():
        async with RegistryClient() as client:
            r = Reference.parse(ref)
            return (await client.get_manifest(r.with_tag(attachment_tag(Digest.parse(digest))))).json()

    return asyncio.run(fetch())


def test_sign_by_tag_then_verify(registry, pushed_image, keys, capsys):
    ref, digest = pushed_image(registry, repo="cli/app", tag="v1")
    assert main(["sign", "--key", f"{keys['signer']}.key", ref]) == 0
    out = capsys.readouterr().out
    assert f"Resolved tag 'v1' of {registry.host}/cli/app to {digest}" in out
    assert main(["verify", "--key", f"{keys['signer']}.pub", ref]) == 0
    out = capsys.readouterr().out
    assert f"tag 'v1' resolved to {digest}" in out
    assert f"Decision for {ref}: ALLOW" in out
    assert '  PASS policy "command-line" (enforce)' in out
    assert "signature verified with key 'signer.pub'" in out


def test_signing_twice_does_not_duplicate_and_another_key_appends(registry, pushed_image, keys, capsys):
    ref, digest = pushed_image(registry, repo="cli/dedupe", tag="v1")
    assert main(["sign", "--key", f"{keys['signer']}.key", ref]) == 0
    assert main(["sign", "--key", f"{keys['signer']}.key", ref]) == 0
    assert "already carries this signature" in capsys.readouterr().out
    assert len(_sig_manifest(ref, digest)["layers"]) == 1
    assert main(["sign", "--key", f"{keys['stranger']}.key", ref]) == 0
    assert len(_sig_manifest(ref, digest)["layers"]) == 2
    capsys.readouterr()
    # each key verifies its own signature; the report names one good and one rejected layer
    assert main(["verify", "--key", f"{keys['stranger']}.pub", "--output", "json", ref]) == 0
    report = json.loads(capsys.readouterr().out)
    checked = report["results"][0]["evidence"]
    assert [s["verified"] for s in checked] == [False, True]
    assert checked[0]["code"] == "SIGNATURE_INVALID"
    assert checked[0]["reason"] == "signature invalid for key 'stranger.pub'"


def test_unsigned_image_has_no_signatures(registry, pushed_image, keys, capsys):
    ref, digest = pushed_image(registry, repo="cli/unsigned", tag="v1")
    assert main(["verify", "--key", f"{keys['signer']}.pub", "--output", "json", ref]) == 1
    report = json.loads(capsys.readouterr().out)
    assert (report["outcome"], report["code"], report["digest"]) == ("deny", "NO_SIGNATURES", digest)
    assert report["reason"] == 'policy "command-line": no signatures found'


def test_wrong_key_is_signature_invalid(registry, pushed_image, keys, capsys):
    ref, _ = pushed_image(registry, repo="cli/wrongkey", tag="v1")
    assert main(["sign", "--key", f"{keys['signer']}.key", ref]) == 0
    assert main(["verify", "--key", f"{keys['stranger']}.pub", ref]) == 1
    out = capsys.readouterr().out
    assert f'FAIL image "{ref}": policy "command-line": no signature verifies with key of "stranger.pub"' in out
    assert "signature invalid for key 'stranger.pub'" in out
    assert f"Decision for {ref}: DENY" in out


def test_signature_copied_to_another_image_is_a_digest_mismatch(registry, pushed_image, keys, capsys):
    signed_ref, signed_digest = pushed_image(registry, repo="cli/replay", tag="good")
    other_ref, other_digest = pushed_image(registry, repo="cli/replay", tag="evil")
    assert main(["sign", "--key", f"{keys['signer']}.key", signed_ref]) == 0

    async def replay():
        async with RegistryClient() as client:
            repo = Reference.parse(signed_ref)
            m = await client.get_manifest(repo.with_tag(attachment_tag(Digest.parse(signed_digest))))
            await client.put_manifest(repo.with_tag(attachment_tag(Digest.parse(other_digest))), m.raw, OCI_MANIFEST)

    asyncio.run(replay())
    capsys.readouterr()
    assert main(["verify", "--key", f"{keys['signer']}.pub", "--output", "json", other_ref]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["code"] == "PAYLOAD_DIGEST_MISMATCH"
    (check,) = report["results"][0]["evidence"]
    assert check["code"] == "PAYLOAD_DIGEST_MISMATCH"
    assert check["reason"] == f"payload digest mismatch: signed {signed_digest}, image is {other_digest}"


def test_annotations_are_signed_and_required(registry, pushed_image, keys, capsys):
    ref, _ = pushed_image(registry, repo="cli/annotated", tag="v1")
    assert main(["sign", "--key", f"{keys['signer']}.key", "-a", "env=prod", "-a", "team=<a&b>", ref]) == 0
    assert main(["verify", "--key", f"{keys['signer']}.pub", "-a", "env=prod", ref]) == 0
    assert main(["verify", "--key", f"{keys['signer']}.pub", "-a", "env=dev", ref]) == 1
    assert "annotations do not match env=dev" in capsys.readouterr().out


def test_payload_for_another_repository_is_a_reference_mismatch(registry, pushed_image, keys, capsys):
    ref, _ = pushed_image(registry, repo="cli/identity", tag="v1")
    assert (
        main(
            [
                "sign",
                "--key",
                f"{keys['signer']}.key",
                "--sign-container-identity",
                "example.com/other/app",
                ref,
            ]
        )
        == 0
    )
    assert main(["verify", "--key", f"{keys['signer']}.pub", ref]) == 1
    assert "reference mismatch: signed for 'example.com/other/app'" in capsys.readouterr().out
    assert main(["verify", "--key", f"{keys['signer']}.pub", "--skip-reference-check", ref]) == 0


def test_output_files_hold_what_was_pushed(registry, pushed_image, keys, tmp_path):
    ref, digest = pushed_image(registry, repo="cli/outputs", tag="v1")
    sig_file, payload_file = tmp_path / "sig.b64", tmp_path / "payload.json"
    argv = [
        "sign",
        "--key",
        f"{keys['signer']}.key",
        "--output-signature",
        str(sig_file),
        "--output-payload",
        str(payload_file),
        ref,
    ]
    assert main(argv) == 0
    payload = payload_file.read_bytes()
    assert json.loads(payload)["critical"]["image"]["docker-manifest-digest"] == digest
    (layer,) = _sig_manifest(ref, digest)["layers"]
    assert layer["annotations"][SIGNATURE_ANNOTATION] == sig_file.read_text()
    public = load_public_key((keys["signer"].parent / "signer.pub").read_bytes())
    assert verify_bytes(public, base64.b64decode(sig_file.read_text()), payload)


def test_recursive_signs_the_index_and_every_platform(registry, keys, capsys, tmp_path):
    pushed = push_index(tmp_path, registry, "cli/multiarch", "v1", name="multiarch")
    ref, index_digest, children = pushed.ref, pushed.digest, list(pushed.children.values())
    assert main(["sign", "--key", f"{keys['signer']}.key", "--recursive", ref]) == 0
    for digest in [index_digest, *children]:
        by_digest = f"{registry.host}/cli/multiarch@{digest}"
        assert main(["verify", "--key", f"{keys['signer']}.pub", by_digest]) == 0, digest


def test_cosign_repository_stores_signatures_elsewhere(registry, pushed_image, keys, monkeypatch, capsys):
    ref, digest = pushed_image(registry, repo="cli/elsewhere", tag="v1")
    monkeypatch.setenv("COSIGN_REPOSITORY", f"{registry.host}/signatures/store")
    assert main(["sign", "--key", f"{keys['signer']}.key", ref]) == 0
    assert len(_sig_manifest(f"{registry.host}/signatures/store", digest)["layers"]) == 1
    assert main(["verify", "--key", f"{keys['signer']}.pub", ref]) == 0
    monkeypatch.delenv("COSIGN_REPOSITORY")
    assert main(["verify", "--key", f"{keys['signer']}.pub", ref]) == 1
