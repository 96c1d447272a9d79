"""RFC 3161 signed timestamps against the trusted root's timestamp authorities.

A timestamp counts as a trusted time when its token verifies with some authority's chain (signing
certificate first, root last; certificates valid at the generation time), its imprint is the hash of the
signature bytes, and its generation time lies in the authority's closed ``validFor`` interval. Timestamps that
do not verify are not trusted times (and are reported at debug level); callers decide whether enough remain.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from rfc3161_client import VerificationError as Rfc3161VerificationError
from rfc3161_client import VerifierBuilder, decode_timestamp_response

from verifier.errors import TimestampInvalidError
from verifier.limits import DEFAULT_LIMITS
from verifier.sigstore._trust import TrustedRoot

__all__ = ["verify_timestamp", "verify_timestamps"]

_logger = logging.getLogger(__name__)


def verify_timestamp(raw: bytes, message: bytes, trusted_root: TrustedRoot) -> datetime:
    """The generation time of one DER ``TimeStampResp`` over ``message``; raises if it cannot be trusted."""
    try:
        response = decode_timestamp_response(raw)
    except (ValueError, Rfc3161VerificationError) as exc:
        raise TimestampInvalidError(f"RFC 3161 timestamp is malformed ({exc})") from None
    reasons: list[str] = []
    for authority in trusted_root.timestamp_authorities:
        chain = authority.chain
        builder = VerifierBuilder().tsa_certificate(chain[0]).add_root_certificate(chain[-1])
        for cert in chain[1:-1]:
            builder = builder.add_intermediate_certificate(cert)
        try:
            builder.build().verify_message(response, message)
        except (Rfc3161VerificationError, ValueError) as exc:
            reasons.append(f"does not verify with {authority.subject or authority.uri!r} ({exc})")
            continue
        gen_time = response.tst_info.gen_time
        if gen_time.tzinfo is None:
            gen_time = gen_time.replace(tzinfo=UTC)
        if not authority.valid_for.contains(gen_time):
            reasons.append(
                f"time {gen_time:%Y-%m-%dT%H:%M:%SZ} is outside {authority.subject!r} validity {authority.valid_for}"
            )
            continue
        return gen_time
    if not reasons:
        raise TimestampInvalidError(
            f"RFC 3161 timestamp cannot be checked: {trusted_root.source} has no timestamp authorities"
        )
    raise TimestampInvalidError(f"RFC 3161 timestamp {reasons[0]}")


def verify_timestamps(
    raws: Sequence[bytes], message: bytes, trusted_root: TrustedRoot, *, reasons: list[str] | None = None
) -> list[datetime]:
    """The trusted times among ``raws`` (at most ``max_timestamps``, no duplicates, else an error).

    Why each untrusted timestamp was rejected is appended to ``reasons`` when given.
    """
    if len(raws) > DEFAULT_LIMITS.max_timestamps:
        raise TimestampInvalidError(
            f"too many RFC 3161 timestamps ({len(raws)} > {DEFAULT_LIMITS.max_timestamps}, max_timestamps)"
        )
    if len(set(raws)) != len(raws):
        raise TimestampInvalidError("duplicate RFC 3161 timestamps")
    times = []
    for i, raw in enumerate(raws):
        try:
            times.append(verify_timestamp(raw, message, trusted_root))
        except TimestampInvalidError as exc:
            _logger.debug("timestamp %d not trusted: %s", i, exc)
            if reasons is not None:
                reasons.append(str(exc))
    return times
