"""Certificates for the webhook's TLS: a private CA and a serving certificate for ``<service>.<namespace>.svc``.

Pure crypto plus one file writer. The API server reaches the webhook through its Service, so the serving
certificate names ``service``, ``service.ns``, ``service.ns.svc`` and ``service.ns.svc.cluster.local``; the
CA goes into the ValidatingWebhookConfiguration as ``caBundle`` (base64 of its PEM). Keys are ECDSA P-256.

:func:`write_bundle` keeps an existing CA (``ca.crt`` + ``ca.key``) in the output directory, so rotating the
serving certificate leaves the ``caBundle`` unchanged, and replaces each file atomically (temporary file and
rename) so a server reloading them never reads half a file.

>>> from webhook.certs import write_bundle
>>> bundle = write_bundle("certs/dev", service="sealgate", namespace="sealgate")  # doctest: +SKIP
>>> print(bundle.ca_bundle_b64)  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import ipaddress
import logging
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from verifier.errors import ConfigError, UsageError

__all__ = [
    "CA_CERT_FILE",
    "CA_KEY_FILE",
    "TLS_CERT_FILE",
    "TLS_KEY_FILE",
    "CertBundle",
    "IssuerKey",
    "ca_bundle_b64",
    "key_usage",
    "certificate_pem",
    "generate_ca",
    "issue_serving_cert",
    "load_ca",
    "private_key_pem",
    "service_dns_names",
    "write_bundle",
]

_logger = logging.getLogger(__name__)

CA_CERT_FILE = "ca.crt"
CA_KEY_FILE = "ca.key"
TLS_CERT_FILE = "tls.crt"
TLS_KEY_FILE = "tls.key"

#: keys a CA may have (generated ones are always ECDSA P-256; an existing RSA CA is accepted)
IssuerKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

#: certificates start this long before "now", for API servers whose clock runs a little behind
_BACKDATE = dt.timedelta(minutes=5)
_MAX_DAYS = 36500

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")


def key_usage(*, digital_signature: bool = False, key_cert_sign: bool = False, crl_sign: bool = False) -> x509.KeyUsage:
    """An X.509 KeyUsage with only the named bits set (the other six are never wanted here)."""
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=crl_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _check_days(days: int, what: str) -> None:
    if not 1 <= days <= _MAX_DAYS:
        raise UsageError(f"{what} lifetime of {days} days is out of range (1..{_MAX_DAYS})")


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _check_dns_name(name: str) -> str:
    """A hostname (optionally ``*.``-prefixed), lower-cased; anything else is a usage error."""
    host = name.lower().rstrip(".")
    labels = host[2:].split(".") if host.startswith("*.") else host.split(".")
    if not host or len(host) > 253 or not all(_HOST_LABEL.fullmatch(label) for label in labels):
        raise UsageError(f"dns name {name!r} is not a valid host name")
    return host


def service_dns_names(service: str, namespace: str, extra: Iterable[str] = ()) -> list[str]:
    """The names the API server may use for ``service`` in ``namespace``, then ``extra`` (deduplicated).

    ``service.namespace.svc`` comes first: it is what the API server dials for a ``clientConfig.service``.
    """
    for what, value in (("service", service), ("namespace", namespace)):
        if len(value) > 63 or not _DNS_LABEL.fullmatch(value):
            raise UsageError(f"{what} name {value!r} is not a DNS-1123 label (lower-case a-z, 0-9, '-')")
    names = [
        f"{service}.{namespace}.svc",
        service,
        f"{service}.{namespace}",
        f"{service}.{namespace}.svc.cluster.local",
    ]
    for name in extra:
        names.append(_check_dns_name(name))
    return list(dict.fromkeys(names))


def _ip(value: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    if isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address):
        return value
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        raise UsageError(f"ip address {value!r} is not an IPv4 or IPv6 address") from None


def _ski(key: IssuerKey) -> x509.SubjectKeyIdentifier:
    return x509.SubjectKeyIdentifier.from_public_key(key.public_key())


def generate_ca(common_name: str, *, days: int = 3650) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A new self-signed CA (ECDSA P-256) that may sign end-entity certificates only (path length 0)."""
    _check_days(days, "CA")
    if not common_name:
        raise UsageError("CA common name is empty")
    key = _new_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            key_usage(digital_signature=True, key_cert_sign=True, crl_sign=True),
            critical=True,
        )
        .add_extension(_ski(key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _logger.debug("generated CA %r serial %x", common_name, cert.serial_number)
    return key, cert


def issue_serving_cert(
    ca_key: IssuerKey,
    ca_cert: x509.Certificate,
    dns_names: Sequence[str],
    ip_addresses: Iterable[str | ipaddress.IPv4Address | ipaddress.IPv6Address] = (),
    *,
    days: int = 365,
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A TLS server certificate (ECDSA P-256) for ``dns_names`` and ``ip_addresses``, signed by the CA.

    The subject's common name is the first DNS name. The certificate never outlives the CA: its end is
    clamped to the CA's, and a CA that has already expired is a configuration error.
    """
    _check_days(days, "serving certificate")
    names = [_check_dns_name(n) for n in dns_names]
    ips = [_ip(a) for a in ip_addresses]
    if not names:
        raise UsageError("a serving certificate needs at least one dns name")
    if ca_cert.public_key() != ca_key.public_key():
        raise ConfigError("CA key does not match the CA certificate")
    now = _now()
    if ca_cert.not_valid_after_utc <= now:
        raise ConfigError(f"CA certificate expired on {ca_cert.not_valid_after_utc:%Y-%m-%d}", hint="use --new-ca")
    key = _new_key()
    not_after = min(now + dt.timedelta(days=days), ca_cert.not_valid_after_utc)
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in dict.fromkeys(names)]
    sans += [x509.IPAddress(a) for a in dict.fromkeys(ips)]
    ca_ski = _authority_key_id(ca_cert, ca_key)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0][:64])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(max(now - _BACKDATE, ca_cert.not_valid_before_utc))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            key_usage(digital_signature=True),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(_ski(key), critical=False)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _logger.debug("issued serving certificate for %s serial %x", names[0], cert.serial_number)
    return key, cert


def _authority_key_id(ca_cert: x509.Certificate, ca_key: IssuerKey) -> x509.AuthorityKeyIdentifier:
    """AKI matching the CA's own SKI when it has one (an external CA may compute it differently)."""
    try:
        ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key())
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def certificate_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def private_key_pem(key: IssuerKey) -> bytes:
    """Unencrypted PKCS#8 PEM (the form Kubernetes TLS secrets and uvicorn expect)."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def ca_bundle_b64(cert: x509.Certificate) -> str:
    """The ``caBundle`` value of a webhook ``clientConfig``: base64 of the CA's PEM."""
    return base64.b64encode(certificate_pem(cert)).decode("ascii")


def load_ca(cert_file: str | os.PathLike[str], key_file: str | os.PathLike[str]) -> tuple[IssuerKey, x509.Certificate]:
    """Read an existing CA (PEM certificate, unencrypted PEM key) and check that it can issue certificates."""
    try:
        cert = x509.load_pem_x509_certificate(Path(cert_file).read_bytes())
    except OSError as exc:
        raise ConfigError(f"cannot read CA certificate {cert_file}: {exc.strerror}") from exc
    except ValueError as exc:
        raise ConfigError(f"CA certificate {cert_file} is not a PEM certificate") from exc
    try:
        key = serialization.load_pem_private_key(Path(key_file).read_bytes(), password=None)
    except OSError as exc:
        raise ConfigError(f"cannot read CA key {key_file}: {exc.strerror}") from exc
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"CA key {key_file} is not an unencrypted PEM private key") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise ConfigError(f"CA key {key_file} is neither ECDSA nor RSA")
    if cert.public_key() != key.public_key():
        raise ConfigError(f"CA key {key_file} does not match CA certificate {cert_file}")
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if not is_ca:
        raise ConfigError(f"CA certificate {cert_file} is not a CA (basicConstraints CA is not true)")
    return key, cert


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    """Replace ``path`` with ``data`` in one rename: readers see the old file or the new one, never a mix."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), mode)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@dataclass(frozen=True)
class CertBundle:
    """What :func:`write_bundle` wrote (paths) and made (certificates)."""

    out_dir: Path
    ca_cert: x509.Certificate
    cert: x509.Certificate
    #: True when an existing ``ca.crt``/``ca.key`` in ``out_dir`` was kept
    ca_reused: bool
    #: the files written, in the order they were written
    written: tuple[Path, ...]

    @property
    def ca_bundle_b64(self) -> str:
        return ca_bundle_b64(self.ca_cert)

    @property
    def dns_names(self) -> list[str]:
        return self.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.DNSName
        )


def write_bundle(
    out_dir: str | os.PathLike[str],
    *,
    service: str,
    namespace: str,
    dns_names: Iterable[str] = (),
    ip_addresses: Iterable[str] = (),
    days: int = 365,
    ca_days: int = 3650,
    new_ca: bool = False,
) -> CertBundle:
    """Write ``ca.crt``, ``ca.key`` (0600), ``tls.crt`` and ``tls.key`` (0600) for the webhook Service.

    An existing CA in ``out_dir`` (both ``ca.crt`` and ``ca.key``) is reused unless ``new_ca``; a lone
    ``ca.crt`` without its key is an error rather than silently replaced (the cluster may trust it).
    ``ca.key`` stays with whoever rotates the certificates: only ``tls.crt``/``tls.key`` go to the server.
    """
    names = service_dns_names(service, namespace, dns_names)
    ips = [_ip(a) for a in ip_addresses]
    _check_days(days, "serving certificate")
    _check_days(ca_days, "CA")
    out = Path(out_dir)
    try:
        out.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create output directory {out}: {exc.strerror}") from exc
    if not out.is_dir():
        raise ConfigError(f"output path {out} is not a directory")
    ca_cert_path, ca_key_path = out / CA_CERT_FILE, out / CA_KEY_FILE
    written: list[Path] = []
    ca_key: IssuerKey
    reuse = not new_ca and (ca_cert_path.exists() or ca_key_path.exists())
    try:
        if reuse:
            if not ca_key_path.exists():
                raise ConfigError(
                    f"{ca_cert_path} exists but {ca_key_path} does not, so the CA cannot sign",
                    hint="use --new-ca to replace the CA (then update caBundle)",
                )
            ca_key, ca_cert = load_ca(ca_cert_path, ca_key_path)
        else:
            ca_key, ca_cert = generate_ca(f"{service}.{namespace} webhook CA", days=ca_days)
            _write_atomic(ca_key_path, private_key_pem(ca_key), 0o600)
            _write_atomic(ca_cert_path, certificate_pem(ca_cert), 0o644)
            written += [ca_key_path, ca_cert_path]
        key, cert = issue_serving_cert(ca_key, ca_cert, names, ips, days=days)
        # key before certificate: a reloading server checks that the pair matches before switching
        _write_atomic(out / TLS_KEY_FILE, private_key_pem(key), 0o600)
        _write_atomic(out / TLS_CERT_FILE, certificate_pem(cert), 0o644)
        written += [out / TLS_KEY_FILE, out / TLS_CERT_FILE]
    except OSError as exc:
        raise ConfigError(f"cannot write certificates to {out}: {exc.strerror or exc}") from exc
    return CertBundle(out_dir=out, ca_cert=ca_cert, cert=cert, ca_reused=reuse, written=tuple(written))
