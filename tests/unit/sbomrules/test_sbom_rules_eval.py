"""SBOM rules on SBOM documents: ecosystem version order, licence expressions, require, maxAge, hostile input."""

from __future__ import annotations

import datetime as dt
import json
import re
import time

import pytest

from verifier.limits import Limits
from verifier.sbomrules import SbomInvalidError, compile_sbom_rules, read_sbom

NOW = dt.datetime(2026, 12, 5, tzinfo=dt.UTC)


def _bom(*components: dict, timestamp: str | None = "2026-12-01T00:00:00Z") -> dict:
    doc: dict = {"bomFormat": "CycloneDX", "specVersion": "1.6", "components": list(components)}
    if timestamp:
        doc["metadata"] = {"timestamp": timestamp}
    return doc


def _c(purl: str, licence: str | None = "MIT") -> dict:
    name_version = purl.split("/")[-1].split("?")[0]
    name, _, version = name_version.partition("@")
    out: dict = {"name": name, "version": version, "purl": purl}
    if licence:
        out["licenses"] = [{"expression": licence}]
    return out


def _messages(rules: dict, *components: dict, **bom) -> list[str]:
    verdict = compile_sbom_rules(rules).evaluate(read_sbom(_bom(*components, **bom)), now=NOW)
    return [f"{f.mode}: {f.message}" for f in verdict.findings]


def _deny(purl: str, versions: str | None, mode: str = "enforce") -> dict:
    rule = {"name": "r", "purl": purl, "mode": mode}
    if versions:
        rule["versions"] = versions
    return {"deny": [rule]}


@pytest.mark.parametrize(
    ("rule_purl", "versions", "component", "denied"),
    [
        ("pkg:maven/org.apache.logging.log4j/log4j-core", "vers:maven/<2.17.1",
         "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1", True),
        ("pkg:maven/org.apache.logging.log4j/log4j-core", "vers:maven/<2.17.1",
         "pkg:maven/org.apache.logging.log4j/log4j-core@2.17.1", False),
        # Debian: a tilde sorts before anything, an epoch outranks the rest
        ("pkg:deb/debian/openssl", "vers:deb/<3.0.13-1~deb12u1", "pkg:deb/debian/openssl@3.0.13-1~deb12u0", True),
        ("pkg:deb/debian/openssl", "vers:deb/<3.0.13-1~deb12u1", "pkg:deb/debian/openssl@3.0.13-1", False),
        ("pkg:deb/debian/openssl", "vers:deb/<3.0.13-1~deb12u1", "pkg:deb/debian/openssl@1:1.0.0-1", False),
        # PEP 440: a release candidate is before the release; names normalise
        ("pkg:pypi/pyyaml", "vers:pypi/<6.0", "pkg:pypi/PyYAML@6.0rc1", True),
        ("pkg:pypi/my-lib", "vers:pypi/<2", "pkg:pypi/My_Lib@1.9", True),
        # semver: 1.10.0 is after 1.9.0 (not string order)
        ("pkg:npm/lodash", "vers:npm/<1.9.0", "pkg:npm/lodash@1.10.0", False),
        ("pkg:npm/%40babel/core", None, "pkg:npm/%40babel/core@7.0.0", True),
        ("pkg:npm/*/left-pad", None, "pkg:npm/acme/left-pad@1.0.0", True),
        ("pkg:golang/github.com/gin-gonic/*", "vers:golang/<1.9.1", "pkg:golang/github.com/gin-gonic/gin@v1.9.0", True),
    ],
)  # fmt: skip
def test_deny_rules_compare_versions_by_ecosystem(rule_purl, versions, component, denied):
    found = _messages(_deny(rule_purl, versions), _c(component))
    assert bool(found) is denied, found


