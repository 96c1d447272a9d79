# ruff: noqa: F811 - test functions take the imported `sealgate` fixture by name
"""DSSE interop with an implementation we did not write (python securesystemslib, FORMATS.md §7):
attestations `sealgate attest` pushes verify with securesystemslib, and envelopes securesystemslib signs
verify with `sealgate verify-attestation` once attached in cosign's `.att` layout."""

from __future__ import annotations

import asyncio
import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from securesystemslib.dsse import Envelope
from securesystemslib.exceptions import VerificationError
from securesystemslib.signer import CryptoSigner, SSlibKey

from tests.support.cli import sealgate  # noqa: F401 - the fixture
from verifier.cli import main
from verifier.cosign import load_private_key, load_public_key, public_key_pem, read_key_file
from verifier.cosign._attest import build_attestation_statement
from verifier.cosign._layout import DSSE_MEDIA_TYPE, SIGNATURE_ANNOTATION, build_signature_manifest
from verifier.oci import OCI_MANIFEST, Descriptor, Digest, Reference
from verifier.registry import RegistryClient

pytestmark = pytest.mark.integration

PASSWORD = "interop"


@pytest.fixture
def keypair(tmp_path, monkeypatch):
    monkeypatch.setenv("COSIGN_PASSWORD", PASSWORD)
    assert main(["keygen", "--output-key-prefix", str(tmp_path / "k")]) == 0
    return tmp_path / "k.key", tmp_path / "k.pub"


def _sslib_key(pub_pem: bytes) -> SSlibKey:
    """securesystemslib's view of a cosign public key; keyid "" to match cosign's empty keyid."""
    key = SSlibKey.from_crypto(load_public_key(pub_pem))
    return SSlibKey("", key.keytype, key.scheme, key.keyval)


def _att_layer(ref: str, digest: str) -> bytes:
    async def fetch():
        async with RegistryClient() as client:
            r = Reference.parse(ref)
            manifest = (await client.get_manifest(r.with_tag(f"{Digest.parse(digest).tag_form}.att"))).json()
            return await client.get_blob(r, Digest.parse(manifest["layers"][0]["digest"]))

    return asyncio.run(fetch())


def test_sealgate_attestation_verifies_with_securesystemslib(registry, pushed_image, keypair, tmp_path, sealgate):
    ref, digest = pushed_image(registry, repo="interop/out", tag="v1")
    predicate = tmp_path / "bom.json"
    predicate.write_text('{"bomFormat":"CycloneDX"}')
    key, pub = keypair
    assert sealgate(["attest", "--key", str(key), "--type", "cyclonedx", "--predicate", str(predicate), ref]) == 0

    envelope = Envelope.from_dict(json.loads(_att_layer(ref, digest)))
    verified = envelope.verify([_sslib_key(pub.read_bytes())], 1)
    assert list(verified) == [""]
    statement = json.loads(envelope.payload)
    assert statement["subject"][0]["digest"]["sha256"] == Digest.parse(digest).hex
    assert statement["predicateType"] == "https://cyclonedx.org/bom"
    # and securesystemslib does not accept it with another key
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    with pytest.raises(VerificationError):
        envelope.verify([_sslib_key(public_key_pem(other))], 1)


def _push_att(ref: str, digest: str, envelope: bytes, predicate_type: str) -> None:
    layer = Descriptor(
        DSSE_MEDIA_TYPE,
        Digest.of(envelope),
        len(envelope),
        annotations={SIGNATURE_ANNOTATION: "", "predicateType": predicate_type},
    )
    manifest, config = build_signature_manifest([layer])

    async def push():
        async with RegistryClient() as client:
            r = Reference.parse(ref)
            await client.push_blob(r, envelope)
            await client.push_blob(r, config)
            await client.put_manifest(r.with_tag(f"{Digest.parse(digest).tag_form}.att"), manifest, OCI_MANIFEST)

    asyncio.run(push())


@pytest.mark.parametrize(
    ("curve", "keyid"),
    [
        pytest.param(ec.SECP256R1(), "", id="P-256 with cosign's empty keyid"),
        pytest.param(ec.SECP384R1(), None, id="P-384 with securesystemslib's own keyid"),
    ],
)
def test_securesystemslib_envelope_verifies_with_sealgate(
    registry, pushed_image, tmp_path, sealgate, capsys, curve, keyid
):
    ref, digest = pushed_image(registry, repo="interop/in", tag="v1")
    private = ec.generate_private_key(curve)
    public = SSlibKey.from_crypto(private.public_key())
    if keyid is not None:
        public = SSlibKey(keyid, public.keytype, public.scheme, public.keyval)
    signer = CryptoSigner(private, public)
    statement = build_attestation_statement(
        "https://slsa.dev/provenance/v1", {"buildDefinition": {}}, Reference.parse(ref).name, Digest.parse(digest)
    )
    envelope = Envelope(payload=statement, payload_type="application/vnd.in-toto+json", signatures={})
    envelope.sign(signer)
    raw = json.dumps(envelope.to_dict()).encode()
    _push_att(ref, digest, raw, "https://slsa.dev/provenance/v1")
    pub = tmp_path / "sslib.pub"
    pub.write_bytes(public_key_pem(private.public_key()))

    capsys.readouterr()
    argv = ["verify-attestation", "--key", str(pub), "--type", "slsaprovenance1", "--output", "json", ref]
    assert sealgate(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["results"][0]["evidence"][0]["statement"]["predicate"] == {"buildDefinition": {}}


def test_cosign_private_key_signs_what_securesystemslib_accepts(keypair):
    """The key file sealgate keygen writes, loaded back, makes signatures securesystemslib verifies."""
    key, pub = keypair
    signing = load_private_key(read_key_file(str(key)), lambda: PASSWORD.encode())
    envelope = Envelope(payload=b'{"x":1}', payload_type="application/vnd.in-toto+json", signatures={})
    envelope.sign(CryptoSigner(signing, _sslib_key(pub.read_bytes())))
    assert list(envelope.verify([_sslib_key(pub.read_bytes())], 1)) == [""]
