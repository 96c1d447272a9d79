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
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

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
MAX_DENIAL_LINES = 20
_MAX_QUOTED_CHARS = 300
_ELLIPSIS = "..."
# room kept under the total for the closing "sealgate: K more warning(s) not shown"
_TRAILER_RESERVE = 64
# A qualified-name part, as Kubernetes accepts for an annotation key (the API server prefixes the webhook name).
_ANNOTATION_KEY = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?")
_MAX_ANNOTATION_VALUE_CHARS = 1024


def safe_text(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` with control characters (Unicode Cc, as Go's ``unicode.IsControl``) and lone surrogates replaced.

    Tabs, carriage returns and newlines become spaces (newlines are kept when ``keep_newlines``); every other
    control character or surrogate becomes ``?``. The result is valid UTF-8 and fits an HTTP Warning header.
    """
    if text.isprintable() and not any("\ud800" <= ch <= "\udfff" for ch in text):
        return text
    out: list[str] = []
    for ch in text:
        category = unicodedata.category(ch)
        if category == "Cc":
            if ch == "\n" and keep_newlines:
                out.append(ch)
            else:
                out.append(" " if ch in "\t\r\n" else "?")
        elif category == "Cs":
            out.append("?")
        else:
            out.append(ch)
    return "".join(out)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - len(_ELLIPSIS)] + _ELLIPSIS


def _quoted(text: str) -> str:
    """``text`` cut short and JSON-quoted (quotes, backslashes and C0 controls escaped, other controls replaced)."""
    cut = _cut(text, _MAX_QUOTED_CHARS)
    if any("\ud800" <= ch <= "\udfff" for ch in cut):
        cut = "".join("?" if "\ud800" <= ch <= "\udfff" else ch for ch in cut)
    return safe_text(orjson.dumps(cut).decode())


def denial_line(field_path: str, image: str, policy: str | None, reason: str) -> str:
    """One line of a denial: ``spec.containers[1].image "reg/app:1.2": policy "prod": <reason>``."""
    head = f"{safe_text(field_path)} {_quoted(image)}"
    if policy is not None:
        head = f"{head}: policy {_quoted(policy)}"
    return f"{head}: {safe_text(reason)}"


def webhook_denial_message(lines: Sequence[str], *, max_lines: int = MAX_DENIAL_LINES) -> str:
    """The ``status.message`` of a denial made of ``lines`` (one per failing container and policy).

    One line is returned as it is. Several are listed one per line under a count, since the API server prints
    ``admission webhook "<name>" denied the request: <message>`` and kubectl shows it verbatim::

        2 verification failures:
        - spec.containers[0].image "a": ...
        - spec.initContainers[0].image "b": ...

    At most ``max_lines`` are listed, then ``- ... and K more``.
    """
    unique = list(dict.fromkeys(safe_text(line) for line in lines))
    if not unique:
        return "denied by sealgate"
    if len(unique) == 1:
        return unique[0]
    shown = unique[: max(max_lines, 1)]
    text = f"{len(unique)} verification failures:\n" + "\n".join(f"- {line}" for line in shown)
    if len(unique) > len(shown):
        text += f"\n- ... and {len(unique) - len(shown)} more"
    return text


def _warnings(warnings: Sequence[str]) -> list[str]:
    """Deduped, made header-safe, each cut to 256 characters, at most 4096 in all (later ones dropped)."""
    out: list[str] = []
    seen: set[str] = set()
    total = 0
    dropped = 0
    for raw in warnings:
        text = _cut(safe_text(raw).strip(), MAX_WARNING_CHARS)
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
        out[key] = _cut(safe_text(str(value)), _MAX_ANNOTATION_VALUE_CHARS)
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
        text = _cut(safe_text(message or "denied by sealgate", keep_newlines=True), MAX_MESSAGE_CHARS)
        response["status"] = {"code": 403, "reason": safe_text(reason or "Forbidden"), "message": text}
    cleaned = _warnings(warnings)
    if cleaned:
        response["warnings"] = cleaned
    if audit_annotations:
        kept = _audit_annotations(audit_annotations)
        if kept:
            response["auditAnnotations"] = kept
    return {"apiVersion": ADMISSION_API_VERSION, "kind": "AdmissionReview", "response": response}