def test_the_denial_names_component_rule_and_range_and_warn_rules_warn():
    rules = {"deny": [
        {"name": "log4shell", "purl": "pkg:maven/org.apache.logging.log4j/log4j-core",
         "versions": "vers:maven/<2.17.1"},
        {"name": "old-openssl", "purl": "pkg:deb/debian/openssl", "versions": "vers:deb/<3.0.13-1~deb12u1",
         "mode": "warn"},
    ]}  # fmt: skip
    found = _messages(
        rules,
        _c("pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"),
        _c("pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64&distro=debian-12"),
    )
    assert found == [
        'enforce: SBOM component pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1 is denied by rule "log4shell" '
        "(vers:maven/<2.17.1)",
        'warn: SBOM component pkg:deb/debian/openssl@3.0.11-1~deb12u2 is denied by rule "old-openssl" '
        "(vers:deb/<3.0.13-1~deb12u1)",
    ]


def test_a_version_that_cannot_be_compared_is_a_finding_not_a_pass():
    (found,) = _messages(_deny("pkg:maven/g/a", "vers:maven/<2"), {"name": "a", "purl": "pkg:maven/g/a"})
    assert found == (
        'enforce: SBOM component pkg:maven/g/a states no version, so rule "r" (vers:maven/<2) cannot rule it out'
    )
    rules = {"deny": [{"name": "p", "purl": "pkg:pypi/a", "versions": "vers:pypi/<2", "mode": "warn"}]}
    (found,) = _messages(rules, _c("pkg:pypi/a@not%20a%20version"))
    assert found == (
        "warn: SBOM component pkg:pypi/a@not a version: version 'not a version' cannot be compared by "
        'rule "p" (vers:pypi/<2)'
    )


@pytest.mark.parametrize(
    ("expression", "allowed"),
    [
        ("MIT", True),
        ("MIT OR GPL-3.0-only", True),
        ("MIT AND GPL-3.0-only", False),
        ("(MIT OR GPL-3.0-only) AND Apache-2.0", True),
        ("GPL-3.0-only", False),
        ("Apache-2.0 WITH LLVM-exception", True),  # an exception only adds permissions to an allowed licence
        ("GPL-2.0-only WITH Classpath-exception-2.0", False),
        ("not a licence ((", False),
    ],
)
def test_licence_allow_list_evaluates_expressions(expression, allowed):
    rules = {"licenses": {"allow": ["MIT", "Apache-2.0"]}}
    found = _messages(rules, _c("pkg:npm/x@1.0.0", expression))
    assert (not found) is allowed, found


@pytest.mark.parametrize(
    ("expression", "allowed"),
    [("MIT", True), ("MIT OR GPL-3.0-only", True), ("GPL-3.0-only", False), ("MIT AND GPL-3.0-only", False),
     ("GPL-3.0-only WITH GCC-exception-3.1", False)],
)  # fmt: skip
def test_licence_deny_list_is_the_mirror(expression, allowed):
    found = _messages({"licenses": {"deny": ["GPL-3.0-only"]}}, _c("pkg:npm/x@1.0.0", expression))
    assert (not found) is allowed, found


@pytest.mark.parametrize(("unknown", "expected"), [("allow", []), ("warn", ["warn"]), ("deny", ["enforce"])])
def test_components_stating_no_licence(unknown, expected):
    found = _messages({"licenses": {"allow": ["MIT"], "unknown": unknown}}, _c("pkg:npm/x@1.0.0", None))
    assert [f.split(":")[0] for f in found] == expected


def test_require_and_max_age():
    rules = {"require": [{"name": "base", "purl": "pkg:deb/debian/base-files"}], "maxAge": "24h"}
    found = _messages(rules, _c("pkg:npm/x@1.0.0"))
    assert any('no component required by rule "base"' in f for f in found)
    assert any("older than maxAge 24h" in f for f in found)
    assert _messages(rules, _c("pkg:deb/debian/base-files@12.4"), timestamp="2026-12-04T12:00:00Z") == []


