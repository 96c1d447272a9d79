"""Keyless identities: a Fulcio certificate's subject (SAN) and OIDC issuer, matched exactly or by regexp.

Regular expressions are **full matches** (``re.fullmatch``), i.e. implicitly anchored at both ends. cosign's
``--certificate-identity-regexp`` uses Go's ``regexp.MatchString``, which *searches* (``example.com`` would match
``https://evil.example/?x=example.com``); we are deliberately stricter. Write ``.*`` where a prefix or suffix
may vary.

Issuer: Fulcio writes the OIDC issuer twice, as ``1.3.6.1.4.1.57264.1.8`` (DER UTF8String, current) and
``1.3.6.1.4.1.57264.1.1`` (raw bytes, deprecated). We read ``.1.8``, fall back to ``.1.1``, and fail when both
are present and differ (FORMATS.md §4). Certificates from 2021 have neither: no issuer constraint can match.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from cryptography import x509

from verifier.errors import CertificateInvalidError, ConfigError, IdentityMismatchError

__all__ = ["Identity", "certificate_extensions", "certificate_identities", "certificate_issuer"]

OIDC_ISSUER_V1 = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
OIDC_ISSUER_V2 = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.8")
OTHERNAME_USERNAME = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.7")


def _der_utf8(data: bytes) -> str | None:
    """The text of a DER UTF8String (tag 0x0C, short or long length), possibly inside ``[0] EXPLICIT``."""
    if len(data) >= 2 and data[0] == 0xA0:
        inner = _der_value(data)
        return None if inner is None else _der_utf8(inner)
    if len(data) < 2 or data[0] != 0x0C:
        return None
    value = _der_value(data)
    if value is None:
        return None
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _der_value(data: bytes) -> bytes | None:
    first = data[1]
    if first < 0x80:
        length, start = first, 2
    else:
        n = first & 0x7F
        if n == 0 or n > 4 or len(data) < 2 + n:
            return None
        length, start = int.from_bytes(data[2 : 2 + n], "big"), 2 + n
    if start + length != len(data):
        return None
    return data[start:]


def certificate_extensions(cert: x509.Certificate) -> x509.Extensions:
    """The certificate's extensions; :class:`CertificateInvalidError` when they cannot be parsed (malformed DER
    of a known extension, or one extension twice): attacker-made certificates are judged, never crash."""
    try:
        return cert.extensions
    except (ValueError, x509.DuplicateExtension) as exc:
        raise CertificateInvalidError(f"certificate has malformed extensions ({str(exc)[:120]})") from None


def certificate_identities(cert: x509.Certificate) -> list[str]:
    """Every SAN value cosign matches an identity against: emails, URIs, DNS names, IPs, the otherName."""
    try:
        san = certificate_extensions(cert).get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    except ValueError as exc:
        raise CertificateInvalidError(f"certificate has a malformed subject alternative name ({exc})") from None
    found: list[str] = []
    for name in san:
        if isinstance(name, x509.RFC822Name | x509.UniformResourceIdentifier | x509.DNSName):
            found.append(name.value)
        elif isinstance(name, x509.IPAddress):
            found.append(str(name.value))
        elif isinstance(name, x509.OtherName) and name.type_id == OTHERNAME_USERNAME:
            text = _der_utf8(name.value)
            if text is not None:
                found.append(text)
    return found


def _extension_bytes(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> bytes | None:
    try:
        ext = certificate_extensions(cert).get_extension_for_oid(oid)
    except x509.ExtensionNotFound:
        return None
    value = ext.value
    if isinstance(value, x509.UnrecognizedExtension):
        return value.value
    return None  # pragma: no cover - cryptography has no parser for these OIDs


def certificate_issuer(cert: x509.Certificate) -> str | None:
    """The OIDC issuer Fulcio recorded, or None (2021 certificates)."""
    v2_raw = _extension_bytes(cert, OIDC_ISSUER_V2)
    v1_raw = _extension_bytes(cert, OIDC_ISSUER_V1)
    v2 = None
    if v2_raw is not None:
        v2 = _der_utf8(v2_raw)
        if v2 is None:
            raise CertificateInvalidError(
                "certificate OIDC issuer extension (1.3.6.1.4.1.57264.1.8) is not a UTF8String"
            )
    v1 = None
    if v1_raw is not None:
        try:
            v1 = v1_raw.decode("utf-8")
        except UnicodeDecodeError:
            raise CertificateInvalidError(
                "certificate OIDC issuer extension (1.3.6.1.4.1.57264.1.1) is not UTF-8"
            ) from None
    if v1 is not None and v2 is not None and v1 != v2:
        raise CertificateInvalidError(f"certificate has two different OIDC issuers: {v2!r} and {v1!r}")
    return v2 if v2 is not None else v1


def _compile(pattern: str | None, what: str) -> re.Pattern[str] | None:
    if pattern is None:
        return None
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ConfigError(f"invalid {what} regular expression {pattern!r}: {exc}") from None


@dataclass(frozen=True)
class Identity:
    """Who must have signed (keyless): a subject and (usually) an OIDC issuer, each exact or a full-match regexp.

    >>> Identity(subject="a@example.com", issuer="https://accounts.google.com").describe()
    "subject 'a@example.com', issuer 'https://accounts.google.com'"
    """

    subject: str | None = None
    subject_regexp: str | None = None
    issuer: str | None = None
    issuer_regexp: str | None = None
    _subject_re: re.Pattern[str] | None = field(init=False, repr=False, compare=False, default=None)
    _issuer_re: re.Pattern[str] | None = field(init=False, repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        if self.subject is None and self.subject_regexp is None:
            raise ConfigError("keyless identity needs a subject (certificate identity) or a subject regexp")
        if self.subject is not None and self.subject_regexp is not None:
            raise ConfigError("keyless identity: give the subject exactly or as a regexp, not both")
        if self.issuer is not None and self.issuer_regexp is not None:
            raise ConfigError("keyless identity: give the issuer exactly or as a regexp, not both")
        object.__setattr__(self, "_subject_re", _compile(self.subject_regexp, "certificate identity"))
        object.__setattr__(self, "_issuer_re", _compile(self.issuer_regexp, "certificate OIDC issuer"))

    def describe(self) -> str:
        subject = f"subject {self.subject!r}" if self.subject is not None else f"subject ~ /{self.subject_regexp}/"
        if self.issuer is not None:
            return f"{subject}, issuer {self.issuer!r}"
        if self.issuer_regexp is not None:
            return f"{subject}, issuer ~ /{self.issuer_regexp}/"
        return subject

    def matches_subject(self, value: str) -> bool:
        if self._subject_re is not None:
            return self._subject_re.fullmatch(value) is not None
        return value == self.subject

    def matches_issuer(self, value: str | None) -> bool:
        if self.issuer is None and self._issuer_re is None:
            return True
        if value is None:
            return False
        if self._issuer_re is not None:
            return self._issuer_re.fullmatch(value) is not None
        return value == self.issuer

    def check(self, cert: x509.Certificate) -> None:
        """Raise :class:`IdentityMismatchError` (naming expected and found) unless ``cert`` is this identity."""
        issuer = certificate_issuer(cert)
        if not self.matches_issuer(issuer):
            expected = self.issuer if self.issuer is not None else f"/{self.issuer_regexp}/"
            raise IdentityMismatchError(
                f"certificate OIDC issuer mismatch: expected {expected!r}, found "
                + (repr(issuer) if issuer is not None else "no issuer extension")
            )
        sans = certificate_identities(cert)
        if not any(self.matches_subject(s) for s in sans):
            expected = self.subject if self.subject is not None else f"/{self.subject_regexp}/"
            raise IdentityMismatchError(
                f"certificate identity mismatch: expected {expected!r}, found {', '.join(map(repr, sans)) or 'no SAN'}"
            )
