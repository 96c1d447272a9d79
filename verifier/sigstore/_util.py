"""Small strict helpers shared by the Sigstore modules: base64 (verifier.crypto's), JSON fields, RFC 3339 times,
hashing."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, NoReturn

from verifier.crypto import b64decode
from verifier.errors import SealgateError

__all__ = [
    "b64decode",
    "field",
    "hash_name",
    "int_field",
    "opt_mapping",
    "parse_time",
    "require_mapping",
    "str_field",
]

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:[Zz]|([+-])(\d{2}):(\d{2}))$"
)

_INT64_MAX = 2**63 - 1
#: 9999-12-31T23:59:59Z
_LAST_SECOND_OF_9999 = 253_402_300_799

#: protobuf-specs HashAlgorithm names -> hashlib names
_HASHES = {"SHA2_256": "sha256", "SHA2_384": "sha384", "SHA2_512": "sha512", "SHA3_256": "sha3_256"}


def _fail(error: type[SealgateError], message: str) -> NoReturn:
    raise error(message)


def require_mapping(value: Any, what: str, error: type[SealgateError]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        _fail(error, f"{what}: expected a JSON object")
    return value


def opt_mapping(doc: Mapping[str, Any], key: str, what: str, error: type[SealgateError]) -> Mapping[str, Any] | None:
    value = doc.get(key)
    if value is None:
        return None
    return require_mapping(value, f"{what}.{key}", error)


def field(doc: Mapping[str, Any], key: str, what: str, error: type[SealgateError]) -> Any:
    if key not in doc or doc[key] is None:
        _fail(error, f"{what}: missing {key!r}")
    return doc[key]


def str_field(doc: Mapping[str, Any], key: str, what: str, error: type[SealgateError]) -> str:
    value = field(doc, key, what, error)
    if not isinstance(value, str):
        _fail(error, f"{what}.{key}: expected a string")
    return value


def int_field(
    doc: Mapping[str, Any], key: str, what: str, error: type[SealgateError], *, default: int | None = None
) -> int:
    """A protobuf int64 (a JSON string of decimal digits, or a JSON integer); never negative."""
    value = doc.get(key)
    if value is None:
        if default is not None:
            return default
        _fail(error, f"{what}: missing {key!r}")
    if isinstance(value, bool):
        _fail(error, f"{what}.{key}: expected an integer")
    if isinstance(value, str):
        if not re.fullmatch(r"-?[0-9]{1,19}", value):
            _fail(error, f"{what}.{key}: expected an integer, got {value[:30]!r}")
        value = int(value)
    if not isinstance(value, int):
        _fail(error, f"{what}.{key}: expected an integer")
    if value < 0:
        _fail(error, f"{what}.{key}: must not be negative ({value})")
    if value > _INT64_MAX:
        _fail(error, f"{what}.{key}: larger than an int64")
    return value


def unix_time_field(
    doc: Mapping[str, Any], key: str, what: str, error: type[SealgateError], *, default: int | None = None
) -> int:
    """Seconds since the epoch (an int64 as :func:`int_field` reads it) that a date can hold: up to the end of
    year 9999, where Python's dates end (a log entry's ``integratedTime`` far beyond would fail to convert)."""
    value = int_field(doc, key, what, error, default=default)
    if value > _LAST_SECOND_OF_9999:
        _fail(error, f"{what}.{key}: {value} is not a time before the year 10000")
    return value


def parse_time(value: Any, what: str, error: type[SealgateError]) -> datetime:
    """An RFC 3339 timestamp (protobuf JSON ``Timestamp``) as an aware UTC datetime."""
    if not isinstance(value, str):
        _fail(error, f"{what}: expected an RFC 3339 time string")
    m = _RFC3339.match(value)
    if m is None:
        _fail(error, f"{what}: invalid RFC 3339 time {value[:40]!r}")
    year, month, day, hour, minute, second = (int(m.group(i)) for i in range(1, 7))
    micros = int((m.group(7) or "0").ljust(9, "0")[:6])
    try:
        t = datetime(year, month, day, hour, minute, second, micros, tzinfo=UTC)
    except ValueError:
        _fail(error, f"{what}: invalid RFC 3339 time {value[:40]!r}")
    if m.group(8):
        from datetime import timedelta

        offset = timedelta(hours=int(m.group(9)), minutes=int(m.group(10)))
        t = t - offset if m.group(8) == "+" else t + offset
    return t


def hash_name(proto_name: Any, what: str, error: type[SealgateError]) -> str:
    """hashlib name for a protobuf-specs ``HashAlgorithm`` (``SHA2_256`` ...)."""
    if not isinstance(proto_name, str) or proto_name not in _HASHES:
        _fail(error, f"{what}: unsupported hash algorithm {str(proto_name)[:30]!r}")
    return _HASHES[proto_name]

