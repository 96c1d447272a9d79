"""Cosign key files: the encrypted private-key format, plain PEM imports, public keys, and the password."""

from __future__ import annotations

import base64
import contextlib
import datetime
import functools
import hashlib
import io
import json
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import nacl.secret
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from verifier.cosign._password import password_from_env_or_prompt
from verifier.crypto import (
    COSIGN_PRIVATE_KEY_LABEL,
    SIGSTORE_PRIVATE_KEY_LABEL,
    encrypt_private_key,
    generate_signing_key,
    key_id,
    load_private_key,
    load_public_key,
    public_key_pem,
    read_key_file,
)
from verifier.errors import KeyFileError, PasswordError, UsageError
from verifier.limits import DEFAULT_LIMITS

# A real key written by `cosign generate-key-pair` (N=32768, COSIGN label, empty password), published as test
# data in edgelesssys/constellation internal/sigstore/sign_test.go together with its public key.
REAL_COSIGN_KEY = (
    b"-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----\n"
    b"eyJrZGYiOnsibmFtZSI6InNjcnlwdCIsInBhcmFtcyI6eyJOIjozMjc2OCwiciI6\n"
    b"OCwicCI6MX0sInNhbHQiOiJlRHVYMWRQMGtIWVRnK0xkbjcxM0tjbFVJaU92eFVX\n"
    b"VXgvNi9BbitFVk5BPSJ9LCJjaXBoZXIiOnsibmFtZSI6Im5hY2wvc2VjcmV0Ym94\n"
    b"Iiwibm9uY2UiOiJwaWhLL2txNmFXa2hqSVVHR3RVUzhTVkdHTDNIWWp4TCJ9LCJj\n"
    b"aXBoZXJ0ZXh0Ijoidm81SHVWRVFWcUZ2WFlQTTVPaTVaWHM5a255bndZU2dvcyth\n"
    b"VklIeHcrOGFPamNZNEtvVjVmL3lHRHR0K3BHV2toanJPR1FLOWdBbmtsazFpQ0c5\n"
    b"a2czUXpPQTZsU2JRaHgvZlowRVRZQ0hLeElncEdPRVRyTDlDenZDemhPZXVSOXJ6\n"
    b"TDcvRjBBVy9vUDVqZXR3dmJMNmQxOEhjck9kWE8yVmYxY2w0YzNLZjVRcnFSZzlN\n"
    b"dlRxQWFsNXJCNHNpY1JaMVhpUUJjb0YwNHc9PSJ9\n"
    b"-----END ENCRYPTED COSIGN PRIVATE KEY-----"
)
REAL_COSIGN_PUB = (
    b"-----BEGIN PUBLIC KEY-----\n"
    b"MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEu78QgxOOcao6U91CSzEXxrKhvFTt\n"
    b"JHNy+eX6EMePtDm8CnDF9HSwnTlD0itGJ/XHPQA5YX10fJAqI1y+ehlFMw==\n"
    b"-----END PUBLIC KEY-----\n"
)

PASSWORD = b"correct horse battery staple"


# --- key factories (cached: RSA and DSA generation is slow) ---------------------------------------------


