"""Build the AdmissionReview ``response`` a validating webhook returns, and the texts it carries.

Rules (FORMATS.md §10): the response echoes the request's ``uid``; a validating webhook never sets ``patch``
or ``patchType``; a denial carries ``status.code`` 403 (codes below 400 would be raised to 400); the API server
shows ``admission webhook "<name>" denied the request: <status.message>``. Warnings travel to the client as
HTTP ``Warning: 299`` headers, which must be valid UTF-8 without control characters; the API server dedupes
identical texts and, past 4096 runes in all, cuts each to 256 runes and drops later ones. sealgate applies
those rules itself so that what it sends is what the user sees.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

from verifier.engine import MAX_DENIAL_LINES, cut_text, denial_line, safe_text
from verifier.engine import denial_message as webhook_denial_message

from ._review import ADMISSION_API_VERSION

__all__ = [
    "MAX_DENIAL_LINES",
    "MAX_MESSAGE_CHARS",
    "MAX_WARNING_CHARS",
    "MAX_WARNINGS_TOTAL_CHARS",
    "denial_line",
    "review_response",
    "safe_text",
    "webhook_denial_message",
]

_logger = logging.getLogger(__name__)

MAX_WARNING_CHARS = 256
MAX_WARNINGS_TOTAL_CHARS = 4096
MAX_MESSAGE_CHARS = 8192
# room kept under the total for the closing "sealgate: K more warning(s) not shown"
_TRAILER_RESERVE = 64
# A qualified-name part, as Kubernetes accepts for an annotation key (the API server prefixes the webhook name).
_ANNOTATION_KEY = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?")
_MAX_ANNOTATION_VALUE_CHARS = 1024


def _warnings(warnings: Sequence[str]) -> list[str]:
    """Deduped, made header-safe, each cut to 256 characters, at most 4096 in all (later ones dropped)."""
    out: list[str] = []
    seen: set[str] = set()
    total = 0
    dropped = 0
    for raw in warnings:
        text = cut_text(safe_text(raw).strip(), MAX_WARNING_CHARS)
        if not text or text in seen:
            continue
        seen.add(text)
        if dropped or total + len(text) > MAX_WARNINGS_TOTAL_CHARS - _TRAILER_RESERVE:
            dropped += 1
            continue
        out.append(text)
        total += len(text)
    if dropped:
        out.append(f"sealgate: {dropped} more warning(s) not shown")
        _logger.debug("dropped %d admission warnings over the size cap", dropped)
    return out


def _audit_annotations(annotations: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in annotations.items():
        if not _ANNOTATION_KEY.fullmatch(key):
            _logger.debug("dropped audit annotation with invalid key %r", key)
            continue
        out[key] = cut_text(safe_text(str(value)), _MAX_ANNOTATION_VALUE_CHARS)
    return out


def review_response(
    uid: str,
    *,
    allowed: bool,
    message: str | None = None,
    reason: str | None = None,
    warnings: Sequence[str] = (),
    audit_annotations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The whole AdmissionReview document answering the request ``uid`` (serialise it as JSON, HTTP 200).

    A denial carries ``status`` ``{code: 403, reason: reason or "Forbidden", message}``; an allowed response
    carries no status. ``patch``/``patchType`` are never set.
    """
    response: dict[str, Any] = {"uid": uid, "allowed": allowed}
    if not allowed:
        text = cut_text(safe_text(message or "denied by sealgate", keep_newlines=True), MAX_MESSAGE_CHARS)
        response["status"] = {"code": 403, "reason": safe_text(reason or "Forbidden"), "message": text}
    cleaned = _warnings(warnings)
    if cleaned:
        response["warnings"] = cleaned
    if audit_annotations:
        kept = _audit_annotations(audit_annotations)
        if kept:
            response["auditAnnotations"] = kept
    return {"apiVersion": ADMISSION_API_VERSION, "kind": "AdmissionReview", "response": response}
