"""Keys, signatures and DSSE: the primitives below both ``verifier.cosign`` and ``verifier.sigstore``.

Pure (bytes in, verdicts out) and free of registry I/O, so either package builds on it without importing the
other (tests/unit/test_import_graph.py keeps it that way).

>>> from verifier.crypto import load_public_key, pae, verify_bytes
>>> def check(pem: bytes, signature: bytes, payload: bytes) -> bool:  # doctest: +SKIP
...     return verify_bytes(load_public_key(pem), signature, pae("application/vnd.in-toto+json", payload))
"""

from verifier.crypto._dsse import Envelope, EnvelopeSignature, b64decode, is_utf8, pae, parse_envelope
from verifier.crypto._ed25519ph import ed25519ph_sign, ed25519ph_verify
from verifier.crypto._keys import (
    ACCEPTED_SCRYPT_N,
    COSIGN_PRIVATE_KEY_LABEL,
    DEFAULT_SCRYPT_N,
    SIGSTORE_PRIVATE_KEY_LABEL,
    SigningKey,
    VerifyingKey,
    encrypt_private_key,
    generate_signing_key,
    key_id,
    load_private_key,
    load_public_key,
    public_key_pem,
    read_key_file,
)
from verifier.crypto._signatures import (
    MALFORMED_MATERIAL,
    malformed,
    natural_hash,
    sign_bytes,
    signature_scheme,
    unexpected,
    verify_bytes,
)

__all__ = [
    "ACCEPTED_SCRYPT_N",
    "COSIGN_PRIVATE_KEY_LABEL",
    "DEFAULT_SCRYPT_N",
    "Envelope",
    "EnvelopeSignature",
    "MALFORMED_MATERIAL",
    "SIGSTORE_PRIVATE_KEY_LABEL",
    "SigningKey",
    "VerifyingKey",
    "b64decode",
    "ed25519ph_sign",
    "ed25519ph_verify",
    "encrypt_private_key",
    "generate_signing_key",
    "is_utf8",
    "key_id",
    "load_private_key",
    "load_public_key",
    "malformed",
    "natural_hash",
    "pae",
    "parse_envelope",
    "public_key_pem",
    "read_key_file",
    "sign_bytes",
    "signature_scheme",
    "unexpected",
    "verify_bytes",
]
