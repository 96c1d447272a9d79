"""Cosign key files: generate, encrypt, load and describe signing and verifying keys.

Private keys are written the way ``cosign generate-key-pair`` writes them (FORMATS.md §8): a PEM block
labelled ``ENCRYPTED SIGSTORE PRIVATE KEY`` whose body is compact JSON naming the KDF (scrypt, r=8, p=1) and
the cipher (NaCl secretbox), around the PKCS#8 DER of the key. ``ENCRYPTED COSIGN PRIVATE KEY`` (older
cosign) is read too, and so are the unencrypted PEM types ``cosign import-key-pair`` accepts.

Public keys are PEM ``PUBLIC KEY`` blocks (PKIX SubjectPublicKeyInfo). Only the algorithms cosign signs with
are accepted: ECDSA on P-256/P-384/P-521, RSA of 2048 to 8192 bits, and Ed25519.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import os
import re
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import nacl.exceptions
import nacl.secret
import nacl.utils
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from cryptography.utils import CryptographyDeprecationWarning

from verifier.errors import KeyFileError, PasswordError, UsageError
from verifier.limits import DEFAULT_LIMITS

__all__ = [
    "ACCEPTED_SCRYPT_N",
    "COSIGN_PRIVATE_KEY_LABEL",
    "DEFAULT_SCRYPT_N",
    "SIGSTORE_PRIVATE_KEY_LABEL",
    "SigningKey",
    "VerifyingKey",
    "encrypt_private_key",
    "generate_signing_key",
    "key_id",
    "load_private_key",
    "load_public_key",
    "public_key_pem",
    "read_key_file",
]

_logger = logging.getLogger(__name__)

SigningKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
VerifyingKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey

#: label cosign writes today
SIGSTORE_PRIVATE_KEY_LABEL = "ENCRYPTED SIGSTORE PRIVATE KEY"
#: label older cosign wrote (and containers/image 5.23 still requires)
COSIGN_PRIVATE_KEY_LABEL = "ENCRYPTED COSIGN PRIVATE KEY"
_ENCRYPTED_LABELS = (SIGSTORE_PRIVATE_KEY_LABEL, COSIGN_PRIVATE_KEY_LABEL)
_PLAIN_PRIVATE_LABELS = ("PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY")

#: scrypt work factors cosign (go-securesystemslib) decrypts; it writes 65536
ACCEPTED_SCRYPT_N = frozenset({32768, 65536, 131072})
DEFAULT_SCRYPT_N = 65536
_SCRYPT_R = 8
_SCRYPT_P = 1
_SALT_BYTES = 32
_KEY_BYTES = 32

_CURVES: dict[str, str] = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
_MIN_RSA_BITS = 2048
_MAX_RSA_BITS = 8192

_PEM_RE = re.compile(rb"-----BEGIN (?P<label>[^-\r\n]*)-----\r?\n(?P<body>.*?)-----END (?P=label)-----", re.DOTALL)
_BEGIN_RE = re.compile(rb"-----BEGIN ([^-\r\n]*)-----")


# --- PEM ----------------------------------------------------------------------------------------------


def _what(source: str | None, default: str) -> str:
    return default if source is None else f"{default} {source}"


def _pem_block(pem: bytes, what: str) -> tuple[str, bytes]:
    """The label and DER/body bytes of the first PEM block in ``pem``."""
    match = _PEM_RE.search(pem)
    if match is None:
        begin = _BEGIN_RE.search(pem)
        if begin is not None:
            label = begin.group(1).decode("ascii", "replace")
            raise KeyFileError(f"{what}: PEM block {label!r} has no matching END line")
        raise KeyFileError(f"{what}: no PEM block found")
    label = match.group("label").decode("ascii", "replace")
    body = match.group("body")
    if b":" in body:
        raise KeyFileError(f"{what}: PEM block {label!r} has headers (legacy OpenSSL encryption is not supported)")
    compact = b"".join(body.split())
    try:
        der = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise KeyFileError(f"{what}: PEM block {label!r} is not valid base64") from None
    if not der:
        raise KeyFileError(f"{what}: PEM block {label!r} is empty")
    return label, der


def _pem_encode(label: str, body: bytes) -> bytes:
    """PEM as Go's ``pem.EncodeToMemory`` writes it: 64-column base64, trailing newline."""
    b64 = base64.b64encode(body)
    lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
    head = f"-----BEGIN {label}-----\n".encode("ascii")
    tail = f"-----END {label}-----\n".encode("ascii")
    return head + b"".join(line + b"\n" for line in lines) + tail


