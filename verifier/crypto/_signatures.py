"""Raw signature primitives over payload bytes, with the hash and padding choices cosign makes.

Signing (FORMATS.md §2 "Signing algorithms"): ECDSA with the curve's natural hash (P-256 SHA-256, P-384
SHA-384, P-521 SHA-512), ASN.1 DER; RSA PKCS#1 v1.5 with SHA-256; Ed25519 pure (what ``cosign verify --key``
checks).

Verification accepts every scheme a cosign-compatible signer may have used for the key type: for ECDSA the
natural hash or SHA-256 (``cosign verify``'s default ``--signature-digest-algorithm``); for RSA PKCS#1 v1.5 or
PSS, both with SHA-256; for Ed25519 pure Ed25519 or Ed25519ph (sigstore's default Ed25519 signer).
"""

from __future__ import annotations

import logging

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from verifier.crypto._ed25519ph import ed25519ph_verify
from verifier.crypto._keys import SigningKey, VerifyingKey
from verifier.errors import MaterialInvalidError

__all__ = [
    "MALFORMED_MATERIAL",
    "malformed",
    "natural_hash",
    "sign_bytes",
    "signature_scheme",
    "unexpected",
    "verify_bytes",
]

_logger = logging.getLogger(__name__)

#: what parsers and crypto libraries raise on malformed untrusted bytes that no specific check turned into a
#: sealgate error. Caught only where one candidate (a signature layer, a bundle, an attestation) is judged, so
#: the candidate fails with MATERIAL_INVALID and its neighbours are still judged; anything else (a bug of
#: sealgate's own) still surfaces as an internal error.
MALFORMED_MATERIAL: tuple[type[Exception], ...] = (
    ValueError,  # also UnicodeDecodeError, binascii.Error, json.JSONDecodeError, ASN.1 parse errors
    TypeError,
    RecursionError,
    OverflowError,
    UnsupportedAlgorithm,
    x509.DuplicateExtension,
)


def malformed(where: str, exc: Exception) -> MaterialInvalidError:
    """The candidate failure for a :data:`MALFORMED_MATERIAL` exception (one line, bounded)."""
    _logger.debug("candidate %s rejected by a parser", where, exc_info=exc)
    return MaterialInvalidError(f"malformed signature material ({_detail(exc)})")


def unexpected(where: str, exc: Exception, what: str = "signature material") -> MaterialInvalidError:
    """The candidate failure for any other exception raised while one candidate was judged: a sealgate bug that
    hostile material reached. Logged as an error with its traceback so it is seen and fixed, but judged as what
    it is for the admission: a candidate that did not verify. Were it an internal error instead, ``onError:
    allow`` would admit the image, and whoever can attach material could choose that outcome."""
    _logger.error("candidate %s: unexpected %s while judging it (a bug)", where, type(exc).__name__, exc_info=exc)
    return MaterialInvalidError(f"{what} sealgate could not judge ({_detail(exc)})")


def _detail(exc: Exception) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())[:160] or 'no detail'}"


_EC_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "secp256r1": hashes.SHA256,
    "secp384r1": hashes.SHA384,
    "secp521r1": hashes.SHA512,
}


def natural_hash(curve: ec.EllipticCurve) -> hashes.HashAlgorithm:
    """The hash sigstore pairs with an ECDSA curve; :class:`ValueError` for a curve cosign does not use."""
    try:
        return _EC_HASHES[curve.name]()
    except KeyError:
        raise ValueError(f"unsupported elliptic curve {curve.name}") from None


def _pss() -> padding.PSS:
    return padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)


def sign_bytes(key: SigningKey, data: bytes) -> bytes:
    """A signature of ``data`` as ``cosign sign --key`` makes it (DER for ECDSA, raw 64 bytes for Ed25519)."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(natural_hash(key.curve)))
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(data)
    raise TypeError(f"unsupported signing key type {type(key).__name__}")


def signature_scheme(key: VerifyingKey, signature: bytes, data: bytes) -> str | None:
    """The name of the scheme under which ``signature`` verifies ``data`` with ``key``, or None.

    Names: ``ecdsa-sha256``/``ecdsa-sha384``/``ecdsa-sha512``, ``rsa-pkcs1v15-sha256``, ``rsa-pss-sha256``,
    ``ed25519``, ``ed25519ph``. Never raises for a malformed or wrong signature.
    """
    if not signature:
        return None
    if isinstance(key, ec.EllipticCurvePublicKey):
        candidates: list[hashes.HashAlgorithm] = [hashes.SHA256()]
        if key.curve.name in _EC_HASHES:
            natural = natural_hash(key.curve)
            if natural.name != "sha256":
                candidates.insert(0, natural)
        for algorithm in candidates:
            try:
                key.verify(signature, data, ec.ECDSA(algorithm))
            except (InvalidSignature, ValueError):
                continue
            return f"ecdsa-{algorithm.name}"
        return None
    if isinstance(key, rsa.RSAPublicKey):
        for name, pad in (("rsa-pkcs1v15-sha256", padding.PKCS1v15()), ("rsa-pss-sha256", _pss())):
            try:
                key.verify(signature, data, pad, hashes.SHA256())
            except (InvalidSignature, ValueError):
                continue
            return name
        return None
    if isinstance(key, ed25519.Ed25519PublicKey):
        try:
            key.verify(signature, data)
        except (InvalidSignature, ValueError):
            return "ed25519ph" if ed25519ph_verify(key, signature, data) else None
        return "ed25519"
    return None


def verify_bytes(key: VerifyingKey, signature: bytes, data: bytes) -> bool:
    """True if ``signature`` verifies ``data`` with ``key`` under any accepted scheme; never raises."""
    scheme = signature_scheme(key, signature, data)
    _logger.debug("signature %s", "verified with " + scheme if scheme else "did not verify")
    return scheme is not None
