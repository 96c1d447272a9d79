"""One line saying what an SBOM holds, for the CLI's stderr."""

from __future__ import annotations

from collections import Counter

from ._model import Sbom

__all__ = ["summary"]


def summary(sbom: Sbom) -> str:
    """``"123 packages (deb 100, npm 3, pypi 20) in NAME@DIGEST linux/amd64, debian 12"``."""
    kinds = Counter(p.purl[4 : p.purl.index("/")] for p in sbom.packages)
    per = ", ".join(f"{kind} {count}" for kind, count in sorted(kinds.items()))
    image = sbom.image
    where = f"{image.name}@{image.digest}" if image.digest else image.name
    parts = [f"{len(sbom.packages)} packages" + (f" ({per})" if per else ""), f"in {where}"]
    if image.platform:
        parts.append(image.platform)
    line = " ".join(parts)
    if sbom.distro is not None:
        line += f", {sbom.distro.pretty_name}"
    return line
