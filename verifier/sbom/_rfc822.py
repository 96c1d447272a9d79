"""Header blocks as dpkg, apk-free Debian control files and Python's core metadata write them."""

from __future__ import annotations

__all__ = ["paragraphs", "parse_headers"]


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


def paragraphs(text: str) -> list[dict[str, str]]:
    """Blank-line separated paragraphs of ``Key: value`` fields (Debian control format)."""
    out: list[dict[str, str]] = []
    current: dict[str, str] = {}
    last = ""
    for line in text.split("\n"):
        if not line.strip():
            if current:
                out.append(current)
                current, last = {}, ""
            continue
        if line[0] in " \t":
            if last:
                current[last] += "\n" + line.strip()
            continue
        key, sep, value = line.partition(":")
        if sep and key and " " not in key:
            last = key
            current[key] = value.strip()
    if current:
        out.append(current)
    return out
