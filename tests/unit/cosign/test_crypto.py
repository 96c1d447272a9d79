"""Signature primitives: cosign's hash and padding when signing, every cosign scheme when verifying."""

from __future__ import annotations

import functools
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from verifier.crypto import ed25519ph_sign, ed25519ph_verify, natural_hash, sign_bytes, signature_scheme, verify_bytes

DATA = b'{"critical":{"identity":{"docker-reference":"127.0.0.1:5000/demo"}},"optional":null}'

KINDS = ["p256", "p384", "p521", "rsa-2048", "rsa-3072", "rsa-4096", "ed25519"]
NATURAL_SCHEME = {
    "p256": "ecdsa-sha256",
    "p384": "ecdsa-sha384",
    "p521": "ecdsa-sha512",
    "rsa-2048": "rsa-pkcs1v15-sha256",
    "rsa-3072": "rsa-pkcs1v15-sha256",
    "rsa-4096": "rsa-pkcs1v15-sha256",
    "ed25519": "ed25519",
}

# RFC 8032 section 7.3, "Test Vectors for Ed25519ph" (message "abc").
RFC8032_PH_SECRET = bytes.fromhex("833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42")
RFC8032_PH_PUBLIC = bytes.fromhex("ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf")
RFC8032_PH_MESSAGE = bytes.fromhex("616263")
RFC8032_PH_SIGNATURE = bytes.fromhex(
    "98a70222f0b8121aa9d30f813d683f809e462b469c7ff87639499bb94e6dae41"
    "31f85042463c2a355a2003d062adf5aaa10b8c61e636062aaad11c2a26083406"
)


@functools.cache
def _key(kind: str, n: int = 0) -> Any:
    """A private key of ``kind``; different ``n`` give different keys of the same kind."""
    del n  # only part of the cache key
    if kind.startswith("rsa-"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(kind[4:]))
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    curve = {"p256": ec.SECP256R1(), "p384": ec.SECP384R1(), "p521": ec.SECP521R1()}[kind]
    return ec.generate_private_key(curve)


@pytest.mark.parametrize("kind", KINDS)
def test_signature_round_trips(kind):
    key = _key(kind)
    signature = sign_bytes(key, DATA)
    assert verify_bytes(key.public_key(), signature, DATA)
    assert signature_scheme(key.public_key(), signature, DATA) == NATURAL_SCHEME[kind]


@pytest.mark.parametrize("kind", KINDS)
def test_signature_does_not_verify_with_another_key_of_the_same_kind(kind):
    signature = sign_bytes(_key(kind), DATA)
    assert not verify_bytes(_key(kind, 1).public_key(), signature, DATA)


@pytest.mark.parametrize("kind", KINDS)
def test_signature_does_not_verify_tampered_data(kind):
    key = _key(kind)
    signature = sign_bytes(key, DATA)
    tampered = DATA.replace(b"demo", b"dem0")
    assert not verify_bytes(key.public_key(), signature, tampered)
    assert not verify_bytes(key.public_key(), signature, DATA + b"\n")


