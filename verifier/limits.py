"""Every size, count and time limit sealgate enforces, in one frozen object with documented defaults.

Each fetch checks its cap *before* reading further (``Content-Length`` first, then while streaming), so a
hostile registry cannot make sealgate buffer more than the limit.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_LIMITS", "Limits"]

MiB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Limits:
    #: largest manifest or index accepted (distribution's own default cap is 4 MiB)
    max_manifest_bytes: int = 4 * MiB
    #: largest signature payload / attestation layer read (cosign caps attachments at 128 MiB; a simple
    #: signing payload is a few hundred bytes, so we are much stricter by default)
    max_payload_bytes: int = 4 * MiB
    #: largest generic blob read through ``get_blob`` when the caller does not say
    max_blob_bytes: int = 64 * MiB
    #: signature layers considered per image (cosign's own cap is 1000)
    max_signatures: int = 1000
    #: HTTP redirects followed for one request (blob storage redirects)
    max_redirects: int = 3
    #: seconds to establish a TCP/TLS connection
    connect_timeout: float = 5.0
    #: seconds to wait for bytes once connected
    read_timeout: float = 15.0
    #: retries of idempotent requests after 429/5xx or a connection error
    retries: int = 3
    #: first back-off step in seconds (doubles each retry)
    backoff_base: float = 0.2
    #: longest ``Retry-After`` honoured, in seconds; a longer one fails the request at once
    max_retry_after: float = 10.0
    #: pages followed when listing tags
    max_tag_pages: int = 100


DEFAULT_LIMITS = Limits()