@contextlib.contextmanager
def _dsa_allowed() -> Iterator[None]:
    """cryptography 51 deprecates DSA (it warns, an error here); sealgate must still refuse DSA keys clearly."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="DSA is deprecated")
        yield


def _dsa_pem(encode: Callable[[Any], bytes]) -> bytes:
    with _dsa_allowed():
        return encode(_key("dsa"))


@functools.cache
def _key(kind: str) -> Any:
    if kind.startswith("rsa-"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(kind[4:]))
    if kind == "dsa":
        with _dsa_allowed():
            return dsa.generate_private_key(key_size=2048)
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    curves: dict[str, ec.EllipticCurve] = {
        "p256": ec.SECP256R1(),
        "p384": ec.SECP384R1(),
        "p521": ec.SECP521R1(),
        "p192": ec.SECP192R1(),
        "secp256k1": ec.SECP256K1(),
    }
    return ec.generate_private_key(curves[kind])


def _spki(key: Any) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _pkcs8_pem(key: Any) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _traditional_pem(key: Any) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def _public_pem(key: Any) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _certificate_pem() -> bytes:
    key = _key("p256")
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sealgate test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def _pem(label: str, body: bytes) -> bytes:
    b64 = base64.b64encode(body).decode()
    lines = "\n".join(b64[i : i + 64] for i in range(0, len(b64), 64))
    return f"-----BEGIN {label}-----\n{lines}\n-----END {label}-----\n".encode()


def _handmade_encrypted(
    key: Any,
    password: bytes,
    *,
    n: Any = 32768,
    r: Any = 8,
    p: Any = 1,
    kdf: str = "scrypt",
    cipher: str = "nacl/secretbox",
    label: str = SIGSTORE_PRIVATE_KEY_LABEL,
) -> bytes:
    """An encrypted key built independently of sealgate's writer (hashlib scrypt + PyNaCl)."""
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    salt = bytes(range(32))
    nonce = bytes(range(24))
    derived = hashlib.scrypt(password, salt=salt, n=32768, r=8, p=1, dklen=32, maxmem=64 * 1024 * 1024)
    box = nacl.secret.SecretBox(derived)
    ciphertext = box.encrypt(der, nonce).ciphertext
    body = {
        "kdf": {"name": kdf, "params": {"N": n, "r": r, "p": p}, "salt": base64.b64encode(salt).decode()},
        "cipher": {"name": cipher, "nonce": base64.b64encode(nonce).decode()},
        "ciphertext": base64.b64encode(ciphertext).decode(),
    }
    return _pem(label, json.dumps(body, separators=(",", ":")).encode())


def _body(pem: bytes) -> bytes:
    lines = pem.decode().strip().splitlines()
    return base64.b64decode("".join(lines[1:-1]))


def _swap_body(pem: bytes, edit: Callable[[dict[str, Any]], None]) -> bytes:
    label = pem.decode().splitlines()[0][len("-----BEGIN ") : -len("-----")]
    body = json.loads(_body(pem))
    edit(body)
    return _pem(label, json.dumps(body, separators=(",", ":")).encode())


# --- generation and the encrypted format ----------------------------------------------------------------


def test_generated_key_is_ecdsa_p256():
    key = generate_signing_key()
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert key.curve.name == "secp256r1"


@pytest.mark.parametrize("kind", ["p256", "p384", "p521", "rsa-2048", "ed25519"])
def test_encrypted_key_loads_back_with_the_right_password(kind):
    key = _key(kind)
    pem = encrypt_private_key(key, PASSWORD)
    loaded = load_private_key(pem, PASSWORD)
    assert _spki(loaded) == _spki(key)


def test_wrong_password_is_a_password_error():
    pem = encrypt_private_key(_key("p256"), PASSWORD)
    with pytest.raises(PasswordError, match="wrong password for private key"):
        load_private_key(pem, b"not the password")


def test_empty_password_is_a_password_like_any_other():
    pem = encrypt_private_key(_key("p256"), b"")
    assert _spki(load_private_key(pem, b"")) == _spki(_key("p256"))
    with pytest.raises(PasswordError):
        load_private_key(pem, b"x")


def test_wrong_password_error_names_the_source():
    pem = encrypt_private_key(_key("p256"), PASSWORD)
    with pytest.raises(PasswordError, match="cosign.key"):
        load_private_key(pem, b"nope", source="cosign.key")


@pytest.mark.parametrize("n", [32768, 65536, 131072])
def test_every_scrypt_work_factor_cosign_reads_loads(n):
    pem = encrypt_private_key(_key("p256"), PASSWORD, scrypt_n=n)
    assert json.loads(_body(pem))["kdf"]["params"]["N"] == n
    assert _spki(load_private_key(pem, PASSWORD)) == _spki(_key("p256"))


def test_default_work_factor_is_what_current_cosign_writes():
    pem = encrypt_private_key(_key("p256"), PASSWORD)
    assert json.loads(_body(pem))["kdf"]["params"] == {"N": 65536, "r": 8, "p": 1}