def test_max_age_falls_back_to_the_signed_time_and_fails_closed_without_one():
    rules = compile_sbom_rules({"maxAge": "24h"})
    untimed = read_sbom(_bom(_c("pkg:npm/x@1.0.0"), timestamp=None))
    signed = NOW - dt.timedelta(hours=30)
    assert rules.evaluate(untimed, now=NOW, signed_at=NOW - dt.timedelta(hours=2)).findings == ()
    (late,) = rules.evaluate(untimed, now=NOW, signed_at=signed).findings
    assert (late.rule, late.mode) == ("maxAge", "enforce")
    assert late.message == "SBOM states no time; it was signed 30h ago, longer than maxAge 24h"
    (unknown,) = rules.evaluate(untimed, now=NOW).findings
    assert unknown.mode == "enforce" and "its age is unknown: denied by maxAge 24h" in unknown.message
    # the SBOM's own time comes first: written 4 days ago, signed just now
    timed = read_sbom(_bom(_c("pkg:npm/x@1.0.0")))
    (old,) = rules.evaluate(timed, now=NOW, signed_at=NOW).findings
    assert old.message == "SBOM is 96h old, older than maxAge 24h"


def test_spdx_packages_are_read_with_purls_and_licences():
    doc = {
        "spdxVersion": "SPDX-2.3",
        "creationInfo": {"created": "2026-12-01T00:00:00Z"},
        "packages": [
            {"name": "log4j-core", "versionInfo": "2.14.1", "licenseConcluded": "NOASSERTION",
             "licenseDeclared": "Apache-2.0",
             "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
                               "referenceLocator": "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"}]},
        ],
    }  # fmt: skip
    sbom = read_sbom(json.dumps(doc))
    assert sbom.format == "spdx" and sbom.components[0].licenses == "Apache-2.0"
    rules = compile_sbom_rules(_deny("pkg:maven/org.apache.logging.log4j/log4j-core", "vers:maven/<2.17.1"))
    assert rules.evaluate(sbom, now=NOW).denied


def test_nested_cyclonedx_components_are_read():
    inner = _c("pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1")
    outer = _c("pkg:maven/com.acme/app@1.0") | {"components": [inner]}
    assert _messages(_deny("pkg:maven/org.apache.logging.log4j/log4j-core", None), outer)


@pytest.mark.parametrize(
    ("rules", "path"),
    [
        (_deny("pkg:maven/g/a", "vers:maven/<<<"), "sbom.deny[0].versions"),
        (_deny("pkg:nonsense/g/a", None), "sbom.deny[0].purl"),
        (_deny("pkg:maven/g/a", "vers:npm/<1"), "sbom.deny[0].versions"),
        (_deny("pkg:maven/g/a@1.0", None), "sbom.deny[0].purl"),
        ({"licenses": {"allow": ["MIT OR", "Apache-2.0"]}}, "sbom.licenses.allow[0]"),
        ({"licenses": {"allow": ["Not-A-Licence"]}}, "sbom.licenses.allow[0]"),
        ({"licenses": {"allow": ["()"]}}, "sbom.licenses.allow[0]"),  # license-expression: IndexError once
        ({"licenses": {"allow": ["MIT"], "deny": ["GPL-3.0-only"]}}, "sbom.licenses"),
        ({"maxAge": "30 days"}, "sbom.maxAge"),
        ({"maxAge": "99999999999999h"}, "sbom.maxAge"),  # past a timedelta: an OverflowError once
        ({"maxAge": "9" * 400 + "s"}, "sbom.maxAge"),  # past a float
        ({"deny": [{"name": "a", "purl": "pkg:npm/a"}, {"name": "a", "purl": "pkg:npm/b"}]}, "sbom.deny[1].name"),
    ],
)
def test_bad_rules_are_refused_with_the_field_path(rules, path):
    with pytest.raises(ValueError, match="^" + re.escape(path)):
        compile_sbom_rules(rules)


@pytest.mark.parametrize(
    "predicate",
    [
        b"\xff\xfe not utf-8",
        b"[" * 100_000 + b"]" * 100_000,
        {"bomFormat": "CycloneDX", "components": "nope"},
        {"bomFormat": "CycloneDX", "components": [{"name": "x", "purl": "pkg:%%%"}]},
        {"something": "else"},
    ],
)
def test_hostile_sboms_fail_with_a_reason(predicate):
    with pytest.raises(SbomInvalidError):
        read_sbom(predicate)


