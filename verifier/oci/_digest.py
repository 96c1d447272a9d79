"""Content digests (``sha256:<hex>``), as the OCI image spec defines them for sha256 and sha512."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from verifier.errors import DigestMismatchError, InvalidDigestError

__all__ = ["Digest"]

#: supported algorithms and the length of their lowercase hex encoding
_HEX_LENGTHS = {"sha256": 64, "sha512": 128}
_HEX_CHARS = frozenset("0123456789abcdef")


def _shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check(algorithm: str, hex_: str, text: str) -> None:
    length = _HEX_LENGTHS.get(algorithm)
    if length is None:
        raise InvalidDigestError(
            f"invalid digest {_shorten(text)!r}: unsupported algorithm {_shorten(algorithm, 20)!r} "
            "(only sha256 and sha512)"
        )
    if not set(hex_) <= _HEX_CHARS:
        if set(hex_.lower()) <= _HEX_CHARS:
            raise InvalidDigestError(f"invalid digest {_shorten(text)!r}: hex must be lowercase")
        raise InvalidDigestError(f"invalid digest {_shorten(text)!r}: hex part has non-hex characters")
    if len(hex_) != length:
        raise InvalidDigestError(
            f"invalid digest {_shorten(text)!r}: {algorithm} needs {length} hex characters, got {len(hex_)}"
        )


@dataclass(frozen=True, slots=True)
class Digest:
    """A content digest; construction validates it (``InvalidDigestError`` otherwise).

    >>> d = Digest.of(b"{}")
    >>> str(d)
    'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a'
    >>> d.tag_form
    'sha256-44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a'
    """

    algorithm: str
    hex: str

    def __post_init__(self) -> None:
        _check(self.algorithm, self.hex, f"{self.algorithm}:{self.hex}")

    @classmethod
    def parse(cls, text: str) -> Digest:
        """Parse ``<algorithm>:<hex>``: ``sha256`` with 64 or ``sha512`` with 128 lowercase hex digits."""
        if not isinstance(text, str) or not text:
            raise InvalidDigestError("invalid digest '': empty")
        algorithm, sep, hex_ = text.partition(":")
        if not sep or not algorithm or not hex_:
            raise InvalidDigestError(f"invalid digest {_shorten(text)!r}: expected '<algorithm>:<hex>'")
        _check(algorithm, hex_, text)
        return cls(algorithm, hex_)

    @classmethod
    def of(cls, data: bytes, algorithm: str = "sha256") -> Digest:
        """Digest of ``data`` with ``algorithm`` (sha256 or sha512)."""
        if algorithm not in _HEX_LENGTHS:
            raise InvalidDigestError(
                f"unsupported digest algorithm {_shorten(algorithm, 20)!r} (only sha256 and sha512)"
            )
        return cls(algorithm, hashlib.new(algorithm, data).hexdigest())

    def verify(self, data: bytes, what: str = "content") -> None:
        """Raise ``DigestMismatchError`` unless ``data`` hashes to this digest."""
        actual = Digest.of(data, self.algorithm)
        if not hmac.compare_digest(actual.hex, self.hex):
            raise DigestMismatchError(f"{what}: digest mismatch: expected {self}, got {actual}")

    def matches(self, data: bytes) -> bool:
        """True when ``data`` hashes to this digest."""
        return hmac.compare_digest(Digest.of(data, self.algorithm).hex, self.hex)

    @property
    def tag_form(self) -> str:
        """``sha256-<hex>``: the stem of cosign ``.sig``/``.att`` tags and the referrers fallback tag."""
        return f"{self.algorithm}-{self.hex}"

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"
