"""Ed25519ph (RFC 8032 §5.1, SHA-512 prehash, empty context), which ``cryptography`` does not offer.

Sigstore's default Ed25519 signer is Ed25519ph (FORMATS.md §2), so a verifier has to read it. Rather than do
curve arithmetic in Python, this uses libsodium's ``crypto_sign_final_*`` (Ed25519ph with an empty context)
through PyNaCl, which sealgate already needs for cosign key files.
"""

from __future__ import annotations

import nacl.bindings
import nacl.exceptions
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

__all__ = ["ed25519ph_sign", "ed25519ph_verify"]

_SIGNATURE_BYTES = 64
_KEY_BYTES = 32


def _raw_public(key: ed25519.Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def ed25519ph_verify(key: ed25519.Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
    """True if ``signature`` is an Ed25519ph signature of ``data`` by ``key``; never raises for a bad one."""
    if len(signature) != _SIGNATURE_BYTES:
        return False
    state = nacl.bindings.crypto_sign_ed25519ph_state()
    nacl.bindings.crypto_sign_ed25519ph_update(state, data)
    try:
        return bool(nacl.bindings.crypto_sign_ed25519ph_final_verify(state, signature, _raw_public(key)))
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError, nacl.exceptions.TypeError):
        return False


def ed25519ph_sign(key: ed25519.Ed25519PrivateKey, data: bytes) -> bytes:
    """An Ed25519ph signature of ``data`` (what sigstore's default Ed25519 signer makes)."""
    seed = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    if len(seed) != _KEY_BYTES:  # pragma: no cover - cryptography always gives 32 bytes
        raise ValueError("ed25519 seed is not 32 bytes")
    state = nacl.bindings.crypto_sign_ed25519ph_state()
    nacl.bindings.crypto_sign_ed25519ph_update(state, data)
    signature: bytes = nacl.bindings.crypto_sign_ed25519ph_final_create(state, seed + _raw_public(key.public_key()))
    return signature
