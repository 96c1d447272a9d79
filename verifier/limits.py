"""Every size, count and time limit sealgate enforces, in one frozen object with documented defaults.

Each fetch checks its cap *before* reading further (``Content-Length`` first, then while streaming; a count
before the first element is fetched), so a hostile registry or API client cannot make sealgate buffer more
than the limit. A limit that is hit is a :class:`~verifier.errors.LimitExceededError` (or its
``BlobTooLargeError``) whose message names the field below, so a denial says which limit stopped it::

    >>> from verifier.limits import DEFAULT_LIMITS, Limits
    >>> strict = Limits(max_manifest_bytes=1024 * 1024, retries=1)
    >>> DEFAULT_LIMITS.max_redirects
    3
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from verifier.errors import ConfigError

__all__ = ["DEFAULT_LIMITS", "Limits"]

KiB = 1024
MiB = 1024 * KiB


@dataclass(frozen=True, slots=True)
class Limits:
    # --- admission requests (the webhook) ----------------------------------------------------------------
    #: largest AdmissionReview body read (the API server stores objects of at most 3 MiB)
    max_request_bytes: int = 3 * MiB
    #: largest body read at all: a review above ``max_request_bytes`` but within this is read only for its uid and
    #: answered with a denial naming the limit (an AdmissionReview, not an HTTP error the failurePolicy decides)
    max_oversized_request_bytes: int = 16 * MiB
    #: images verified for one admission request; more is a denial naming this limit
    max_images_per_request: int = 64

    # --- what a registry may send ------------------------------------------------------------------------
    #: largest manifest or index accepted (distribution's own default cap is 4 MiB)
    max_manifest_bytes: int = 4 * MiB
    #: layers of one image manifest, or entries of one index (cosign caps signature manifests at 1000)
    max_layers: int = 1000
    #: largest signature payload / attestation layer read (cosign caps attachments at 128 MiB; a simple
    #: signing payload is a few hundred bytes, so we are much stricter by default)
    max_payload_bytes: int = 4 * MiB
    #: largest sigstore bundle (a bundle with a certificate and a Rekor entry is about 10 KiB)
    max_bundle_bytes: int = 1 * MiB
    #: largest attestation read (a legacy ``.att`` DSSE layer, or a bundle holding an attestation): its predicate
    #: may be an SBOM - base64 in DSSE, a 5,000-component CycloneDX SBOM is about 5 MiB
    max_attestation_bytes: int = 16 * MiB
    #: largest SBOM document read (CycloneDX/SPDX JSON of a big image is tens of MiB)
    max_sbom_bytes: int = 32 * MiB
    #: components (CycloneDX, nested ones included) or packages (SPDX) one SBOM may list for SBOM rules
    max_sbom_components: int = 200_000
    #: how deep CycloneDX components may nest
    max_sbom_depth: int = 32
    #: longest purl or licence expression of one SBOM component (a longer one makes the SBOM invalid)
    max_sbom_field_chars: int = 4096
    #: characters of the distinct licence expressions of one SBOM (those of the real 130-package test image total
    #: 7-9 KiB); parsing costs 1-4 us a character, so this bounds licence rules on a hostile SBOM to about 1 s
    max_sbom_licence_chars: int = 256 * KiB
    #: largest generic blob read through ``get_blob`` when the caller does not say
    max_blob_bytes: int = 64 * MiB
    #: signature layers considered per image (cosign's own cap is 1000)
    max_signatures: int = 1000
    #: bytes one verification of one image may download in all (signature manifests, referrers, payloads,
    #: bundles, attestations; each distinct blob is fetched once): more is a DOWNLOAD_BUDGET_EXCEEDED denial
    max_verification_bytes: int = 32 * MiB
    #: manifests listed by one referrers answer (signatures, attestations, SBOMs ... of one image)
    max_referrers: int = 128
    #: HTTP redirects followed for one request (blob storage redirects)
    max_redirects: int = 3

    # --- documents sealgate parses (from a registry, a file or standard input) ---------------------------
    #: transparency-log entries in one Sigstore bundle
    max_tlog_entries: int = 32
    #: RFC 3161 timestamps in one Sigstore bundle (sigstore-python's cap too)
    max_timestamps: int = 32
    #: signatures in one DSSE envelope (cosign writes one), legacy ``.att`` layer or bundle
    max_envelope_signatures: int = 32
    #: the Rekor bundle annotation of a legacy keyless ``.sig`` layer (a SET and an entry: a few KiB)
    max_rekor_bundle_bytes: int = 1 * MiB
    #: a ``trusted_root.json`` file (the public-good root is ~7 KiB, GitHub's JSON Lines ~40 KiB)
    max_trust_root_bytes: int = 4 * MiB
    #: a PEM key file
    max_key_file_bytes: int = 64 * KiB
    #: a password read from standard input
    max_password_bytes: int = 64 * KiB
    #: a policy or settings file
    max_policy_file_bytes: int = 1 * MiB
    #: YAML values one policy document may expand to (alias bombs stop here)
    max_policy_nodes: int = 100_000
    #: how deeply a policy document's YAML may nest (PyYAML composes recursively; checked, not left to the stack)
    max_policy_depth: int = 64
    #: a manifest file ``sealgate audit --from-file`` reads
    max_audit_file_bytes: int = 256 * MiB

    # --- SBOM generation (``sealgate sbom``: layers read from a registry, an archive or a directory) -----
    #: bytes of all layers of one image once decompressed (what a hostile image can make sealgate read)
    max_image_bytes: int = 16 * 1024 * MiB
    #: files (tar entries) in all layers of one image
    max_image_files: int = 2_000_000
    #: largest single file read into memory for a cataloger (a package database, a Go binary, a jar)
    max_file_read_bytes: int = 256 * MiB
    #: largest ratio of decompressed to compressed bytes of a layer (a gzip/zstd bomb), checked once a layer
    #: has given more than ``decompression_slack`` bytes
    max_decompression_ratio: int = 250
    #: decompressed bytes a layer may give before the ratio is checked
    decompression_slack: int = 64 * MiB
    #: depth of archives nested in archives read (a jar in a war in an ear is depth 3)
    max_archive_depth: int = 4
    #: entries of one jar/war/ear (zip) read
    max_archive_entries: int = 100_000

    # --- time --------------------------------------------------------------------------------------------
    #: seconds to establish a TCP/TLS connection
    connect_timeout: float = 5.0
    #: seconds to wait for bytes once connected
    read_timeout: float = 15.0
    #: retries of idempotent requests after 429/5xx or a connection error (never past the request deadline)
    retries: int = 3
    #: first back-off step in seconds (doubles each retry)
    backoff_base: float = 0.2
    #: longest ``Retry-After`` honoured, in seconds; a longer one (or one past the deadline) fails at once
    max_retry_after: float = 10.0

    # --- registry resilience -----------------------------------------------------------------------------
    #: HTTP requests in flight to one registry host at once (others wait, within their deadline)
    max_requests_per_host: int = 32
    #: consecutive failed requests (unavailable after retries, or past the deadline) that open a
    #: registry's circuit breaker: requests then fail at once for ``breaker_cooldown`` seconds
    breaker_failures: int = 5
    #: seconds an open breaker fails fast before letting one probe request through (half-open)
    breaker_cooldown: float = 0.5

    # --- the Kubernetes API (sealgate audit, namespace labels) ---------------------------------------------
    #: objects asked for per list page (``limit``); pages are followed with ``continue``
    kube_page_size: int = 500
    #: largest API answer read (one list page of 500 pods is a few MiB)
    max_kube_page_bytes: int = 64 * MiB

    # --- memory ------------------------------------------------------------------------------------------
    #: bearer tokens kept (one per registry host and repository scope), least recently used evicted
    max_cached_tokens: int = 1024
    #: host name resolutions kept for the SSRF guard (redirect and token-realm hosts)
    max_cached_hosts: int = 256
    #: parsed trusted roots kept (keyed by the SHA-256 of the file), oldest evicted
    max_cached_trust_roots: int = 64

    def __post_init__(self) -> None:
        for spec in fields(self):
            value = getattr(self, spec.name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"limit {spec.name} must be a number, not {type(value).__name__}")
            if not math.isfinite(value):
                raise ConfigError(f"limit {spec.name} must be finite, not {value}")
            may_be_zero = spec.name in _MAY_BE_ZERO
            if value < 0 or (value == 0 and not may_be_zero):
                raise ConfigError(f"limit {spec.name} must be {'>= 0' if may_be_zero else '> 0'}, not {value}")


#: limits where 0 is meaningful: no retries, no redirects, no back-off, no Retry-After, no cool-down
_MAY_BE_ZERO = frozenset({"retries", "max_redirects", "backoff_base", "max_retry_after", "breaker_cooldown"})

DEFAULT_LIMITS = Limits()
