"""Fulcio signing certificates: chain to a trusted CA at a trusted time, leaf profile, embedded SCT, identity.

Chain rule (cosign ``TrustedCert``, sigstore-go ``VerifyLeafCertificate``): for each trusted time ``t``, some
certificate authority of the trusted root whose ``validFor`` contains ``t`` issues the leaf, and the leaf and
every certificate of that CA's chain satisfy ``notBefore <= t <= notAfter``. The trusted root's own chain is
the path; intermediates that came with the signature are tried too, ending at a trusted root certificate.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Sequence
from datetime import UTC, datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from verifier.errors import CertificateInvalidError
from verifier.sigstore._identity import Identity, certificate_extensions
from verifier.sigstore._trust import CertificateAuthority, LogKey, TrustedRoot

__all__ = ["check_leaf_profile", "verify_certificate", "verify_chain", "verify_sct"]

_logger = logging.getLogger(__name__)


def _valid_at(cert: x509.Certificate, at: datetime) -> bool:
    return cert.not_valid_before_utc <= at <= cert.not_valid_after_utc


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(certificate_extensions(cert).get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _issued_by(child: x509.Certificate, parent: x509.Certificate) -> bool:
    try:
        child.verify_directly_issued_by(parent)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def _name(cert: x509.Certificate, which: str) -> str | None:
    """The certificate's subject or issuer as RFC 4514 text; None when the (lazily parsed) name is malformed."""
    try:
        name: x509.Name = cert.subject if which == "subject" else cert.issuer
        return name.rfc4514_string()
    except ValueError:
        return None


def _extends_paths(cert: x509.Certificate) -> bool:
    """Self-issued certificates never extend a path; nor do ones whose names cannot even be parsed."""
    subject, issuer = _name(cert, "subject"), _name(cert, "issuer")
    return subject is not None and issuer is not None and subject != issuer


def _describe(cert: x509.Certificate) -> str:
    subject = _name(cert, "subject")
    subject = "(malformed subject)" if subject is None else subject or "(empty subject)"
    return (
        f"{subject} [{cert.not_valid_before_utc:%Y-%m-%dT%H:%M:%SZ} .. {cert.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ}]"
    )


def check_leaf_profile(cert: x509.Certificate) -> None:
    """A code-signing leaf: not a CA, EKU codeSigning, KeyUsage (if present) digitalSignature."""
    if _is_ca(cert):
        raise CertificateInvalidError("signing certificate is a CA certificate")
    try:
        eku = certificate_extensions(cert).get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        raise CertificateInvalidError("signing certificate has no extended key usage (codeSigning required)") from None
    except ValueError as exc:
        raise CertificateInvalidError(f"signing certificate has malformed extensions ({exc})") from None
    if ExtendedKeyUsageOID.CODE_SIGNING not in eku:
        raise CertificateInvalidError("signing certificate lacks the codeSigning extended key usage")
    try:
        ku = certificate_extensions(cert).get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return
    if not ku.digital_signature:
        raise CertificateInvalidError("signing certificate key usage lacks digitalSignature")


def _paths(intermediates: Sequence[x509.Certificate], ca: CertificateAuthority) -> list[tuple[x509.Certificate, ...]]:
    paths = [ca.chain]
    extra = tuple(c for c in intermediates if _extends_paths(c))
    if extra:
        paths.append(extra + (ca.root,))
    return paths


def verify_chain(
    cert: x509.Certificate,
    trusted_root: TrustedRoot,
    *,
    at: datetime,
    intermediates: Sequence[x509.Certificate] = (),
) -> tuple[x509.Certificate, ...]:
    """The trusted issuing path (issuer first, root last) for ``cert`` valid at ``at``; raises otherwise."""
    if not trusted_root.certificate_authorities:
        raise CertificateInvalidError(f"{trusted_root.source} has no certificate authorities for keyless signatures")
    if not _valid_at(cert, at):
        raise CertificateInvalidError(
            f"signing certificate is not valid at the signing time {at:%Y-%m-%dT%H:%M:%SZ} "
            f"(valid {cert.not_valid_before_utc:%Y-%m-%dT%H:%M:%SZ} .. {cert.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ})"
        )
    reasons: list[str] = []
    for ca in trusted_root.certificate_authorities:
        for path in _paths(intermediates, ca):
            if not _issued_by(cert, path[0]):
                continue
            if not ca.valid_for.contains(at):
                reasons.append(
                    f"certificate authority {ca.subject or ca.uri!r} is not trusted at {at:%Y-%m-%dT%H:%M:%SZ}"
                    f" (trusted {ca.valid_for})"
                )
                continue
            broken = next((i for i in range(len(path) - 1) if not _issued_by(path[i], path[i + 1])), None)
            if broken is not None:
                reasons.append(f"chain certificate {_describe(path[broken])} is not issued by the next one")
                continue
            not_ca = next((c for c in path if not _is_ca(c)), None)
            if not_ca is not None:
                reasons.append(f"chain certificate {_describe(not_ca)} is not a CA")
                continue
            expired = next((c for c in path if not _valid_at(c, at)), None)
            if expired is not None:
                reasons.append(f"CA certificate {_describe(expired)} is not valid at {at:%Y-%m-%dT%H:%M:%SZ}")
                continue
            return path
    if reasons:
        raise CertificateInvalidError(f"signing certificate chain invalid: {reasons[0]}")
    raise CertificateInvalidError(
        f"signing certificate (issuer {_name(cert, 'issuer') or '(malformed)'!r}) does not chain to a certificate "
        f"authority of {trusted_root.source}"
    )


