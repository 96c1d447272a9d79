"""SPDX licence identifiers (the list cyclonedx-python-lib ships with its schemas) and a small validator of
SPDX licence expressions (``MIT OR Apache-2.0``, ``GPL-2.0-or-later WITH Classpath-exception-2.0``).

Kept here rather than taken from ``license_expression``, whose start-up (about 0.2 s building its index) would
be paid by every ``sealgate sbom`` run.
"""

from __future__ import annotations

import functools
import json
import re

from cyclonedx.schema._res import SPDX_JSON

__all__ = ["fixup_id", "is_expression", "is_supported_id"]

_TOKEN = re.compile(r"\s*(\(|\)|[A-Za-z0-9.+:-]+)")
_REF = re.compile(r"^(DocumentRef-[A-Za-z0-9.-]+:)?LicenseRef-[A-Za-z0-9.-]+$")
_OPERATORS = frozenset({"AND", "OR", "WITH"})


@functools.cache
def _ids() -> dict[str, str]:
    with open(SPDX_JSON, encoding="utf-8") as handle:
        return {value.lower(): value for value in json.load(handle)["enum"]}


def is_supported_id(value: str) -> bool:
    return _ids().get(value.lower()) == value


def fixup_id(value: str) -> str | None:
    """The SPDX id spelled as the list spells it, or ``None``."""
    return _ids().get(value.lower())


def _tokens(text: str) -> list[str] | None:
    out: list[str] = []
    at = 0
    while at < len(text):
        match = _TOKEN.match(text, at)
        if match is None:
            return None if text[at:].strip() else out
        out.append(match.group(1))
        at = match.end()
    return out


@functools.lru_cache(maxsize=4096)
def is_expression(text: str) -> bool:
    """Whether ``text`` is a valid SPDX licence expression over known ids (or ``LicenseRef-``s)."""
    tokens = _tokens(text)
    if not tokens:
        return False
    position = 0

    def atom(exception: bool = False) -> bool:
        nonlocal position
        if position >= len(tokens):
            return False
        word = tokens[position]
        position += 1
        if word in _OPERATORS or word in ("(", ")"):
            return False
        if exception:  # the schema's list mixes licences and exceptions; exceptions are named so
            lower = word.lower()
            return is_supported_id(word) and ("exception" in lower or lower.endswith("-note"))
        bare = word[:-1] if word.endswith("+") else word
        return is_supported_id(bare) or _REF.match(bare) is not None

    def term() -> bool:
        nonlocal position
        if position < len(tokens) and tokens[position] == "(":
            position += 1
            if not expression() or position >= len(tokens) or tokens[position] != ")":
                return False
            position += 1
            return True
        if not atom():
            return False
        if position < len(tokens) and tokens[position] == "WITH":
            position += 1
            return atom(exception=True)
        return True

    def expression() -> bool:
        nonlocal position
        if not term():
            return False
        while position < len(tokens) and tokens[position] in ("AND", "OR"):
            position += 1
            if not term():
                return False
        return True

    return expression() and position == len(tokens)
