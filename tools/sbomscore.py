"""Score a CycloneDX JSON SBOM (from any tool) against the ground truth of :mod:`tools.sbomimages`.

    scores = score(truth, json.loads(sbom_text))    # {"deb": Score(recall=1.0, precision=1.0, ...), ...}

Components are matched by identity: purl type, namespace, name and version (pypi names normalised, npm scope
decoded, Go's ``stdlib`` version with or without ``go``); qualifiers are ignored so that tools differing only in
``arch``/``distro`` spelling are compared on what they found. Exact purls are checked by the tests, not here.
Components nested under others (cdxgen, Trivy) are flattened; those without a purl are not counted.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from packageurl import PackageURL

__all__ = ["ECOSYSTEMS", "Score", "components", "identity", "score"]

ECOSYSTEMS = ("deb", "pypi", "npm", "golang", "maven")

Identity = tuple[str, str, str, str]


@dataclass(frozen=True)
class Score:
    expected: int
    found: int
    missing: tuple[str, ...]
    extra: tuple[str, ...]

    @property
    def recall(self) -> float:
        return 1.0 if self.expected == 0 else (self.expected - len(self.missing)) / self.expected

    @property
    def precision(self) -> float:
        return 1.0 if self.found == 0 else (self.found - len(self.extra)) / self.found


def identity(purl: str) -> Identity | None:
    try:
        parsed = PackageURL.from_string(purl)
    except ValueError:
        return None
    name, namespace, version = parsed.name, parsed.namespace or "", parsed.version or ""
    if parsed.type == "pypi":
        name = re.sub(r"[-_.]+", "-", name).lower()
    epoch = (parsed.qualifiers or {}).get("epoch") if isinstance(parsed.qualifiers, dict) else None
    if parsed.type == "deb" and epoch and ":" not in version:  # Trivy's ?epoch=1 for 1:VERSION
        version = f"{epoch}:{version}"
    if parsed.type == "golang":
        if name == "stdlib":
            version = version.removeprefix("go").removeprefix("v")
        name, namespace = f"{namespace}/{name}".strip("/"), ""
    return parsed.type, namespace, name, version


def components(doc: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Every component, nested ones included."""
    stack: list[Mapping[str, Any]] = list(doc.get("components") or [])
    while stack:
        item = stack.pop()
        yield item
        stack.extend(item.get("components") or [])


def score(truth: Mapping[str, Sequence[Mapping[str, str]]], doc: Mapping[str, Any]) -> dict[str, Score]:
    found: dict[str, set[Identity]] = {eco: set() for eco in ECOSYSTEMS}
    for item in components(doc):
        key = identity(str(item.get("purl") or ""))
        if key is not None and key[0] in found:
            found[key[0]].add(key)
    result = {}
    for eco in ECOSYSTEMS:
        want = {k for k in (identity(c["purl"]) for c in truth.get(eco, ())) if k is not None}
        result[eco] = Score(
            expected=len(want),
            found=len(found[eco]),
            missing=tuple(sorted("/".join(k[1:]) for k in want - found[eco])),
            extra=tuple(sorted("/".join(k[1:]) for k in found[eco] - want)),
        )
    return result
