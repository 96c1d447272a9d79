"""sealgate's keys and signatures against an independent implementation: the ``openssl`` command line."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import nacl.secret
import pytest

from verifier.cosign._payload import build_simple_signing_payload
from verifier.crypto import (
    encrypt_private_key,
    generate_signing_key,
    load_private_key,
    load_public_key,
    public_key_pem,
    sign_bytes,
    verify_bytes,
)

pytestmark = pytest.mark.integration

PAYLOAD = build_simple_signing_payload("127.0.0.1:5000/demo/app", "sha256:" + "0f" * 32, {"env": "ci"})


@pytest.fixture(scope="module")
def openssl() -> str:
    path = shutil.which("openssl")
    if path is None:
        pytest.skip("openssl is not installed")
    return path


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, check=False, timeout=60)


def _openssl_verify(openssl: str, tmp_path: Path, pub_pem: bytes, signature: bytes, digest: str) -> str:
    (tmp_path / "pub.pem").write_bytes(pub_pem)
    (tmp_path / "sig.der").write_bytes(signature)
    (tmp_path / "payload").write_bytes(PAYLOAD)
    result = _run(
        openssl, "dgst", f"-{digest}", "-verify", str(tmp_path / "pub.pem"),
        "-signature", str(tmp_path / "sig.der"), str(tmp_path / "payload"),
    )  # fmt: skip
    return result.stdout.strip()


def test_openssl_verifies_a_sealgate_p256_signature(openssl, tmp_path):
    key = generate_signing_key()
    signature = sign_bytes(key, PAYLOAD)
    assert _openssl_verify(openssl, tmp_path, public_key_pem(key.public_key()), signature, "sha256") == "Verified OK"


def test_openssl_rejects_a_sealgate_signature_under_another_key(openssl, tmp_path):
    signature = sign_bytes(generate_signing_key(), PAYLOAD)
    other = public_key_pem(generate_signing_key().public_key())
    assert _openssl_verify(openssl, tmp_path, other, signature, "sha256") == "Verification failure"


@pytest.mark.parametrize(
    ("genpkey", "digest"),
    [
        pytest.param(["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"], "sha384", id="P-384 with SHA-384"),
        pytest.param(["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"], "sha256", id="RSA-2048 PKCS1v15"),
    ],
)
def test_openssl_generated_keys_sign_with_sealgate_and_verify_with_openssl(openssl, tmp_path, genpkey, digest):
    key_path = tmp_path / "key.pem"
    assert _run(openssl, "genpkey", *genpkey, "-out", str(key_path)).returncode == 0
    key = load_private_key(key_path.read_bytes(), b"")
    signature = sign_bytes(key, PAYLOAD)
    assert _openssl_verify(openssl, tmp_path, public_key_pem(key.public_key()), signature, digest) == "Verified OK"


def test_sealgate_verifies_an_openssl_p256_signature(openssl, tmp_path):
    key_path, pub_path = tmp_path / "key.pem", tmp_path / "pub.pem"
    payload_path, sig_path = tmp_path / "payload", tmp_path / "sig.der"
    payload_path.write_bytes(PAYLOAD)
    assert _run(openssl, "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(key_path)).returncode == 0
    assert _run(openssl, "ec", "-in", str(key_path), "-pubout", "-out", str(pub_path)).returncode == 0
    signed = _run(openssl, "dgst", "-sha256", "-sign", str(key_path), "-out", str(sig_path), str(payload_path))
    assert signed.returncode == 0, signed.stderr

    public = load_public_key(pub_path.read_bytes())
    signature = sig_path.read_bytes()
    assert verify_bytes(public, signature, PAYLOAD)
    assert not verify_bytes(public, signature, PAYLOAD + b" ")
    # the SEC1 "EC PRIVATE KEY" openssl wrote imports as a signing key for the same public key
    assert public_key_pem(load_private_key(key_path.read_bytes(), b"").public_key()) == pub_path.read_bytes()


def test_sealgate_verifies_an_openssl_pure_ed25519_signature(openssl, tmp_path):
    key_path, pub_path = tmp_path / "key.pem", tmp_path / "pub.pem"
    payload_path, sig_path = tmp_path / "payload", tmp_path / "sig.bin"
    payload_path.write_bytes(PAYLOAD)
    assert _run(openssl, "genpkey", "-algorithm", "ED25519", "-out", str(key_path)).returncode == 0
    assert _run(openssl, "pkey", "-in", str(key_path), "-pubout", "-out", str(pub_path)).returncode == 0
    signed = _run(
        openssl, "pkeyutl", "-sign", "-rawin", "-inkey", str(key_path),
        "-in", str(payload_path), "-out", str(sig_path),
    )  # fmt: skip
    assert signed.returncode == 0, signed.stderr
    assert verify_bytes(load_public_key(pub_path.read_bytes()), sig_path.read_bytes(), PAYLOAD)


def test_openssl_reads_the_pkcs8_inside_a_sealgate_encrypted_key(openssl, tmp_path):
    """A sealgate cosign.key decrypted by hand holds PKCS#8 DER that openssl reads as the same key."""
    key = generate_signing_key()
    pem = encrypt_private_key(key, b"pw", scrypt_n=32768)
    envelope = json.loads(base64.b64decode(b"".join(pem.splitlines()[1:-1])))
    derived = hashlib.scrypt(
        b"pw",
        salt=base64.b64decode(envelope["kdf"]["salt"]),
        n=32768,
        r=8,
        p=1,
        dklen=32,
        maxmem=64 * 1024 * 1024,
    )
    der = nacl.secret.SecretBox(derived).decrypt(
        base64.b64decode(envelope["ciphertext"]), base64.b64decode(envelope["cipher"]["nonce"])
    )
    (tmp_path / "key.der").write_bytes(der)
    result = _run(openssl, "pkey", "-inform", "DER", "-in", str(tmp_path / "key.der"), "-pubout")
    assert result.returncode == 0, result.stderr
    assert result.stdout.encode() == public_key_pem(key.public_key())
