"""Interop with containers/image (skopeo), an implementation we did not write.

- skopeo finds sealgate's `.sig` attachments (`use-sigstore-attachments`), copies them, and the copies it
  rewrites still verify with `sealgate verify`;
- skopeo writes them out in containers/image's own signature format, unchanged.

Debian's skopeo is built with sigstore signing and `sigstoreSigned` policy evaluation disabled ("Debian-local
change: sigstore disabled"), so those two directions cannot be exercised with it here.
"""

from __future__ import annotations

import asyncio
import subprocess

import pytest

from tests.support.sigstore_json import read_sigstore_json
from verifier.cli import main
from verifier.cosign import SIMPLE_SIGNING_MEDIA_TYPE, attachment_tag
from verifier.oci import Digest, Reference
from verifier.registry import RegistryClient

pytestmark = pytest.mark.integration


@pytest.fixture
def keypair(tmp_path, monkeypatch):
    monkeypatch.setenv("COSIGN_PASSWORD", "interop")
    prefix = tmp_path / "cosign"
    assert main(["keygen", "--output-key-prefix", str(prefix)]) == 0
    return prefix


@pytest.fixture
def skopeo_config(tmp_path, registry):
    """registries.d turning on sigstore attachments for the loopback registry."""
    regd = tmp_path / "registries.d"
    regd.mkdir()
    (regd / "sealgate-test.yaml").write_text(f"docker:\n  {registry.host}:\n    use-sigstore-attachments: true\n")
    return regd


def _skopeo(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["skopeo", *args], capture_output=True, text=True, timeout=120, check=check)


def _layers(ref: str, digest: str) -> list[dict]:
    async def fetch():
        async with RegistryClient() as client:
            r = Reference.parse(ref)
            return (await client.get_manifest(r.with_tag(attachment_tag(Digest.parse(digest))))).json()["layers"]

    return asyncio.run(fetch())


def test_skopeo_copies_sealgate_signatures_and_the_copies_verify(registry, pushed_image, keypair, skopeo_config):
    src, digest = pushed_image(registry, repo="interop/src", tag="v1")
    assert main(["sign", "--key", f"{keypair}.key", src]) == 0
    dst = f"{registry.host}/interop/dst:v1"
    _skopeo(
        "--registries.d",
        str(skopeo_config),
        "copy",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        f"docker://{src}",
        f"docker://{dst}",
    )
    layers = _layers(dst, digest)
    assert len(layers) == 1, "skopeo did not carry the signature over"
    # the payload names interop/src: cosign semantics accept it, the strict default says why not
    assert main(["verify", "--key", f"{keypair}.pub", "--skip-reference-check", dst]) == 0
    assert main(["verify", "--key", f"{keypair}.pub", dst]) == 1


def test_skopeo_reads_sealgate_signatures_into_a_dir_layout(registry, pushed_image, keypair, skopeo_config, tmp_path):
    src, digest = pushed_image(registry, repo="interop/dir", tag="v1")
    assert main(["sign", "--key", f"{keypair}.key", "-a", "env=ci", src]) == 0
    out = tmp_path / "copy"
    _skopeo(
        "--registries.d",
        str(skopeo_config),
        "copy",
        "--src-tls-verify=false",
        f"docker://{src}",
        f"dir:{out}",
    )
    sig = read_sigstore_json(out / "signature-1")
    assert sig.mime_type == SIMPLE_SIGNING_MEDIA_TYPE
    (layer,) = _layers(src, digest)
    # what skopeo wrote is the very layer sealgate pushed: same payload, same annotations
    assert str(Digest.of(sig.payload)) == layer["digest"]
    assert sig.annotations == layer["annotations"]
