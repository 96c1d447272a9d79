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


# cdxgen 12.8.4 and `sealgate sbom` on the same image (SOURCES.md)
CDXGEN = "cdxgen-12.8.4.cdx.json.gz"
SEALGATE = "sealgate.cdx.json.gz"


def _component(name: str, purl_name: str, purl_type: str):
    (found,) = [c for c in _read(name).components if c.purl is not None and (c.purl.type, c.purl.name) == (
        purl_type, purl_name)]  # fmt: skip
    return found


@pytest.mark.parametrize("name", [CDXGEN, SEALGATE])
def test_cdxgen_and_sealgate_sboms_are_read(name):
    test_every_peer_sbom_is_read(name)
    assert _read(name).timestamp == dt.datetime.fromisoformat(
        "2026-12-05T17:15:39+00:00" if name == CDXGEN else "2026-12-05T17:15:29.495830+00:00"
    )


def test_cdxgen_writes_the_epoch_twice_and_it_counts_once():
    """cdxgen writes bsdutils as pkg:deb/debian/bsdutils@1:2.38.1-5%2Bdeb12u3?...&epoch=1: the epoch in the
    version AND the qualifier. Putting the qualifier back in front would compare 1:1:2.38.1-5+deb12u3."""
    bsdutils = _component(CDXGEN, "bsdutils", "deb")
    assert bsdutils.purl.version == "1:2.38.1-5+deb12u3" and bsdutils.purl.qualifiers["epoch"] == "1"
    below = {"deny": [{"name": "util-linux", "purl": "pkg:deb/debian/bsdutils", "versions": "vers:deb/<1:2.38.2"}]}
    assert _denied(CDXGEN, below) == [
        'SBOM component pkg:deb/debian/bsdutils@1:2.38.1-5+deb12u3 is denied by rule "util-linux" (vers:deb/<1:2.38.2)'
    ]
    fixed = {"deny": [{"name": "util-linux", "purl": "pkg:deb/debian/bsdutils", "versions": "vers:deb/<1:2.38.1"}]}
    assert _denied(CDXGEN, fixed) == []  # 1:2.38.1-5+deb12u3 is above 1:2.38.1
    no_epoch = {"deny": [{"name": "util-linux", "purl": "pkg:deb/debian/bsdutils", "versions": "vers:deb/<3.0"}]}
    assert _denied(CDXGEN, no_epoch) == []  # epoch 1 is above every epoch-0 version


@pytest.mark.parametrize("name", [CDXGEN, SEALGATE])
def test_debian_tildes_order_before_the_release(name):
    ssl = {"deny": [{"name": "openssl", "purl": "pkg:deb/debian/libssl3", "versions": "vers:deb/<3.0.20-1"}]}
    assert _denied(name, ssl) == [
        'SBOM component pkg:deb/debian/libssl3@3.0.20-1~deb12u2 is denied by rule "openssl" (vers:deb/<3.0.20-1)'
    ]
    older = {"deny": [{"name": "openssl", "purl": "pkg:deb/debian/libssl3", "versions": "vers:deb/<3.0.20-1~deb12u2"}]}
    assert _denied(name, older) == []


@pytest.mark.parametrize("name", [CDXGEN, SEALGATE])
def test_maven_jar_matches_with_or_without_type_jar(name):
    """cdxgen writes pkg:maven/org.apache.commons/commons-lang3@3.12.0?type=jar, sealgate no qualifier: rules
    name type/namespace/name, so qualifiers never keep a rule from matching."""
    lang3 = _component(name, "commons-lang3", "maven")
    assert lang3.purl.qualifiers == ({"type": "jar"} if name == CDXGEN else {})
    rule = {"name": "lang3", "purl": "pkg:maven/org.apache.commons/commons-lang3", "versions": "vers:maven/<3.18.0"}
    assert _denied(name, {"deny": [rule]}) == [
        'SBOM component pkg:maven/org.apache.commons/commons-lang3@3.12.0 is denied by rule "lang3" '
        "(vers:maven/<3.18.0)"
    ]
    assert _denied(name, {"deny": [{**rule, "versions": "vers:maven/<3.12.0"}]}) == []
    assert len(_denied(name, {"deny": [{"name": "apache", "purl": "pkg:maven/org.apache.*/*"}]})) == 1
    assert _denied(name, {"deny": [{"name": "other", "purl": "pkg:maven/org.apache.logging.log4j/*"}]}) == []


