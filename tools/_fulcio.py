"""A Fulcio-like certificate authority and a CT log that embeds RFC 6962 SCTs in the leaves it issues.

The leaf profile follows Fulcio (FORMATS.md section 4): empty subject, exactly one critical SAN (email or URI),
KeyUsage digitalSignature (critical), EKU codeSigning, the OIDC issuer as ``1.3.6.1.4.1.57264.1.1`` (raw bytes)
and/or ``.1.8`` (DER UTF8String), and one embedded precertificate SCT signed over the TBS without the SCT list.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from webhook.certs import key_usage

from . import _der
from .localregistry import ToolError

__all__ = [
    "ISSUER_V1_OID",
    "ISSUER_V2_OID",
    "SCT_LIST_OID",
    "CTLog",
    "CertificateAuthority",
    "IssuerExtensions",
    "issue_leaf",
    "key_id",
    "spki_der",
]

ISSUER_V1_OID = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
ISSUER_V2_OID = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.8")
SCT_LIST_OID = x509.ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")

IssuerExtensions = Literal["both", "v1", "v2", "none"]

_SCT_HASH_SHA256 = 4
_SCT_SIG_ECDSA = 3
_PRECERT_ENTRY = 1


def spki_der(public_key: CertificateIssuerPublicKeyTypes) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_id(public_key: CertificateIssuerPublicKeyTypes) -> bytes:
    """RFC 6962 key id = SHA-256 of the SPKI DER (also Rekor's log id and the trusted_root ``keyId``)."""
    return hashlib.sha256(spki_der(public_key)).digest()


def _ca_certificate(
    *,
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    not_before: datetime,
    not_after: datetime,
    path_length: int | None,
    eku: list[x509.ObjectIdentifier] | None = None,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(
            key_usage(key_cert_sign=True, crl_sign=True),
            critical=True,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer_key is not key:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
        )
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    return builder.sign(issuer_key, hashes.SHA384())


def _name(organization: str, common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


@dataclass(frozen=True)
class CertificateAuthority:
    """A self-signed P-384 root and a P-384 intermediate that issues the leaves (like Fulcio's public instance)."""

    root_key: ec.EllipticCurvePrivateKey
    root: x509.Certificate
    intermediate_key: ec.EllipticCurvePrivateKey
    intermediate: x509.Certificate

    @classmethod
    def generate(
        cls, *, not_before: datetime, not_after: datetime, organization: str = "sealgate.test", name: str = "fulcio"
    ) -> CertificateAuthority:
        root_key = ec.generate_private_key(ec.SECP384R1())
        root_name = _name(organization, name)
        root = _ca_certificate(
            subject=root_name,
            key=root_key,
            issuer=root_name,
            issuer_key=root_key,
            not_before=not_before,
            not_after=not_after,
            path_length=1,
        )
        intermediate_key = ec.generate_private_key(ec.SECP384R1())
        intermediate = _ca_certificate(
            subject=_name(organization, f"{name}-intermediate"),
            key=intermediate_key,
            issuer=root_name,
            issuer_key=root_key,
            not_before=not_before,
            not_after=not_after,
            path_length=0,
            eku=[ExtendedKeyUsageOID.CODE_SIGNING],
        )
        return cls(root_key=root_key, root=root, intermediate_key=intermediate_key, intermediate=intermediate)

    @property
    def chain(self) -> list[x509.Certificate]:
        """Intermediate then root: the order of ``certChain`` in trusted_root.json and of cosign's chain annotation."""
        return [self.intermediate, self.root]


class CTLog:
    """A certificate-transparency log reduced to its signing key: it signs RFC 6962 precert SCTs."""

    def __init__(self, key: ec.EllipticCurvePrivateKey | None = None) -> None:
        self.key = key or ec.generate_private_key(ec.SECP256R1())
        self.log_id = key_id(self.key.public_key())

    def sct_list(self, *, tbs_precert: bytes, issuer_key_hash: bytes, timestamp_ms: int) -> bytes:
        """The TLS-encoded SignedCertificateTimestampList holding one v1 precert SCT."""
        if len(tbs_precert) >= 1 << 24:
            raise ToolError("precertificate too large for an SCT")
        signed = (
            struct.pack("!BBQH", 0, 0, timestamp_ms, _PRECERT_ENTRY)
            + issuer_key_hash
            + len(tbs_precert).to_bytes(3, "big")
            + tbs_precert
            + b"\x00\x00"  # no CT extensions
        )
        signature = self.key.sign(signed, ec.ECDSA(hashes.SHA256()))
        sct = (
            b"\x00"
            + self.log_id
            + struct.pack("!QH", timestamp_ms, 0)
            + struct.pack("!BBH", _SCT_HASH_SHA256, _SCT_SIG_ECDSA, len(signature))
            + signature
        )
        serialized = struct.pack("!H", len(sct)) + sct
        return struct.pack("!H", len(serialized)) + serialized


def _san(identity: str) -> x509.GeneralName:
    if "://" in identity:
        return x509.UniformResourceIdentifier(identity)
    if "@" in identity:
        return x509.RFC822Name(identity)
    raise ToolError(f"identity {identity!r} is neither an email nor a URI")


def issue_leaf(
    ca: CertificateAuthority,
    ct_log: CTLog | None,
    *,
    public_key: CertificateIssuerPublicKeyTypes,
    identity: str,
    issuer: str,
    not_before: datetime,
    not_after: datetime,
    extensions: IssuerExtensions = "both",
) -> x509.Certificate:
    """A Fulcio-profile leaf; with ``ct_log`` it carries an embedded SCT dated ``not_before``."""
    if extensions not in ("both", "v1", "v2", "none"):
        raise ToolError(f"unknown issuer extension choice {extensions!r}")
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([]))
        .issuer_name(ca.intermediate.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(
            key_usage(digital_signature=True),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.intermediate_key.public_key()), critical=False
        )
        .add_extension(x509.SubjectAlternativeName([_san(identity)]), critical=True)
    )
    if extensions in ("both", "v1"):
        builder = builder.add_extension(x509.UnrecognizedExtension(ISSUER_V1_OID, issuer.encode()), critical=False)
    if extensions in ("both", "v2"):
        builder = builder.add_extension(
            x509.UnrecognizedExtension(ISSUER_V2_OID, _der.utf8_string(issuer)), critical=False
        )
    if ct_log is None:
        return builder.sign(ca.intermediate_key, hashes.SHA384())
    # The precertificate TBS is this certificate's TBS without the SCT list (RFC 6962 3.2); every other field,
    # serial number included, is already fixed in the builder, so appending the extension leaves it unchanged.
    precert = builder.sign(ca.intermediate_key, hashes.SHA384())
    sct_list = ct_log.sct_list(
        tbs_precert=precert.tbs_certificate_bytes,
        issuer_key_hash=key_id(ca.intermediate_key.public_key()),
        timestamp_ms=int(not_before.timestamp() * 1000),
    )
    leaf = builder.add_extension(
        x509.UnrecognizedExtension(SCT_LIST_OID, _der.octet_string(sct_list)), critical=False
    ).sign(ca.intermediate_key, hashes.SHA384())
    if leaf.tbs_precertificate_bytes != precert.tbs_certificate_bytes:  # pragma: no cover - a cryptography change
        raise ToolError("precertificate TBS differs from the issued certificate's")
    return leaf
