"""Problem texts: field paths (``spec.authorities[0].key``) and pydantic errors as short lower-case reasons."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import ValidationError

__all__ = ["field_path", "one_line", "validation_problems", "where"]

_MESSAGES = {
    "extra_forbidden": "unknown field",
    "missing": "required field is missing",
}


def one_line(text: str) -> str:
    """``text`` with control characters escaped, so each problem stays on one line whatever a file contains."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def field_path(loc: Iterable[int | str]) -> str:
    """``("spec", "authorities", 0, "key")`` -> ``spec.authorities[0].key``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def where(source: str, number: int, kind: object = None, name: object = None) -> str:
    """``prod.yaml: document 2 (ImagePolicy "prod-signed")``; kind and name only when they are strings."""
    text = f"{source}: document {number}"
    if isinstance(kind, str) and kind:
        label = kind if len(kind) <= 40 else kind[:37] + "..."
        if isinstance(name, str) and name:
            shown = name if len(name) <= 80 else name[:77] + "..."
            label += f' "{shown}"'
        text += f" ({label})"
    return text


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def validation_problems(exc: ValidationError) -> list[tuple[str, str]]:
    """``(field path, reason)`` for each error pydantic found, in document order."""
    out: list[tuple[str, str]] = []
    for error in exc.errors(include_url=False):
        # pydantic adds the tagged-union/function names to loc for some errors; keep only real fields
        loc = [p for p in error["loc"] if isinstance(p, int) or not p.startswith(("function-", "tagged-union"))]
        path = field_path(loc) or "(document)"
        kind = error["type"]
        if kind in _MESSAGES:
            reason = _MESSAGES[kind]
        elif kind == "value_error" and "error" in error.get("ctx", {}):
            reason = str(error["ctx"]["error"])
        elif kind == "too_short" and error.get("ctx", {}).get("field_type") == "List":
            least = error["ctx"]["min_length"]
            reason = f"needs at least {least} item{'' if least == 1 else 's'}"
        else:
            reason = _lower_first(error["msg"])
        out.append((path, reason))
    return out
