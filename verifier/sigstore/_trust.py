"""Sigstore trusted roots: ``trusted_root.json`` (protobuf-specs ``TrustedRoot``) and JSON Lines of them.

A trusted root lists the keys and certificate authorities a verifier believes: transparency logs (Rekor v1 and
v2), certificate transparency logs, Fulcio CAs and RFC 3161 timestamp authorities, each valid for a closed time
interval ``[start, end]`` (``end`` optional, ``start`` required: a missing start is a malformed root, never
"valid forever"). The public-good and staging roots come from the installed ``sigstore`` package, never from
the network.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from verifier.errors import TrustRootError
from verifier.limits import DEFAULT_LIMITS
from verifier.sigstore._util import b64decode, field, opt_mapping, parse_time, require_mapping, str_field

__all__ = [
    "CertificateAuthority",
    "LogKey",
    "PublicKey",
    "TimeRange",
    "TrustedRoot",
    "read_trust_root",
]

_logger = logging.getLogger(__name__)

PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey

TRUSTED_ROOT_MEDIA_TYPES = frozenset(
    {
        "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "application/vnd.dev.sigstore.trustedroot.v0.1+json",
        "application/vnd.dev.sigstore.trustedroot.v0.2+json",
    }
)

_STORE = "sigstore._store"
_PRODUCTION_DIR = "https%3A%2F%2Ftuf-repo-cdn.sigstore.dev"
_STAGING_DIR = "https%3A%2F%2Ftuf-repo-cdn.sigstage.dev"


@dataclass(frozen=True, slots=True)
class TimeRange:
    """A closed interval ``start <= t <= end``; no ``end`` means open-ended."""

    start: datetime
    end: datetime | None = None

    def contains(self, when: datetime) -> bool:
        return self.start <= when and (self.end is None or when <= self.end)

    def __str__(self) -> str:
        return f"[{self.start.isoformat()}, {self.end.isoformat() if self.end else '...'}]"


@dataclass(frozen=True, slots=True)
class LogKey:
    """One transparency log (Rekor) or certificate transparency log key."""

    base_url: str
    key_id: bytes
    key: PublicKey
    spki: bytes
    valid_for: TimeRange

    @property
    def hostname(self) -> str:
        rest = self.base_url.split("://", 1)[-1]
        return rest.split("/", 1)[0]


@dataclass(frozen=True, slots=True)
class CertificateAuthority:
    """A Fulcio CA or timestamp authority: its chain (issuing certificate first, root last) and validity."""

    subject: str
    uri: str
    chain: tuple[x509.Certificate, ...]
    valid_for: TimeRange

    @property
    def root(self) -> x509.Certificate:
        return self.chain[-1]


def _time_range(doc: Mapping[str, Any] | None, what: str) -> TimeRange:
    if doc is None:
        raise TrustRootError(f"{what}: missing validFor")
    start = doc.get("start")
    if start is None:
        raise TrustRootError(f"{what}: validFor has no start")
    end = doc.get("end")
    return TimeRange(
        parse_time(start, f"{what}.validFor.start", TrustRootError),
        None if end is None else parse_time(end, f"{what}.validFor.end", TrustRootError),
    )


def _public_key(der: bytes, what: str) -> PublicKey:
    try:
        key = serialization.load_der_public_key(der)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise TrustRootError(f"{what}: invalid public key ({exc})") from None
    if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey):
        raise TrustRootError(f"{what}: unsupported public key type {type(key).__name__}")
    return key


def _log_key(doc: Any, what: str) -> LogKey:
    doc = require_mapping(doc, what, TrustRootError)
    base_url = doc.get("baseUrl", "")
    if not isinstance(base_url, str):
        raise TrustRootError(f"{what}.baseUrl: expected a string")
    pk = require_mapping(field(doc, "publicKey", what, TrustRootError), f"{what}.publicKey", TrustRootError)
    der = b64decode(
        field(pk, "rawBytes", f"{what}.publicKey", TrustRootError), f"{what}.publicKey.rawBytes", TrustRootError
    )
    key = _public_key(der, f"{what}.publicKey")
    valid_for = _time_range(opt_mapping(pk, "validFor", f"{what}.publicKey", TrustRootError), f"{what}.publicKey")
    log_id = opt_mapping(doc, "logId", what, TrustRootError)
    if log_id is not None and log_id.get("keyId") is not None:
        key_id = b64decode(log_id["keyId"], f"{what}.logId.keyId", TrustRootError)
    else:
        key_id = hashlib.sha256(der).digest()
    return LogKey(base_url, key_id, key, der, valid_for)


def _authority(doc: Any, what: str) -> CertificateAuthority:
    doc = require_mapping(doc, what, TrustRootError)
    subject_doc = doc.get("subject") or {}
    subject = str(subject_doc.get("commonName", "")) if isinstance(subject_doc, Mapping) else ""
    uri = doc.get("uri", "")
    chain_doc = require_mapping(field(doc, "certChain", what, TrustRootError), f"{what}.certChain", TrustRootError)
    raw_certs = chain_doc.get("certificates")
    if not isinstance(raw_certs, list) or not raw_certs:
        raise TrustRootError(f"{what}: certificate chain is missing a certificate")
    chain: list[x509.Certificate] = []
    for i, item in enumerate(raw_certs):
        item = require_mapping(item, f"{what}.certChain.certificates[{i}]", TrustRootError)
        der = b64decode(item.get("rawBytes"), f"{what}.certChain.certificates[{i}].rawBytes", TrustRootError)
        try:
            chain.append(x509.load_der_x509_certificate(der))
        except ValueError as exc:
            raise TrustRootError(f"{what}.certChain.certificates[{i}]: invalid certificate ({exc})") from None
    return CertificateAuthority(
        subject, str(uri), tuple(chain), _time_range(opt_mapping(doc, "validFor", what, TrustRootError), what)
    )


class TrustedRoot:
    """The keys and CAs verification trusts (one ``trusted_root.json``, or several merged).

    >>> root = TrustedRoot.production()
    >>> len(root.certificate_authorities) >= 1
    True
    """

    def __init__(
        self,
        *,
        tlogs: Iterable[LogKey] = (),
        ctlogs: Iterable[LogKey] = (),
        certificate_authorities: Iterable[CertificateAuthority] = (),
        timestamp_authorities: Iterable[CertificateAuthority] = (),
        source: str = "trusted root",
    ) -> None:
        self.tlogs: tuple[LogKey, ...] = tuple(tlogs)
        self.ctlogs: tuple[LogKey, ...] = tuple(ctlogs)
        self.certificate_authorities: tuple[CertificateAuthority, ...] = tuple(certificate_authorities)
        self.timestamp_authorities: tuple[CertificateAuthority, ...] = tuple(timestamp_authorities)
        self.source = source

    # --- loading ------------------------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any], *, source: str = "trusted root") -> TrustedRoot:
        doc = require_mapping(doc, source, TrustRootError)
        media_type = str_field(doc, "mediaType", source, TrustRootError)
        if media_type not in TRUSTED_ROOT_MEDIA_TYPES:
            raise TrustRootError(f"{source}: unsupported trusted root media type {media_type[:80]!r}")

        def items(key: str) -> list[Any]:
            value = doc.get(key) or []
            if not isinstance(value, list):
                raise TrustRootError(f"{source}.{key}: expected a list")
            return value

        return cls(
            tlogs=[_log_key(d, f"{source}.tlogs[{i}]") for i, d in enumerate(items("tlogs"))],
            ctlogs=[_log_key(d, f"{source}.ctlogs[{i}]") for i, d in enumerate(items("ctlogs"))],
            certificate_authorities=[
                _authority(d, f"{source}.certificateAuthorities[{i}]")
                for i, d in enumerate(items("certificateAuthorities"))
            ],
            timestamp_authorities=[
                _authority(d, f"{source}.timestampAuthorities[{i}]")
                for i, d in enumerate(items("timestampAuthorities"))
            ],
            source=source,
        )

    @classmethod
    def from_json(cls, raw: bytes | str, *, source: str = "trusted root") -> TrustedRoot:
        """One JSON document, or JSON Lines (one root per line, as ``gh attestation trusted-root`` writes) merged."""
        if isinstance(raw, bytes):
            try:
                raw = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise TrustRootError(f"{source}: not UTF-8 text") from None
        try:
            return cls.from_dict(json.loads(raw), source=source)
        except RecursionError:
            raise TrustRootError(f"{source}: JSON nested too deeply") from None
        except ValueError:
            lines = [line for line in raw.splitlines() if line.strip()]
            if len(lines) < 2:
                raise TrustRootError(f"{source}: not valid JSON") from None
        roots = []
        for n, line in enumerate(lines, 1):
            try:
                doc = json.loads(line)
            except (ValueError, RecursionError):
                raise TrustRootError(f"{source}: line {n} is not valid JSON") from None
            roots.append(cls.from_dict(doc, source=f"{source}:{n}"))
        return cls.merge(roots, source=source)

    @classmethod
    def from_file(cls, path: str | Path) -> TrustedRoot:
        """The root in ``path``, parsed once per distinct content: a changed file is read anew, never served
        from a cache keyed by its name (policy reloads pick up a replaced root)."""
        return cls.from_content(read_trust_root(path), source=str(path))

    @classmethod
    def from_content(cls, raw: bytes, *, source: str) -> TrustedRoot:
        """Like :meth:`from_json`, cached by the SHA-256 of ``raw`` (and ``source``, which errors name)."""
        return _by_content(hashlib.sha256(raw).hexdigest(), source, raw)

    @classmethod
    @functools.cache  # noqa: B019 - two packaged roots, immutable, read once per process
    def _packaged(cls, directory: str, name: str) -> TrustedRoot:
        try:
            raw = resources.files(_STORE).joinpath(directory).joinpath("trusted_root.json").read_bytes()
        except (OSError, ModuleNotFoundError) as exc:
            raise TrustRootError(f"the {name} trusted root is not installed (sigstore package): {exc}") from None
        return cls.from_json(raw, source=f"{name} trusted root")

    @classmethod
    def production(cls) -> TrustedRoot:
        """The Sigstore public-good trusted root shipped with sigstore-python (no network)."""
        return cls._packaged(_PRODUCTION_DIR, "production")

    @classmethod
    def staging(cls) -> TrustedRoot:
        """The Sigstore staging trusted root shipped with sigstore-python (no network)."""
        return cls._packaged(_STAGING_DIR, "staging")

    @classmethod
    def merge(cls, roots: Sequence[TrustedRoot], *, source: str = "merged trusted roots") -> TrustedRoot:
        return cls(
            tlogs=[k for r in roots for k in r.tlogs],
            ctlogs=[k for r in roots for k in r.ctlogs],
            certificate_authorities=[a for r in roots for a in r.certificate_authorities],
            timestamp_authorities=[a for r in roots for a in r.timestamp_authorities],
            source=source,
        )

    # --- lookups ------------------------------------------------------------------------------------------

    def tlog(self, key_id: bytes) -> LogKey | None:
        """The transparency log with this log id (first match), or None."""
        return next((k for k in self.tlogs if k.key_id == key_id), None)

    def tlogs_for(self, key_id: bytes) -> list[LogKey]:
        return [k for k in self.tlogs if k.key_id == key_id]

    def ctlogs_for(self, key_id: bytes) -> list[LogKey]:
        return [k for k in self.ctlogs if k.key_id == key_id]

    def __repr__(self) -> str:
        return (
            f"TrustedRoot({self.source!r}, tlogs={len(self.tlogs)}, ctlogs={len(self.ctlogs)}, "
            f"cas={len(self.certificate_authorities)}, tsas={len(self.timestamp_authorities)})"
        )


def read_trust_root(path: str | Path) -> bytes:
    """The bytes of a trusted root file (at most ``max_trust_root_bytes``); :class:`TrustRootError` otherwise."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            raw = fh.read(DEFAULT_LIMITS.max_trust_root_bytes + 1)
    except OSError as exc:
        raise TrustRootError(f"cannot read trusted root {p}: {exc.strerror or exc}") from None
    if len(raw) > DEFAULT_LIMITS.max_trust_root_bytes:
        raise TrustRootError(
            f"trusted root {p} is larger than {DEFAULT_LIMITS.max_trust_root_bytes} bytes (max_trust_root_bytes)"
        )
    return raw


#: parsed roots by (SHA-256 of the content, source); a few distinct roots per process
_PARSED: dict[tuple[str, str], TrustedRoot] = {}


def _by_content(content_hash: str, source: str, raw: bytes) -> TrustedRoot:
    key = (content_hash, source)
    root = _PARSED.get(key)
    if root is None:
        root = TrustedRoot.from_json(raw, source=source)
        if len(_PARSED) >= DEFAULT_LIMITS.max_cached_trust_roots:
            _PARSED.pop(next(iter(_PARSED)))
        _PARSED[key] = root
    return root
