"""One renderer for decisions: the per-container lines the webhook and the CLI print, from one place.

A line names the field, the image and the policy, then the reason::

    spec.containers[1].image "reg/app:1.2": policy "prod": no signature verifies

Texts are made safe for an HTTP ``Warning`` header and a terminal (control characters replaced).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence

import orjson

from verifier.engine._decision import Decision, Outcome, PolicyResult

__all__ = [
    "MAX_DENIAL_LINES",
    "cut_text",
    "decision_lines",
    "denial_line",
    "denial_message",
    "safe_text",
]

MAX_DENIAL_LINES = 20
_MAX_QUOTED_CHARS = 300
_ELLIPSIS = "..."


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


def cut_text(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - len(_ELLIPSIS)] + _ELLIPSIS


def _quoted(text: str) -> str:
    """``text`` cut short and JSON-quoted (quotes, backslashes and C0 controls escaped, other controls replaced)."""
    cut = cut_text(text, _MAX_QUOTED_CHARS)
    if any("\ud800" <= ch <= "\udfff" for ch in cut):
        cut = "".join("?" if "\ud800" <= ch <= "\udfff" else ch for ch in cut)
    return safe_text(orjson.dumps(cut).decode())


def denial_line(field_path: str, image: str, policy: str | None, reason: str) -> str:
    """One line of a denial: ``spec.containers[1].image "reg/app:1.2": policy "prod": <reason>``."""
    head = f"{safe_text(field_path)} {_quoted(image)}"
    if policy is not None:
        head = f"{head}: policy {_quoted(policy)}"
    return f"{head}: {safe_text(reason)}"


def denial_message(lines: Sequence[str], *, max_lines: int = MAX_DENIAL_LINES) -> str:
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


#: lines one container may add to a denial or to the warnings (an SBOM may deny hundreds of components)
LINES_PER_CONTAINER = 10


def decision_lines(field_path: str, image: str, decision: Decision) -> tuple[list[str], list[str]]:
    """The denial lines and warnings of one container's ``decision``: one per failing policy (one per detail
    when a failure has several, e.g. the SBOM components a rule denies), and the warnings of passing policies
    (SBOM warn rules); at most LINES_PER_CONTAINER of each, the last saying how many more."""
    enforce = decision.failures("enforce")
    warn = decision.failures("warn")

    def lines(results: Sequence[PolicyResult], texts: Callable[[PolicyResult], Sequence[str]]) -> list[str]:
        return [denial_line(field_path, image, r.policy, text) for r in results for text in texts(r)]

    denials: list[str] = []
    warnings: list[str] = []
    if decision.outcome is Outcome.DENY:
        if enforce:
            denials += lines(enforce, PolicyResult.lines)
        else:
            denials.append(denial_line(field_path, image, None, decision.reason))
    elif decision.outcome is Outcome.WARN and not warn:
        warnings.append(denial_line(field_path, image, None, decision.reason))
    warnings += lines(warn, PolicyResult.lines)
    warnings += lines(decision.results, lambda r: r.warnings)
    return _bounded(denials, field_path, image), _bounded(warnings, field_path, image)


def _bounded(out: list[str], field_path: str, image: str) -> list[str]:
    if len(out) <= LINES_PER_CONTAINER:
        return out
    more = len(out) - LINES_PER_CONTAINER + 1
    return [*out[: LINES_PER_CONTAINER - 1], denial_line(field_path, image, None, f"and {more} more")]