def test_a_key_built_independently_of_sealgates_writer_loads():
    pem = _handmade_encrypted(_key("p384"), PASSWORD)
    assert _spki(load_private_key(pem, PASSWORD)) == _spki(_key("p384"))


def test_a_real_cosign_generated_key_loads_and_matches_its_public_key():
    key = load_private_key(REAL_COSIGN_KEY, b"")
    assert public_key_pem(key.public_key()) == REAL_COSIGN_PUB


def test_cosign_label_variant_is_written_and_read():
    pem = encrypt_private_key(_key("p256"), PASSWORD, label=COSIGN_PRIVATE_KEY_LABEL)
    assert pem.startswith(b"-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----\n")
    assert pem.endswith(b"-----END ENCRYPTED COSIGN PRIVATE KEY-----\n")
    assert _spki(load_private_key(pem, PASSWORD)) == _spki(_key("p256"))


def test_pem_body_is_compact_json_with_keys_in_cosigns_order():
    pem = encrypt_private_key(_key("p256"), PASSWORD)
    assert pem.startswith(b"-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n")
    assert all(len(line) <= 64 for line in pem.splitlines())
    body = _body(pem)
    assert b" " not in body and b"\n" not in body

    def keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        return {"__order__": [k for k, _ in pairs], **dict(pairs)}

    doc = json.loads(body, object_pairs_hook=keys)
    assert doc["__order__"] == ["kdf", "cipher", "ciphertext"]
    assert doc["kdf"]["__order__"] == ["name", "params", "salt"]
    assert doc["kdf"]["params"]["__order__"] == ["N", "r", "p"]
    assert doc["cipher"]["__order__"] == ["name", "nonce"]
    assert (doc["kdf"]["name"], doc["cipher"]["name"]) == ("scrypt", "nacl/secretbox")
    assert len(base64.b64decode(doc["kdf"]["salt"])) == 32
    assert len(base64.b64decode(doc["cipher"]["nonce"])) == 24


def test_two_encryptions_use_fresh_salt_and_nonce():
    first = json.loads(_body(encrypt_private_key(_key("p256"), PASSWORD, scrypt_n=32768)))
    second = json.loads(_body(encrypt_private_key(_key("p256"), PASSWORD, scrypt_n=32768)))
    assert first["kdf"]["salt"] != second["kdf"]["salt"]
    assert first["cipher"]["nonce"] != second["cipher"]["nonce"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"scrypt_n": 1024}, "unsupported scrypt N 1024", id="a weak work factor is refused"),
        pytest.param({"label": "PRIVATE KEY"}, "unsupported private key label", id="an unknown label is refused"),
    ],
)
def test_encrypt_refuses_parameters_cosign_cannot_read(kwargs, message):
    with pytest.raises(UsageError, match=message):
        encrypt_private_key(_key("p256"), PASSWORD, **kwargs)


# --- what a damaged or foreign encrypted key gives -----------------------------------------------------


def _tamper_ciphertext(doc: dict[str, Any]) -> None:
    raw = bytearray(base64.b64decode(doc["ciphertext"]))
    raw[20] ^= 0x01
    doc["ciphertext"] = base64.b64encode(bytes(raw)).decode()


BAD_ENCRYPTED = [
    pytest.param({"n": 1024}, "unsupported scrypt parameters N=1024", id="scrypt N of 1024 is refused"),
    pytest.param({"r": 16}, "unsupported scrypt parameters N=32768, r=16", id="scrypt r other than 8 is refused"),
    pytest.param({"p": 2}, "p=2", id="scrypt p other than 1 is refused"),
    pytest.param({"n": "32768"}, "scrypt parameter N is missing or not an integer", id="N as a string is refused"),
    pytest.param({"r": True}, "scrypt parameter r is missing or not an integer", id="r as a boolean is refused"),
    pytest.param({"kdf": "argon2"}, "unsupported kdf 'argon2'", id="another kdf is refused"),
    pytest.param({"cipher": "aes-gcm"}, "unsupported cipher 'aes-gcm'", id="another cipher is refused"),
]


