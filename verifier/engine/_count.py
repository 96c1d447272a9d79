"""How ``threshold: N`` counts: N distinct signers, each satisfying a distinct authority.

A verified signature is attributed to its **signer**: for a key authority, the key that verified it (its public
key, SPKI DER); for a keyless authority, the identity in its Fulcio certificate (the OIDC issuer and the
certificate's SAN values). Counting signers, not signature blobs, means that re-encoding one signature (ECDSA
signatures are malleable), uploading it again in another layout, or one keyless identity signing twice is still
one signer.

A signer may satisfy several authorities (two authorities with the same key; keyless authorities whose identity
patterns overlap). It then counts once, for one of them: the authorities that count are a maximum matching
between authorities and distinct signers (each authority matched to a different signer that verified for it),
so ``threshold: 2`` needs two signers whatever the authorities' patterns are. The matching is deterministic
(authorities in policy order, signers in sorted order), so the same evidence always names the same
authorities.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from verifier.cosign import CERTIFICATE_ANNOTATION, Attachment
from verifier.errors import SealgateError
from verifier.policy import CompiledAuthority
from verifier.sigstore import certificate_identities, certificate_issuer, parse_bundle

__all__ = ["counted_authorities", "signer_of"]

#: a keyless signer whose certificate cannot be read again (not expected after verification): all such
#: signers are one, so an unreadable certificate can never add to a count
_UNKNOWN_KEYLESS = "keyless:?"


def _spki(authority: CompiledAuthority) -> str:
    return ",".join(
        sorted(
            k.key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo).hex()
            for k in authority.keys
        )
    )


def _certificate(found: Attachment) -> x509.Certificate | None:
    if found.bundle is not None:
        return parse_bundle(found.bundle).certificate
    pem = found.annotations.get(CERTIFICATE_ANNOTATION)
    return None if not pem else x509.load_pem_x509_certificate(pem.encode())


def signer_of(authority: CompiledAuthority, found: Attachment) -> str:
    """Who made ``found``, a signature already verified for ``authority`` (see the module text)."""
    if authority.identity is None:
        return "key:" + _spki(authority)
    try:
        cert = _certificate(found)
        if cert is None:
            return _UNKNOWN_KEYLESS
        names = sorted(certificate_identities(cert))
        return "keyless:" + "\n".join([certificate_issuer(cert) or "", *names])
    except (SealgateError, ValueError):
        return _UNKNOWN_KEYLESS


def counted_authorities(authorities: Sequence[str], signers: Mapping[str, Set[str]]) -> list[str]:
    """The authorities (in ``authorities`` order) of a maximum matching between authorities and distinct signers.

    ``signers[name]`` holds the signers whose signatures verified for authority ``name``.
    """
    owner: dict[str, str] = {}  # signer -> the authority it counts for

    def assign(name: str, tried: set[str]) -> bool:
        # Kuhn's augmenting path: take a free signer, or move the signer's current authority to another one
        for signer in sorted(signers.get(name, ())):
            if signer in tried:
                continue
            tried.add(signer)
            if signer not in owner or assign(owner[signer], tried):
                owner[signer] = name
                return True
        return False

    for name in authorities:
        assign(name, set())
    counted = set(owner.values())
    return [name for name in authorities if name in counted]