def _sct_signed_data(
    sct: x509.certificate_transparency.SignedCertificateTimestamp, cert: x509.Certificate, issuer: x509.Certificate
) -> bytes:
    issuer_spki = issuer.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    digest = hashes.Hash(hashes.SHA256())
    digest.update(issuer_spki)
    issuer_key_hash = digest.finalize()
    tbs = cert.tbs_precertificate_bytes
    timestamp = sct.timestamp.replace(tzinfo=UTC)
    millis = int(timestamp.timestamp()) * 1000 + timestamp.microsecond // 1000
    extensions = sct.extension_bytes
    return (
        struct.pack(">BBQH", 0, 0, millis, 1)
        + issuer_key_hash
        + len(tbs).to_bytes(3, "big")
        + tbs
        + struct.pack(">H", len(extensions))
        + extensions
    )


def _verify_with_log(log: LogKey, signature: bytes, data: bytes) -> bool:
    key = log.key
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, data)
        else:  # pragma: no cover
            return False
    except (InvalidSignature, ValueError):
        return False
    return True


def verify_sct(cert: x509.Certificate, issuer: x509.Certificate, trusted_root: TrustedRoot) -> datetime:
    """Verify an embedded SCT with a CT log key of the trusted root; return its time. Raises otherwise."""
    try:
        extensions = certificate_extensions(cert)
        scts = extensions.get_extension_for_class(x509.PrecertificateSignedCertificateTimestamps).value
    except x509.ExtensionNotFound:
        raise CertificateInvalidError("signing certificate has no embedded SCT (certificate transparency)") from None
    except ValueError as exc:
        raise CertificateInvalidError(f"signing certificate has a malformed SCT extension ({exc})") from None
    reasons: list[str] = []
    for sct in scts:
        logs = trusted_root.ctlogs_for(sct.log_id)
        if not logs:
            reasons.append(f"SCT from unknown CT log {sct.log_id.hex()[:16]}")
            continue
        if sct.version != x509.certificate_transparency.Version.v1:
            reasons.append("SCT has an unsupported version")
            continue
        data = _sct_signed_data(sct, cert, issuer)
        when: datetime = sct.timestamp.replace(tzinfo=UTC)
        for log in logs:
            if not _verify_with_log(log, sct.signature, data):
                reasons.append(f"SCT signature does not verify with CT log {log.base_url or log.key_id.hex()[:16]}")
                continue
            if not log.valid_for.contains(when):
                reasons.append(f"SCT time {when:%Y-%m-%dT%H:%M:%SZ} is outside CT log key validity {log.valid_for}")
                continue
            return when
    raise CertificateInvalidError(
        "signing certificate SCT invalid: " + (reasons[0] if reasons else "no SCT in the extension")
    )


def verify_certificate(
    cert: x509.Certificate,
    chain: Sequence[x509.Certificate],
    trusted_root: TrustedRoot,
    *,
    at: datetime | Sequence[datetime],
    identity: Identity | None,
    require_sct: bool = True,
) -> tuple[x509.Certificate, ...]:
    """Fulcio chain at every trusted time in ``at``, EKU codeSigning, SCT, identity. Returns the issuing path."""
    times = [at] if isinstance(at, datetime) else list(at)
    if not times:
        raise CertificateInvalidError("no trusted time to validate the signing certificate at")
    check_leaf_profile(cert)
    path: tuple[x509.Certificate, ...] = ()
    for t in times:
        path = verify_chain(cert, trusted_root, at=t, intermediates=chain)
    if require_sct:
        verify_sct(cert, path[0], trusted_root)
    if identity is not None:
        identity.check(cert)
    return path