@pytest.mark.parametrize(("params", "message"), BAD_ENCRYPTED)
def test_encrypted_key_with_foreign_parameters_is_a_clear_key_error(params, message):
    pem = _handmade_encrypted(_key("p256"), PASSWORD, **params)
    with pytest.raises(KeyFileError, match=message) as info:
        load_private_key(pem, PASSWORD)
    assert not isinstance(info.value, PasswordError)


BROKEN_BODIES = [
    pytest.param(lambda d: d.pop("kdf"), "kdf is missing", id="no kdf"),
    pytest.param(lambda d: d.pop("cipher"), "cipher is missing", id="no cipher"),
    pytest.param(lambda d: d["kdf"].pop("params"), "scrypt parameters are missing", id="no scrypt parameters"),
    pytest.param(lambda d: d["kdf"].pop("salt"), "salt is missing", id="no salt"),
    pytest.param(lambda d: d["kdf"].update(salt="%%%"), "salt is not valid base64", id="salt not base64"),
    pytest.param(lambda d: d["kdf"].update(salt=""), "salt is empty", id="empty salt"),
    pytest.param(lambda d: d["cipher"].update(nonce="AAAA"), "nonce is 3 bytes", id="short nonce"),
    pytest.param(lambda d: d.update(ciphertext="AAAA"), "ciphertext is too short", id="short ciphertext"),
    pytest.param(lambda d: d.update(ciphertext=7), "ciphertext is missing or not a string", id="numeric ciphertext"),
]


@pytest.mark.parametrize(("edit", "message"), BROKEN_BODIES)
def test_encrypted_key_with_a_broken_body_names_what_is_wrong(edit, message):
    pem = _swap_body(encrypt_private_key(_key("p256"), PASSWORD, scrypt_n=32768), edit)
    with pytest.raises(KeyFileError, match=message):
        load_private_key(pem, PASSWORD)


def test_tampered_ciphertext_is_an_error_not_a_traceback():
    pem = _swap_body(encrypt_private_key(_key("p256"), PASSWORD, scrypt_n=32768), _tamper_ciphertext)
    with pytest.raises(KeyFileError, match="corrupted"):
        load_private_key(pem, PASSWORD)


def test_encrypted_body_that_is_not_json_is_a_key_error():
    with pytest.raises(KeyFileError, match="encrypted key body is not JSON"):
        load_private_key(_pem(SIGSTORE_PRIVATE_KEY_LABEL, b"\x00\x01not json"), PASSWORD)


def test_encrypted_body_that_is_a_json_array_is_a_key_error():
    with pytest.raises(KeyFileError, match="not a JSON object"):
        load_private_key(_pem(SIGSTORE_PRIVATE_KEY_LABEL, b"[1,2]"), PASSWORD)


def test_decrypted_bytes_that_are_not_a_key_are_a_key_error():
    class NotAKey:
        def private_bytes(self, *args: Any) -> bytes:
            return b"definitely not PKCS#8"

    pem = _handmade_encrypted(NotAKey(), PASSWORD)
    with pytest.raises(KeyFileError, match="cannot parse"):
        load_private_key(pem, PASSWORD)


# --- the password argument --------------------------------------------------------------------------------


def test_password_callable_is_called_once_for_an_encrypted_key():
    calls: list[int] = []

    def password() -> bytes:
        calls.append(1)
        return PASSWORD

    pem = encrypt_private_key(_key("p256"), PASSWORD, scrypt_n=32768)
    load_private_key(pem, password)
    assert calls == [1]


def test_password_callable_is_not_called_for_a_plain_key():
    def password() -> bytes:
        raise AssertionError("must not be asked")

    assert _spki(load_private_key(_pkcs8_pem(_key("p256")), password)) == _spki(_key("p256"))


# --- plain private keys -----------------------------------------------------------------------------------


