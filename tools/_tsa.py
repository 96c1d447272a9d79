"""An RFC 3161 timestamp authority: a P-256 signer certificate (EKU timeStamping, critical) under its own root,
answering with a full DER ``TimeStampResp`` (status granted + a CMS SignedData over a TSTInfo).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from webhook.certs import key_usage

from . import _der

__all__ = ["TimestampAuthority"]

_SHA256 = "2.16.840.1.101.3.4.2.1"
_ECDSA_SHA256 = "1.2.840.10045.4.3.2"
_SIGNED_DATA = "1.2.840.113549.1.7.2"
_TST_INFO = "1.2.840.113549.1.9.16.1.4"
_ATTR_CONTENT_TYPE = "1.2.840.113549.1.9.3"
_ATTR_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
_ATTR_SIGNING_TIME = "1.2.840.113549.1.9.5"
_ATTR_SIGNING_CERT_V2 = "1.2.840.113549.1.9.16.2.47"
_POLICY = "1.3.6.1.4.1.57264.2"  # the policy OID sigstore's timestamp-authority uses


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "sealgate.test"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


class TimestampAuthority:
    def __init__(self, *, not_before: datetime, not_after: datetime) -> None:
        self.root_key = ec.generate_private_key(ec.SECP384R1())
        root_name = _name("tsa-root")
        self.root = (
            x509.CertificateBuilder()
            .subject_name(root_name)
            .issuer_name(root_name)
            .public_key(self.root_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                key_usage(key_cert_sign=True, crl_sign=True),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.root_key.public_key()), critical=False)
            .sign(self.root_key, hashes.SHA384())
        )
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(_name("tsa-signer"))
            .issuer_name(root_name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                key_usage(digital_signature=True),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.root_key.public_key()), critical=False
            )
            .sign(self.root_key, hashes.SHA384())
        )

    @property
    def chain(self) -> list[x509.Certificate]:
        """Signer then root: the order of ``certChain`` in trusted_root.json ``timestampAuthorities``."""
        return [self.certificate, self.root]

    def timestamp(self, message: bytes, *, gen_time: datetime, corrupt: bool = False) -> bytes:
        """A DER TimeStampResp whose imprint is SHA-256(``message``); ``corrupt`` breaks the CMS signature."""
        algorithm = _der.sequence(_der.oid(_SHA256))
        tst_info = _der.sequence(
            _der.integer(1),
            _der.oid(_POLICY),
            _der.sequence(algorithm, _der.octet_string(hashlib.sha256(message).digest())),
            _der.integer(secrets.randbits(63)),
            _der.generalized_time(gen_time),
            _der.integer(secrets.randbits(63)),  # nonce
        )
        cert_der = self.certificate.public_bytes(serialization.Encoding.DER)
        issuer_der = self.certificate.issuer.public_bytes()
        issuer_serial = _der.sequence(
            _der.sequence(_der.context(4, issuer_der)),  # GeneralNames { directoryName [4] Name }
            _der.integer(self.certificate.serial_number),
        )
        attributes = [
            _der.sequence(_der.oid(_ATTR_CONTENT_TYPE), _der.set_of(_der.oid(_TST_INFO))),
            _der.sequence(_der.oid(_ATTR_SIGNING_TIME), _der.set_of(_utc_time(gen_time))),
            _der.sequence(
                _der.oid(_ATTR_MESSAGE_DIGEST), _der.set_of(_der.octet_string(hashlib.sha256(tst_info).digest()))
            ),
            _der.sequence(
                _der.oid(_ATTR_SIGNING_CERT_V2),
                _der.set_of(
                    _der.sequence(  # SigningCertificateV2
                        _der.sequence(  # certs
                            _der.sequence(_der.octet_string(hashlib.sha256(cert_der).digest()), issuer_serial)
                        )
                    )
                ),
            ),
        ]
        signed_attributes = _der.set_of(*attributes)
        signature = self.key.sign(signed_attributes, ec.ECDSA(hashes.SHA256()))
        if corrupt:
            signature = self.key.sign(signed_attributes + b"\x00", ec.ECDSA(hashes.SHA256()))
        signer_info = _der.sequence(
            _der.integer(1),
            _der.sequence(issuer_der, _der.integer(self.certificate.serial_number)),
            algorithm,
            b"\xa0" + signed_attributes[1:],  # [0] IMPLICIT SET OF Attribute
            _der.sequence(_der.oid(_ECDSA_SHA256)),
            _der.octet_string(signature),
        )
        signed_data = _der.sequence(
            _der.integer(3),
            _der.set_of(algorithm),
            _der.sequence(_der.oid(_TST_INFO), _der.context(0, _der.octet_string(tst_info))),
            _der.context(0, cert_der),  # certificates [0] IMPLICIT SET OF Certificate
            _der.set_of(signer_info),
        )
        token = _der.sequence(_der.oid(_SIGNED_DATA), _der.context(0, signed_data))
        return _der.sequence(_der.sequence(_der.integer(0)), token)


def _utc_time(when: datetime) -> bytes:
    return _der.tlv(0x17, when.strftime("%y%m%d%H%M%SZ").encode())
