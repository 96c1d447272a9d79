"""SBOM rules on SBOMs written by the real syft and Trivy (tests/assets/sboms/SOURCES.md) for one image."""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path

import pytest

from verifier.sbomrules import compile_sbom_rules, read_sbom

ASSETS = Path(__file__).resolve().parents[2] / "assets" / "sboms"
FILES = ["syft-1.18.1.cdx.json", "syft-1.18.1.spdx.json.gz", "trivy-0.76.0.cdx.json", "trivy-0.76.0.spdx.json"]
NOW = dt.datetime(2026, 12, 5, tzinfo=dt.UTC)


def _read(name: str):
    data = (ASSETS / name).read_bytes()
    return read_sbom(gzip.decompress(data) if name.endswith(".gz") else data)


def _denied(name: str, rules: dict) -> list[str]:
    return [f.message for f in compile_sbom_rules(rules).evaluate(_read(name), now=NOW).findings]


@pytest.mark.parametrize("name", FILES)
def test_every_peer_sbom_is_read(name):
    document = _read(name)
    debs = {c.purl.name for c in document.components if c.purl is not None and c.purl.type == "deb"}
    assert len(debs) > 100 and {"libc6", "zlib1g", "dpkg"} <= debs
    assert document.format == ("spdx" if "spdx" in name else "cyclonedx")


@pytest.mark.parametrize("name", FILES)
def test_debian_epochs_count_however_the_tool_writes_them(name):
    """zlib1g is 1:1.2.13.dfsg-1: syft keeps the epoch in the version, Trivy in a qualifier."""
    below = {"deny": [{"name": "old-zlib", "purl": "pkg:deb/debian/zlib1g", "versions": "vers:deb/<1:1.2.14"}]}
    (line,) = _denied(name, below)
    assert line == (
        'SBOM component pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1 is denied by rule "old-zlib" (vers:deb/<1:1.2.14)'
    )
    # without the epoch, 1.2.13 would be below 1.3: with it (1: > 0:) nothing is denied
    assert _denied(name, {"deny": [{"name": "r", "purl": "pkg:deb/debian/zlib1g", "versions": "vers:deb/<1.3"}]}) == []


@pytest.mark.parametrize("name", FILES)
def test_licence_expressions_of_peers(name):
    """libc6 states GPL-2.0-only AND LGPL-2.1-only (each tool in its own spelling)."""
    only_gpl = {"licenses": {"allow": ["GPL-2.0-only"]}}
    assert any("pkg:deb/debian/libc6@" in m and "is not allowed" in m for m in _denied(name, only_gpl))
    both = {"licenses": {"allow": ["GPL-2.0-only", "LGPL-2.1-only"]}}
    assert not any("pkg:deb/debian/libc6@" in m for m in _denied(name, both))


def test_syft_go_subpaths_and_jars():
    go = {"deny": [{"name": "sh", "purl": "pkg:golang/mvdan.cc/sh/v3", "versions": "vers:golang/<3.7.0"}]}
    assert _denied("syft-1.18.1.cdx.json", go) == [
        'SBOM component pkg:golang/mvdan.cc/sh/v3@v3.6.0 is denied by rule "sh" (vers:golang/<3.7.0)'
    ]
    lang3 = {"deny": [{"name": "lang3", "purl": "pkg:maven/org.apache.commons/commons-lang3",
                       "versions": "vers:maven/<3.18.0"}]}  # fmt: skip
    assert len(_denied("syft-1.18.1.cdx.json", lang3)) == 1
    assert _denied("trivy-0.76.0.cdx.json", lang3) == []  # Trivy skips jars offline (no Java DB)
