"""The DSSE primitives every envelope reader shares (FORMATS.md §7): PAE and the text checks around it.

PAE = ``"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`` over the *decoded* payload, lengths in bytes.
``verifier.cosign`` (legacy ``.att`` layers) and ``verifier.sigstore`` (bundles) both build on this module.
"""

from __future__ import annotations

__all__ = ["is_utf8", "pae"]


def is_utf8(text: str) -> bool:
    """Whether ``text`` encodes as UTF-8 (JSON may carry lone surrogates such as ``"\\ud800"``)."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding: ``DSSEv1 <len> <type> <len> <body>`` (lengths in bytes).

    >>> pae("http://example.com/HelloWorld", b"hello world")
    b'DSSEv1 29 http://example.com/HelloWorld 11 hello world'
    """
    encoded = payload_type.encode()
    return b"DSSEv1 %d %b %d %b" % (len(encoded), encoded, len(payload), payload)