PLAIN = [
    pytest.param("p256", _pkcs8_pem, "PRIVATE KEY", id="PKCS#8 P-256"),
    pytest.param("p384", _traditional_pem, "EC PRIVATE KEY", id="SEC1 EC PRIVATE KEY P-384"),
    pytest.param("rsa-2048", _traditional_pem, "RSA PRIVATE KEY", id="PKCS#1 RSA PRIVATE KEY"),
    pytest.param("rsa-2048", _pkcs8_pem, "PRIVATE KEY", id="PKCS#8 RSA"),
    pytest.param("ed25519", _pkcs8_pem, "PRIVATE KEY", id="PKCS#8 Ed25519"),
]


@pytest.mark.parametrize(("kind", "encode", "label"), PLAIN)
def test_plain_private_key_pems_load(kind, encode, label):
    pem = encode(_key(kind))
    assert pem.startswith(f"-----BEGIN {label}-----".encode())
    assert _spki(load_private_key(pem, b"unused")) == _spki(_key(kind))


def test_plain_key_with_leading_text_loads_like_go_pem_decode():
    pem = b"comment line\n" + _pkcs8_pem(_key("p256"))
    assert _spki(load_private_key(pem, b"")) == _spki(_key("p256"))


def _pkcs8_encrypted_pem() -> bytes:
    return _key("p256").private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw"),
    )


BAD_PRIVATE = [
    pytest.param(lambda: b"", "no PEM block found", id="an empty file"),
    pytest.param(lambda: b"hello, I am not a key\n", "no PEM block found", id="plain text"),
    pytest.param(lambda: b"-----BEGIN PRIVATE KEY-----\nAAAA\n", "no matching END line", id="a truncated PEM"),
    pytest.param(lambda: _pem("PRIVATE KEY", b"garbage der"), "cannot parse the PRIVATE KEY", id="garbage DER"),
    pytest.param(
        lambda: b"-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n",
        "not valid base64",
        id="a body that is not base64",
    ),
    pytest.param(_certificate_pem, "expected a private key, found a PEM CERTIFICATE", id="a certificate"),
    pytest.param(lambda: _public_pem(_key("p256")), "found a PEM PUBLIC KEY", id="a public key"),
    pytest.param(lambda: _dsa_pem(_pkcs8_pem), "DSA keys are not supported", id="a DSA key"),
    pytest.param(lambda: _pkcs8_pem(_key("p192")), "unsupported elliptic curve secp192r1", id="a P-192 key"),
    pytest.param(lambda: _pkcs8_pem(_key("secp256k1")), "unsupported elliptic curve secp256k1", id="a secp256k1 key"),
    pytest.param(lambda: _pkcs8_pem(_key("rsa-1024")), "RSA key of 1024 bits is too small", id="an RSA-1024 key"),
    pytest.param(_pkcs8_encrypted_pem, "password-protected PKCS#8 keys are not supported", id="encrypted PKCS#8"),
    pytest.param(lambda: _pem("OPENSSH PRIVATE KEY", b"x"), "unsupported PEM block", id="an OpenSSH key"),
]


@pytest.mark.parametrize(("make", "message"), BAD_PRIVATE)
def test_unusable_private_key_files_are_clear_key_errors(make, message):
    with pytest.raises(KeyFileError, match=message):
        load_private_key(make(), b"")


def test_encrypting_an_unsupported_key_is_refused():
    with pytest.raises(KeyFileError, match="RSA key of 1024 bits is too small"):
        encrypt_private_key(_key("rsa-1024"), PASSWORD)


# --- public keys ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["p256", "p384", "p521", "rsa-2048", "rsa-4096", "ed25519"])
def test_public_keys_cosign_signs_with_load_and_round_trip(kind):
    pem = _public_pem(_key(kind))
    key = load_public_key(pem)
    assert public_key_pem(key) == pem
    assert key_id(key) == hashlib.sha256(_spki(_key(kind))).hexdigest()