@pytest.mark.parametrize("name", [CDXGEN, SEALGATE])
def test_go_stdlib_written_with_or_without_v(name):
    """cdxgen writes pkg:golang/stdlib@v1.19.8, sealgate @1.19.8."""
    rule = {"name": "go", "purl": "pkg:golang/stdlib", "versions": "vers:golang/<1.20"}
    assert len(_denied(name, {"deny": [rule]})) == 1
    assert _denied(name, {"deny": [{**rule, "versions": "vers:golang/<1.19.8"}]}) == []


def test_cdxgen_lists_what_a_later_layer_deleted():
    """cdxgen ignores whiteouts: ms@2.0.0 (debug/node_modules, deleted by the last layer) is listed; sealgate
    sbom applies them."""
    old_ms = {"deny": [{"name": "ms", "purl": "pkg:npm/ms", "versions": "vers:npm/<2.1.0"}]}
    assert _denied(CDXGEN, old_ms) == ['SBOM component pkg:npm/ms@2.0.0 is denied by rule "ms" (vers:npm/<2.1.0)']
    assert _denied(SEALGATE, old_ms) == []


def test_cdxgen_states_no_debian_licences_and_lists_files():
    """cdxgen gives Debian packages no licence and lists ~2,800 files as pkg:generic components without one:
    `licenses.unknown: deny` denies them all (licence rules judge every component)."""
    document = _read(CDXGEN)
    files = [c for c in document.components if c.purl is not None and c.purl.type == "generic"]
    assert len(files) > 2500 and all(c.licenses is None for c in files)
    assert _component(CDXGEN, "libc6", "deb").licenses is None
    findings = _denied(CDXGEN, {"licenses": {"allow": ["MIT"], "unknown": "deny"}})
    libc6 = "SBOM component pkg:deb/debian/libc6@2.36-9+deb12u14"
    assert f"{libc6} states no licence (licenses.unknown: deny)" in findings
    # one line per component as shown (type/namespace/name@version: files of one name in many paths are one)
    shown = {f"pkg:generic/{c.purl.namespace + '/' if c.purl.namespace else ''}{c.purl.name}" for c in files}
    assert sum("pkg:generic/" in m for m in findings) == len(shown) > 1500
    assert any("pkg:npm/@isaacs/string-locale-compare@1.1.0 licence 'ISC' is not allowed" in m for m in findings)


def test_sealgate_names_a_go_binary_without_a_version_and_it_is_a_finding():
    """sealgate sbom names shfmt's main package without a version (no module version in its build info): a
    versions rule cannot tell, so it is a finding of the rule's mode, never a silent pass."""
    rule = {"name": "shfmt", "purl": "pkg:golang/mvdan.cc/sh/v3/cmd/shfmt", "versions": "vers:golang/<3.7.0"}
    assert _denied(SEALGATE, {"deny": [rule]}) == [
        'SBOM component pkg:golang/mvdan.cc/sh/v3/cmd/shfmt states no version, so rule "shfmt" '
        "(vers:golang/<3.7.0) cannot rule it out"
    ]
    warned = compile_sbom_rules({"deny": [{**rule, "mode": "warn"}]}).evaluate(_read(SEALGATE), now=NOW)
    assert [f.mode for f in warned.findings] == ["warn"] and not warned.denied
    assert _denied(SEALGATE, {"deny": [{k: v for k, v in rule.items() if k != "versions"}]}) == [
        'SBOM component pkg:golang/mvdan.cc/sh/v3/cmd/shfmt is denied by rule "shfmt" (every version)'
    ]


@pytest.mark.parametrize("name", [CDXGEN, SEALGATE])
def test_pypi_names_match_by_pep_503(name):
    rule = {"name": "te", "purl": "pkg:pypi/Typing_Extensions", "versions": "vers:pypi/<=4.12.2"}
    assert _denied(name, {"deny": [rule]}) == [
        'SBOM component pkg:pypi/typing-extensions@4.12.2 is denied by rule "te" (vers:pypi/<=4.12.2)'
    ]


@pytest.mark.parametrize("name", [*FILES, "sealgate.cdx.json.gz"])
def test_the_distribution_component_is_no_package_for_licence_rules(name):
    """Every tool lists the distribution beside its packages (CycloneDX type operating-system, SPDX purpose
    OPERATING-SYSTEM), stating no licence: `unknown: deny` denied every SBOM for it."""
    distros = [c for c in _read(name).components if c.operating_system]
    assert [(c.name, c.purl) for c in distros] == ([] if name == "syft-1.18.1.spdx.json.gz" else [("debian", None)])
    findings = _denied(name, {"licenses": {"allow": ["MIT"], "unknown": "deny"}})
    assert findings and not any("component debian@" in f or "component debian " in f for f in findings)