def test_deep_nesting_and_too_many_components_are_bounded():
    deep: dict = {"name": "leaf"}
    for _ in range(200):
        deep = {"name": "n", "components": [deep]}
    with pytest.raises(SbomInvalidError, match="deeper than"):
        read_sbom(_bom(deep))
    many = _bom(*({"name": f"c{i}"} for i in range(1001)))
    with pytest.raises(SbomInvalidError, match="more than 1000 components"):
        read_sbom(many, limits=Limits(max_sbom_components=1000))


def _expression(i: int) -> str:
    """A distinct ~4,000-character SPDX expression: what a hostile SBOM would state to make parsing costly."""
    return " AND ".join(f"(MIT OR LicenseRef-x{i}-{j})" for j in range(130))


def test_distinct_licence_expressions_are_bounded_in_total_and_repeats_count_once():
    limits = Limits(max_sbom_licence_chars=64 * 1024)
    hostile = _bom(*(_c(f"pkg:npm/x{i}@1.0.0", _expression(i)) for i in range(20)))  # ~80,000 distinct chars
    with pytest.raises(SbomInvalidError, match=r"total more than 65536 characters \(max_sbom_licence_chars\)"):
        read_sbom(hostile, limits=limits)
    repeated = read_sbom(_bom(*(_c(f"pkg:npm/x{i}@1.0.0", _expression(0)) for i in range(500))), limits=limits)
    rules = compile_sbom_rules({"licenses": {"allow": ["MIT"]}})
    start = time.perf_counter()
    assert rules.evaluate(repeated, now=NOW).findings == ()  # MIT OR ... every time: allowed
    elapsed = time.perf_counter() - start
    assert elapsed < 1.0, elapsed  # one parse of the expression, not 500 (about 7 s)


def test_five_thousand_components_against_a_hundred_rules_is_fast():
    rules = compile_sbom_rules(
        {"deny": [{"name": f"r{i}", "purl": f"pkg:npm/dep-{i * 50}", "versions": "vers:npm/<1.0.40"}
                  for i in range(100)],
         "licenses": {"allow": ["MIT", "Apache-2.0"]}}
    )  # fmt: skip
    sbom = read_sbom(_bom(*(_c(f"pkg:npm/dep-{i}@1.0.{i % 80}") for i in range(5000))))
    start = time.perf_counter()
    verdict = rules.evaluate(sbom, now=NOW)
    elapsed = time.perf_counter() - start
    assert len(verdict.findings) == sum(1 for i in range(0, 5000, 50) if i % 80 < 40)
    assert elapsed < 1.0, elapsed  # a sanity bound on a shared machine; benchmarks/ measures it properly


def test_an_sbom_time_at_the_end_of_time_is_denied_and_its_bound_saturates():
    rules = compile_sbom_rules({"maxAge": "8766000h"})  # a millennium: its end is past the year 9999 too
    now = dt.datetime(2026, 12, 5, tzinfo=dt.UTC)
    for stamp in ("9999-12-31T23:59:59Z", "9999-12-31T23:59:59-14:00"):
        doc = read_sbom({"bomFormat": "CycloneDX", "metadata": {"timestamp": stamp}, "components": []})
        verdict = rules.evaluate(doc, now=now)
        assert verdict.denied and "a time in the future" in verdict.findings[0].message
        assert verdict.fresh_until == dt.datetime.max.replace(tzinfo=dt.UTC)


@pytest.mark.parametrize("expression", ["()", "( )", "(MIT) AND ()"])
def test_an_empty_licence_group_is_not_an_spdx_expression(expression):
    rules = compile_sbom_rules({"licenses": {"allow": ["MIT"]}})
    doc = read_sbom({"bomFormat": "CycloneDX", "components": [{"name": "x", "licenses": [{"expression": expression}]}]})
    (finding,) = rules.evaluate(doc, now=dt.datetime(2026, 12, 5, tzinfo=dt.UTC)).findings
    assert finding.mode == "enforce" and finding.message.endswith(f"licence {expression!r} is not an SPDX expression")