def test_pkcs1_rsa_public_key_is_accepted():
    pem = _key("rsa-2048").public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1)
    assert pem.startswith(b"-----BEGIN RSA PUBLIC KEY-----")
    assert key_id(load_public_key(pem)) == hashlib.sha256(_spki(_key("rsa-2048"))).hexdigest()


BAD_PUBLIC = [
    pytest.param(lambda: b"nothing here", "no PEM block found", id="no PEM at all"),
    pytest.param(_certificate_pem, "certificates are not keys here", id="a certificate"),
    pytest.param(lambda: _pkcs8_pem(_key("p256")), "is a private key", id="a private key"),
    pytest.param(lambda: encrypt_private_key(_key("p256"), b"", scrypt_n=32768), "is a private key", id="a cosign.key"),
    pytest.param(lambda: _dsa_pem(_public_pem), "DSA keys are not supported", id="a DSA key"),
    pytest.param(lambda: _public_pem(_key("p192")), "unsupported elliptic curve secp192r1", id="a P-192 key"),
    pytest.param(lambda: _public_pem(_key("secp256k1")), "unsupported elliptic curve secp256k1", id="secp256k1"),
    pytest.param(lambda: _public_pem(_key("rsa-1024")), "RSA key of 1024 bits is too small", id="an RSA-1024 key"),
    pytest.param(lambda: _pem("PUBLIC KEY", b"\x30\x03\x02\x01\x01"), "cannot parse the PUBLIC KEY", id="bad DER"),
    pytest.param(lambda: _pem("SSH2 PUBLIC KEY", b"x"), "unsupported PEM block", id="an SSH2 public key"),
]


@pytest.mark.parametrize(("make", "message"), BAD_PUBLIC)
def test_unusable_public_key_files_are_clear_key_errors(make, message):
    with pytest.raises(KeyFileError, match=message):
        load_public_key(make())


def test_public_key_errors_name_the_source():
    with pytest.raises(KeyFileError, match=r"public key /etc/keys/ci\.pub: no PEM block found"):
        load_public_key(b"", source="/etc/keys/ci.pub")


def test_vector_public_keys_reencode_byte_for_byte(vectors):
    for path in [
        vectors / "tobby-fetch-cosign-oci" / "cosign.pub",
        vectors / "containers-image" / "fixtures" / "cosign.pub",
        vectors / "sigstore-rs" / "cosign-key-signed" / "cosign.pub",
    ]:
        pem = path.read_bytes()
        assert public_key_pem(load_public_key(pem)) == pem, path


def test_key_id_is_the_sha256_of_the_spki_der(vectors):
    key = load_public_key((vectors / "tobby-fetch-cosign-oci" / "cosign.pub").read_bytes())
    fingerprint = key_id(key)
    assert len(fingerprint) == 64
    assert fingerprint.startswith("dc2bcfdb") and fingerprint.endswith("3478")


def test_vector_rsa_key_loads(vectors):
    key = load_public_key((vectors / "containers-image" / "fixtures" / "some-rsa-key.pub").read_bytes())
    assert isinstance(key, rsa.RSAPublicKey)


# --- reading key files ------------------------------------------------------------------------------------


def test_read_key_file_returns_the_bytes(tmp_path: Path):
    path = tmp_path / "cosign.pub"
    path.write_bytes(REAL_COSIGN_PUB)
    assert read_key_file(path) == REAL_COSIGN_PUB
    assert read_key_file(str(path)) == REAL_COSIGN_PUB


def test_read_key_file_accepts_exactly_the_limit(tmp_path: Path):
    path = tmp_path / "big.pub"
    path.write_bytes(b"x" * DEFAULT_LIMITS.max_key_file_bytes)
    assert len(read_key_file(path)) == DEFAULT_LIMITS.max_key_file_bytes


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        pytest.param(lambda p: None, "cannot read key file .*missing.pub: no such file", id="a missing file"),
        pytest.param(lambda p: p.mkdir(), "cannot read key file .*missing.pub: is a directory", id="a directory"),
        pytest.param(
            lambda p: p.write_bytes(b"x" * (DEFAULT_LIMITS.max_key_file_bytes + 1)),
            "is larger than 64 KiB",
            id="a too large file",
        ),
    ],
)
def test_unreadable_key_files_are_key_errors_naming_the_path(tmp_path: Path, setup, message):
    path = tmp_path / "missing.pub"
    setup(path)
    with pytest.raises(KeyFileError, match=message):
        read_key_file(path)


