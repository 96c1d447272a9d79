"""The few DER (X.690) encoders the test Sigstore needs: TLVs, integers, OIDs, strings, times and sets.

Only encoding, never parsing: the artifacts are read back with ``cryptography`` and ``rfc3161-client``.
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = [
    "boolean",
    "context",
    "generalized_time",
    "integer",
    "null",
    "octet_string",
    "oid",
    "sequence",
    "set_of",
    "tlv",
    "utf8_string",
]


def tlv(tag: int, content: bytes) -> bytes:
    """One tag-length-value with a definite (short or long form) length."""
    size = len(content)
    if size < 0x80:
        return bytes([tag, size]) + content
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length)]) + length + content


def sequence(*items: bytes) -> bytes:
    return tlv(0x30, b"".join(items))


def set_of(*items: bytes) -> bytes:
    """A DER SET OF: the encoded members sorted bytewise, as X.690 11.6 requires."""
    return tlv(0x31, b"".join(sorted(items)))


def integer(value: int) -> bytes:
    size = max(1, (value.bit_length() + 8) // 8)  # room for the sign bit
    return tlv(0x02, value.to_bytes(size, "big", signed=True))


def boolean(value: bool) -> bytes:
    return tlv(0x01, b"\xff" if value else b"\x00")


def null() -> bytes:
    return b"\x05\x00"


def octet_string(data: bytes) -> bytes:
    return tlv(0x04, data)


def utf8_string(text: str) -> bytes:
    return tlv(0x0C, text.encode())


def oid(dotted: str) -> bytes:
    arcs = [int(part) for part in dotted.split(".")]
    body = bytearray([40 * arcs[0] + arcs[1]])
    for arc in arcs[2:]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body.extend(reversed(chunk))
    return tlv(0x06, bytes(body))


def generalized_time(when: datetime) -> bytes:
    """GeneralizedTime in UTC with whole seconds (``YYYYMMDDHHMMSSZ``)."""
    return tlv(0x18, when.astimezone(UTC).strftime("%Y%m%d%H%M%SZ").encode())


def context(number: int, content: bytes, *, constructed: bool = True) -> bytes:
    """A context-specific tag ``[number]``: EXPLICIT wrapping (constructed) or IMPLICIT primitive content."""
    return tlv((0xA0 if constructed else 0x80) | number, content)