# --- key type policy ----------------------------------------------------------------------------------


def _check_public(key: object, what: str) -> VerifyingKey:
    """Return ``key`` if it is an algorithm cosign signs with, else raise :class:`KeyFileError`."""
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in _CURVES:
            raise KeyFileError(f"{what}: unsupported elliptic curve {key.curve.name} (use P-256, P-384 or P-521)")
        return key
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < _MIN_RSA_BITS:
            raise KeyFileError(f"{what}: RSA key of {key.key_size} bits is too small (minimum {_MIN_RSA_BITS})")
        if key.key_size > _MAX_RSA_BITS:
            raise KeyFileError(f"{what}: RSA key of {key.key_size} bits is too large (maximum {_MAX_RSA_BITS})")
        return key
    if isinstance(key, ed25519.Ed25519PublicKey):
        return key
    raise _unsupported(key, what)


def _unsupported(key: object, what: str) -> KeyFileError:
    if type(key).__name__.startswith("DSA"):  # by name: cryptography deprecates its dsa module and will remove it
        return KeyFileError(f"{what}: DSA keys are not supported (use ECDSA, RSA or Ed25519)")
    return KeyFileError(f"{what}: unsupported key type {type(key).__name__} (use ECDSA, RSA or Ed25519)")


def _check_private(key: object, what: str) -> SigningKey:
    if isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
        _check_public(key.public_key(), what)
        return key
    raise _unsupported(key, what)


# --- generation and encryption ------------------------------------------------------------------------


def generate_signing_key() -> ec.EllipticCurvePrivateKey:
    """A fresh ECDSA P-256 key, cosign's default."""
    return ec.generate_private_key(ec.SECP256R1())


def _scrypt_key(password: bytes, salt: bytes, n: int) -> bytes:
    return Scrypt(salt=salt, length=_KEY_BYTES, n=n, r=_SCRYPT_R, p=_SCRYPT_P).derive(password)


def encrypt_private_key(
    key: SigningKey,
    password: bytes,
    *,
    scrypt_n: int = DEFAULT_SCRYPT_N,
    label: str = SIGSTORE_PRIVATE_KEY_LABEL,
) -> bytes:
    """``key`` as a cosign encrypted private-key PEM (FORMATS.md §8), readable by ``cosign sign --key``.

    ``scrypt_n`` must be one cosign decrypts (32768, 65536 or 131072); ``label`` is the SIGSTORE label by
    default, or the COSIGN one for tools that read only that (containers/image before 5.24).
    """
    if scrypt_n not in ACCEPTED_SCRYPT_N:
        raise UsageError(f"unsupported scrypt N {scrypt_n} (use 32768, 65536 or 131072)")
    if label not in _ENCRYPTED_LABELS:
        raise UsageError(f"unsupported private key label {label!r}")
    _check_private(key, "private key")
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    salt = os.urandom(_SALT_BYTES)
    nonce = nacl.utils.random(nacl.secret.SecretBox.NONCE_SIZE)
    box = nacl.secret.SecretBox(_scrypt_key(password, salt, scrypt_n))
    ciphertext = box.encrypt(der, nonce).ciphertext  # 16-byte tag || ciphertext, as Go's secretbox.Seal
    # Field order and compactness follow Go's encoding/json output of go-securesystemslib's structs.
    envelope = {
        "kdf": {
            "name": "scrypt",
            "params": {"N": scrypt_n, "r": _SCRYPT_R, "p": _SCRYPT_P},
            "salt": base64.b64encode(salt).decode("ascii"),
        },
        "cipher": {"name": "nacl/secretbox", "nonce": base64.b64encode(nonce).decode("ascii")},
        "ciphertext": base64.b64encode(ciphertext).decode("ascii"),
    }
    body = json.dumps(envelope, separators=(",", ":")).encode("ascii")
    return _pem_encode(label, body)