# --- the password source ----------------------------------------------------------------------------------


class FakeStdin(io.StringIO):
    def __init__(self, text: str = "", *, tty: bool) -> None:
        super().__init__(text)
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


class FakeBinaryStdin(io.TextIOWrapper):
    def __init__(self, data: bytes) -> None:
        super().__init__(io.BytesIO(data), encoding="utf-8", newline=None)

    def isatty(self) -> bool:
        return False


def _prompt(answers: list[str]) -> Callable[[str], str]:
    asked = iter(answers)
    return lambda _prompt_text: next(asked)


def _never(_prompt_text: str) -> str:
    raise AssertionError("must not prompt")


PASSWORD_SOURCES = [
    pytest.param({"COSIGN_PASSWORD": "s3cret"}, None, b"s3cret", id="COSIGN_PASSWORD is used verbatim"),
    pytest.param({"COSIGN_PASSWORD": ""}, None, b"", id="an empty COSIGN_PASSWORD is an empty password"),
    pytest.param(
        {"COSIGN_PASSWORD": "a", "SEALGATE_PASSWORD": "b"},
        None,
        b"a",
        id="COSIGN_PASSWORD wins over SEALGATE",
    ),
    pytest.param({"SEALGATE_PASSWORD": " pw \n"}, None, b" pw \n", id="SEALGATE_PASSWORD is used verbatim"),
    pytest.param({}, "piped\n", b"piped\n", id="piped stdin is read whole with its newline"),
    pytest.param({}, "", b"", id="empty piped stdin is an empty password"),
]


@pytest.mark.parametrize(("env", "piped", "expected"), PASSWORD_SOURCES)
def test_password_sources_in_cosigns_order(env, piped, expected):
    stdin = FakeStdin(piped or "", tty=False)
    assert password_from_env_or_prompt(env=env, stdin=stdin, prompt=_never) == expected


def test_piped_stdin_keeps_carriage_returns_and_raw_bytes():
    stdin = FakeBinaryStdin(b"pa\r\nss\xff")
    assert password_from_env_or_prompt(env={}, stdin=stdin) == b"pa\r\nss\xff"


def test_piped_stdin_that_is_too_long_is_refused():
    stdin = FakeStdin("x" * (64 * 1024 + 1), tty=False)
    with pytest.raises(PasswordError, match="longer than 64 KiB"):
        password_from_env_or_prompt(env={}, stdin=stdin)


def test_terminal_prompt_is_used_on_a_tty():
    stdin = FakeStdin(tty=True)
    assert password_from_env_or_prompt(env={}, stdin=stdin, prompt=_prompt(["typed"])) == b"typed"


def test_confirmation_accepts_the_same_password_twice():
    stdin = FakeStdin(tty=True)
    got = password_from_env_or_prompt(confirm=True, env={}, stdin=stdin, prompt=_prompt(["same", "same"]))
    assert got == b"same"


def test_confirmation_mismatch_is_a_password_error():
    stdin = FakeStdin(tty=True)
    with pytest.raises(PasswordError, match="passwords do not match"):
        password_from_env_or_prompt(confirm=True, env={}, stdin=stdin, prompt=_prompt(["one", "two"]))


def test_end_of_input_at_the_prompt_is_a_password_error():
    def eof(_prompt_text: str) -> str:
        raise EOFError

    with pytest.raises(PasswordError, match="no password entered"):
        password_from_env_or_prompt(env={}, stdin=FakeStdin(tty=True), prompt=eof)


def test_non_ascii_environment_password_is_utf8():
    assert password_from_env_or_prompt(env={"COSIGN_PASSWORD": "pässwörd"}, stdin=FakeStdin(tty=False)) == (
        "pässwörd".encode()
    )