@pytest.mark.parametrize("kind", KINDS)
def test_flipped_signature_byte_does_not_verify(kind):
    key = _key(kind)
    signature = bytearray(sign_bytes(key, DATA))
    signature[len(signature) // 2] ^= 0x01
    assert not verify_bytes(key.public_key(), bytes(signature), DATA)


def test_signature_made_with_one_kind_does_not_verify_with_another():
    signature = sign_bytes(_key("p256"), DATA)
    assert not verify_bytes(_key("p384").public_key(), signature, DATA)
    assert not verify_bytes(_key("rsa-2048").public_key(), signature, DATA)
    assert not verify_bytes(_key("ed25519").public_key(), signature, DATA)


@pytest.mark.parametrize(
    ("kind", "algorithm"),
    [("p256", hashes.SHA256()), ("p384", hashes.SHA384()), ("p521", hashes.SHA512())],
)
def test_ecdsa_signs_with_the_curves_natural_hash(kind, algorithm):
    key = _key(kind)
    assert natural_hash(key.curve).name == algorithm.name
    # cryptography's own verifier raises unless the hash is the one sign_bytes used
    key.public_key().verify(sign_bytes(key, DATA), DATA, ec.ECDSA(algorithm))


def test_natural_hash_refuses_other_curves():
    with pytest.raises(ValueError, match="unsupported elliptic curve secp256k1"):
        natural_hash(ec.SECP256K1())


@pytest.mark.parametrize("kind", ["p384", "p521"])
def test_larger_curve_signature_made_with_sha256_still_verifies(kind):
    key = _key(kind)
    signature = key.sign(DATA, ec.ECDSA(hashes.SHA256()))  # what cosign does with its default digest flag
    assert verify_bytes(key.public_key(), signature, DATA)
    assert signature_scheme(key.public_key(), signature, DATA) == "ecdsa-sha256"


def test_p384_signature_with_sha512_is_not_accepted():
    key = _key("p384")
    signature = key.sign(DATA, ec.ECDSA(hashes.SHA512()))
    assert not verify_bytes(key.public_key(), signature, DATA)


def test_rsa_signs_with_pkcs1v15_sha256():
    key = _key("rsa-2048")
    key.public_key().verify(sign_bytes(key, DATA), DATA, padding.PKCS1v15(), hashes.SHA256())


def test_rsa_pss_sha256_signature_verifies():
    key = _key("rsa-3072")
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
    signature = key.sign(DATA, pss, hashes.SHA256())
    assert signature_scheme(key.public_key(), signature, DATA) == "rsa-pss-sha256"


def test_rsa_pkcs1v15_with_sha512_is_not_accepted():
    key = _key("rsa-2048")
    signature = key.sign(DATA, padding.PKCS1v15(), hashes.SHA512())
    assert not verify_bytes(key.public_key(), signature, DATA)


def test_ed25519_signs_pure_ed25519():
    key = _key("ed25519")
    key.public_key().verify(sign_bytes(key, DATA), DATA)


# --- Ed25519ph ---------------------------------------------------------------------------------------------


def test_rfc8032_ed25519ph_vector_verifies():
    public = ed25519.Ed25519PublicKey.from_public_bytes(RFC8032_PH_PUBLIC)
    assert ed25519ph_verify(public, RFC8032_PH_SIGNATURE, RFC8032_PH_MESSAGE)
    assert signature_scheme(public, RFC8032_PH_SIGNATURE, RFC8032_PH_MESSAGE) == "ed25519ph"
    assert verify_bytes(public, RFC8032_PH_SIGNATURE, RFC8032_PH_MESSAGE)


def test_rfc8032_ed25519ph_vector_is_reproduced_by_signing():
    private = ed25519.Ed25519PrivateKey.from_private_bytes(RFC8032_PH_SECRET)
    assert ed25519ph_sign(private, RFC8032_PH_MESSAGE) == RFC8032_PH_SIGNATURE


@pytest.mark.parametrize(
    ("message", "signature"),
    [
        pytest.param(b"abd", RFC8032_PH_SIGNATURE, id="another message"),
        pytest.param(RFC8032_PH_MESSAGE, RFC8032_PH_SIGNATURE[:-1] + b"\x07", id="a flipped signature byte"),
        pytest.param(RFC8032_PH_MESSAGE, RFC8032_PH_SIGNATURE[:63], id="a short signature"),
        pytest.param(RFC8032_PH_MESSAGE, b"", id="an empty signature"),
    ],
)
def test_ed25519ph_rejects_what_does_not_match(message, signature):
    public = ed25519.Ed25519PublicKey.from_public_bytes(RFC8032_PH_PUBLIC)
    assert not ed25519ph_verify(public, signature, message)
    assert not verify_bytes(public, signature, message)


def test_ed25519ph_and_pure_signatures_are_distinct():
    key = _key("ed25519")
    prehashed = ed25519ph_sign(key, DATA)
    assert prehashed != sign_bytes(key, DATA)
    assert signature_scheme(key.public_key(), prehashed, DATA) == "ed25519ph"
    assert not ed25519ph_verify(key.public_key(), sign_bytes(key, DATA), DATA)


def test_ed25519ph_signature_does_not_verify_with_another_key():
    assert not verify_bytes(_key("ed25519", 1).public_key(), ed25519ph_sign(_key("ed25519"), DATA), DATA)


# --- malformed input never raises -----------------------------------------------------------------------

MALFORMED = [
    pytest.param(b"", id="empty"),
    pytest.param(b"\x00", id="one zero byte"),
    pytest.param(b"\x30\x06\x02\x01\x00\x02\x01\x00", id="DER with zero r and s"),
    pytest.param(b"\x30\xff" + b"\x00" * 10, id="DER with a bad length"),
    pytest.param(b"MEUCIQ==", id="base64 text instead of bytes"),
    pytest.param(b"\xff" * 64, id="64 bytes of 0xff"),
    pytest.param(b"\x01" * 600, id="a long blob"),
]


@pytest.mark.parametrize("kind", ["p256", "p521", "rsa-2048", "ed25519"])
@pytest.mark.parametrize("signature", MALFORMED)
def test_malformed_signatures_are_false_not_exceptions(kind, signature):
    assert verify_bytes(_key(kind).public_key(), signature, DATA) is False


def test_sign_bytes_refuses_an_unsupported_key_type():
    with pytest.raises(TypeError, match="unsupported signing key type"):
        sign_bytes(object(), DATA)  # type: ignore[arg-type]