# --- loading private keys -----------------------------------------------------------------------------


def _b64_field(value: Any, name: str, what: str) -> bytes:
    if not isinstance(value, str):
        raise KeyFileError(f"{what}: {name} is missing or not a string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise KeyFileError(f"{what}: {name} is not valid base64") from None


def _int_field(value: Any, name: str, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise KeyFileError(f"{what}: scrypt parameter {name} is missing or not an integer")
    return value


def _decrypt(body: bytes, password: bytes | Callable[[], bytes], what: str) -> bytes:
    """The PKCS#8 DER inside a cosign encrypted key body."""
    try:
        envelope = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise KeyFileError(f"{what}: encrypted key body is not JSON") from None
    if not isinstance(envelope, dict):
        raise KeyFileError(f"{what}: encrypted key body is not a JSON object")
    kdf = envelope.get("kdf")
    cipher = envelope.get("cipher")
    if not isinstance(kdf, dict):
        raise KeyFileError(f"{what}: kdf is missing")
    if not isinstance(cipher, dict):
        raise KeyFileError(f"{what}: cipher is missing")
    if kdf.get("name") != "scrypt":
        raise KeyFileError(f"{what}: unsupported kdf {kdf.get('name')!r} (only scrypt)")
    if cipher.get("name") != "nacl/secretbox":
        raise KeyFileError(f"{what}: unsupported cipher {cipher.get('name')!r} (only nacl/secretbox)")
    params = kdf.get("params")
    if not isinstance(params, dict):
        raise KeyFileError(f"{what}: scrypt parameters are missing")
    n = _int_field(params.get("N"), "N", what)
    r = _int_field(params.get("r"), "r", what)
    p = _int_field(params.get("p"), "p", what)
    if n not in ACCEPTED_SCRYPT_N or r != _SCRYPT_R or p != _SCRYPT_P:
        raise KeyFileError(
            f"{what}: unsupported scrypt parameters N={n}, r={r}, p={p} "
            "(cosign accepts N of 32768, 65536 or 131072 with r=8, p=1)"
        )
    salt = _b64_field(kdf.get("salt"), "salt", what)
    nonce = _b64_field(cipher.get("nonce"), "nonce", what)
    ciphertext = _b64_field(envelope.get("ciphertext"), "ciphertext", what)
    if not salt:
        raise KeyFileError(f"{what}: salt is empty")
    if len(nonce) != nacl.secret.SecretBox.NONCE_SIZE:
        raise KeyFileError(f"{what}: nonce is {len(nonce)} bytes, not {nacl.secret.SecretBox.NONCE_SIZE}")
    if len(ciphertext) <= nacl.secret.SecretBox.MACBYTES:
        raise KeyFileError(f"{what}: ciphertext is too short")
    secret = password() if callable(password) else password
    box = nacl.secret.SecretBox(_scrypt_key(secret, salt, n))
    try:
        plaintext: bytes = box.decrypt(ciphertext, nonce)
    except nacl.exceptions.CryptoError:
        raise PasswordError(f"wrong password for {what} (or the key file is corrupted)") from None
    _logger.debug("decrypted %s (scrypt N=%d)", what, n)
    return plaintext


def load_private_key(pem: bytes, password: bytes | Callable[[], bytes], *, source: str | None = None) -> SigningKey:
    """The signing key in ``pem``: a cosign encrypted key or an unencrypted PKCS#8/SEC1/PKCS#1 PEM.

    ``password`` (or the callable producing it) is only used, and the callable only called, when the key is
    encrypted. ``source`` (a path, say) is named in error messages. A wrong password raises
    :class:`PasswordError`; every other problem :class:`KeyFileError`.
    """
    what = _what(source, "private key")
    label, body = _pem_block(pem, what)
    if label in _ENCRYPTED_LABELS:
        der = _decrypt(body, password, what)
    elif label in _PLAIN_PRIVATE_LABELS:
        der = body
    elif label == "ENCRYPTED PRIVATE KEY":
        raise KeyFileError(f"{what}: password-protected PKCS#8 keys are not supported (decrypt it with openssl first)")
    elif label in ("PUBLIC KEY", "CERTIFICATE"):
        raise KeyFileError(f"{what}: expected a private key, found a PEM {label}")
    else:
        raise KeyFileError(f"{what}: unsupported PEM block {label!r}")
    try:
        with _dsa_refused_quietly():
            key = serialization.load_der_private_key(der, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        _logger.debug("%s: cryptography refused the %s: %s", what, label, exc)
        raise KeyFileError(f"{what}: cannot parse the {label} block (malformed or unsupported encoding)") from None
    return _check_private(key, what)


@contextmanager
def _dsa_refused_quietly() -> Iterator[None]:
    """cryptography 51 warns when it parses a DSA key; sealgate refuses DSA keys with its own error, so the
    warning would only be noise beside it (and an exception where warnings are errors)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="DSA is deprecated", category=CryptographyDeprecationWarning)
        yield


# --- public keys --------------------------------------------------------------------------------------


def load_public_key(pem: bytes, *, source: str | None = None) -> VerifyingKey:
    """The verifying key in a PEM ``PUBLIC KEY`` (SPKI) block, as ``cosign verify --key`` reads it.

    A certificate is refused: it is not a key here (certificates go through the keyless path). Curves other
    than P-256/P-384/P-521, RSA keys under 2048 bits and DSA keys are refused with :class:`KeyFileError`.
    """
    what = _what(source, "public key")
    label, der = _pem_block(pem, what)
    if label == "CERTIFICATE":
        raise KeyFileError(f"{what} is a certificate; certificates are not keys here (give its public key)")
    if label in _PLAIN_PRIVATE_LABELS or label in _ENCRYPTED_LABELS:
        raise KeyFileError(f"{what} is a private key; give the public key")
    if label not in ("PUBLIC KEY", "RSA PUBLIC KEY"):
        raise KeyFileError(f"{what}: unsupported PEM block {label!r} (expected PUBLIC KEY)")
    try:
        with _dsa_refused_quietly():
            key = serialization.load_der_public_key(der)
    except (ValueError, UnsupportedAlgorithm) as exc:
        _logger.debug("%s: cryptography refused the %s: %s", what, label, exc)
        raise KeyFileError(f"{what}: cannot parse the {label} block (malformed or unsupported encoding)") from None
    return _check_public(key, what)


def public_key_pem(key: VerifyingKey) -> bytes:
    """``key`` as cosign writes ``cosign.pub``: a PEM ``PUBLIC KEY`` block around the SPKI DER."""
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_id(key: VerifyingKey) -> str:
    """Hex SHA-256 of the key's SPKI DER: a stable name for display and deduplication."""
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def read_key_file(path: str | Path) -> bytes:
    """The bytes of a key file, at most ``max_key_file_bytes``; :class:`KeyFileError` naming the path."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(DEFAULT_LIMITS.max_key_file_bytes + 1)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise KeyFileError(f"cannot read key file {path}: {reason.lower()}") from None
    if len(data) > DEFAULT_LIMITS.max_key_file_bytes:
        raise KeyFileError(f"key file {path} is larger than {DEFAULT_LIMITS.max_key_file_bytes // 1024} KiB")
    return data
