"""Header blocks as Python's core metadata (``METADATA``, ``PKG-INFO``) writes them."""

from __future__ import annotations

__all__ = ["parse_headers"]


def parse_headers(text: str) -> list[tuple[str, str]]:
    """``Key: value`` lines up to the first blank line; continuation lines (leading space or tab) are joined
    with newlines. Lines that are neither are ignored."""
    fields: list[tuple[str, str]] = []
    for line in text.split("\n"):
        if not line.strip():
            if fields:
                break
            continue
        if line[0] in " \t":
            if fields:
                key, value = fields[-1]
                fields[-1] = (key, f"{value}\n{line.strip()}")
            continue
        key, sep, value = line.partition(":")
        if sep and key and " " not in key:
            fields.append((key, value.strip()))
    return fields
