"""The simple-signing payload cosign signs for a container image (FORMATS.md §2).

Building writes exactly the bytes Go's ``encoding/json`` gives for sigstore's ``payload.Cosign``:
compact, fields in struct order, ``optional`` keys sorted, ``<``/``>``/``&`` and U+2028/U+2029 escaped.
Verification always runs over the raw bytes that were signed; parsing only reads claims out of them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from verifier.errors import PayloadInvalidError

__all__ = [
    "SIMPLE_SIGNING_TYPE",
    "SimpleSigningPayload",
    "build_simple_signing_payload",
    "go_json_string",
]

SIMPLE_SIGNING_TYPE = "cosign container image signature"

#: a value that may stand in ``optional``: cosign writes strings, containers/image also an integer timestamp
OptionalValue = str | int | bool | None

_HEX = "0123456789abcdef"
_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(ch: str) -> str:
    short = _SHORT_ESCAPES.get(ch)
    if short is not None:
        return short
    code = ord(ch)
    if code < 0x20 or ch in "<>&":
        return "\\u00" + _HEX[code >> 4] + _HEX[code & 0xF]
    if code in (0x2028, 0x2029):
        return f"\\u{code:04x}"
    if 0xD800 <= code <= 0xDFFF:  # a lone surrogate cannot be UTF-8: Go writes the replacement character
        return "\\ufffd"
    return ch


def go_json_string(value: str) -> str:
    """``value`` as a JSON string literal exactly as Go's ``encoding/json`` (HTML escaping on, Go >= 1.22)."""
    return '"' + "".join(_escape_char(ch) for ch in value) + '"'


def _go_json_value(value: OptionalValue) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return go_json_string(value)
    raise TypeError(f"unsupported optional value type {type(value).__name__}")


def build_simple_signing_payload(
    docker_reference: str, digest: str, annotations: Mapping[str, OptionalValue] | None = None
) -> bytes:
    """The payload ``cosign sign`` writes for ``digest`` (``sha256:<hex>``) claimed as ``docker_reference``.

    ``annotations`` (``cosign sign -a k=v``) become the ``optional`` object with sorted keys; None or an empty
    mapping gives ``"optional":null``, as cosign writes when no ``-a`` is given.
    """
    if annotations:
        # Go sorts map keys by their UTF-8 bytes, which is code point order.
        members = ",".join(f"{go_json_string(key)}:{_go_json_value(annotations[key])}" for key in sorted(annotations))
        optional = "{" + members + "}"
    else:
        optional = "null"
    text = (
        '{"critical":{"identity":{"docker-reference":'
        + go_json_string(docker_reference)
        + '},"image":{"docker-manifest-digest":'
        + go_json_string(digest)
        + '},"type":'
        + go_json_string(SIMPLE_SIGNING_TYPE)
        + '},"optional":'
        + optional
        + "}"
    )
    return text.encode("utf-8")


def _no_constants(name: str) -> Any:
    raise PayloadInvalidError(f"payload is not JSON (bare {name})")


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise PayloadInvalidError(f"payload has duplicate key {key!r}")
        result[key] = value
    return result


def _object(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        raise PayloadInvalidError(f"payload {where} is missing")
    if not isinstance(value, dict):
        raise PayloadInvalidError(f"payload {where} is not an object")
    return value


@dataclass(frozen=True)
class SimpleSigningPayload:
    """The claims of a simple-signing payload.

    :meth:`parse` is stricter than cosign, which only requires ``critical.image.docker-manifest-digest``: it
    also requires ``critical.type`` to be :data:`SIMPLE_SIGNING_TYPE` (as containers/image does), rejects
    duplicate keys anywhere, and requires ``optional`` to be null or an object. ``docker_reference`` is None
    when the payload carries no identity; cosign never checks it.
    """

    docker_reference: str | None
    digest: str
    type: str
    optional: Mapping[str, Any] | None

    @classmethod
    def parse(cls, raw: bytes) -> SimpleSigningPayload:
        """The claims in ``raw``; :class:`PayloadInvalidError` naming what is wrong."""
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise PayloadInvalidError("payload is not UTF-8") from None
        try:
            document = json.loads(text, object_pairs_hook=_unique_object, parse_constant=_no_constants)
        except ValueError:
            raise PayloadInvalidError("payload is not JSON") from None
        except RecursionError:
            raise PayloadInvalidError("payload is nested too deeply") from None
        if not isinstance(document, dict):
            raise PayloadInvalidError("payload is not a JSON object")
        critical = _object(document.get("critical"), "critical")
        image = _object(critical.get("image"), "critical.image")
        digest = image.get("docker-manifest-digest")
        if digest is None:
            raise PayloadInvalidError("payload critical.image.docker-manifest-digest is missing")
        if not isinstance(digest, str):
            raise PayloadInvalidError("payload critical.image.docker-manifest-digest is not a string")
        kind = critical.get("type")
        if kind is None:
            raise PayloadInvalidError("payload critical.type is missing")
        if not isinstance(kind, str):
            raise PayloadInvalidError("payload critical.type is not a string")
        if kind != SIMPLE_SIGNING_TYPE:
            raise PayloadInvalidError(f"payload critical.type is {kind[:80]!r}, not {SIMPLE_SIGNING_TYPE!r}")
        reference: str | None = None
        identity = critical.get("identity")
        if identity is not None:
            identity = _object(identity, "critical.identity")
            reference = identity.get("docker-reference")
            if reference is not None and not isinstance(reference, str):
                raise PayloadInvalidError("payload critical.identity.docker-reference is not a string")
        optional = document.get("optional")
        if optional is not None and not isinstance(optional, dict):
            raise PayloadInvalidError("payload optional is not an object or null")
        return cls(docker_reference=reference, digest=digest, type=kind, optional=optional)

    def annotations_match(self, required: Mapping[str, str]) -> bool:
        """True if every ``k=v`` in ``required`` equals the string ``optional[k]`` (``cosign verify -a``)."""
        if not required:
            return True
        if self.optional is None:
            return False
        for key, value in required.items():
            actual = self.optional.get(key)
            if not isinstance(actual, str) or actual != value:
                return False
        return True
