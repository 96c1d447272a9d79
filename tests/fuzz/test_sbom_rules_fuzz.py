"""Hostile SBOM documents for SBOM rules (what an attestation's predicate holds): real SBOMs (sealgate's, syft's
CycloneDX, Trivy's SPDX) with values anywhere swapped for hostile ones (empty, ``()``, broken purls and licence
expressions, times past the year 9999, huge numbers, wrong types). Reading and judging end in a verdict or an
SbomInvalidError, never anything else (the judge would still fail the requirement, but a bug must not hide
there); and a component denied by a rule, left untouched at the head of the list, is always denied when the
document reads at all: no change elsewhere in a document hides it.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz._support import examples, json_paths, swap_values
from tests.fuzz.conftest import COUNTS
from verifier.sbomrules import SbomInvalidError, compile_sbom_rules, read_sbom

DOCUMENTS = examples(600)
FUZZ = settings(deadline=None, database=None, suppress_health_check=list(HealthCheck), print_blob=True)
ASSETS = Path(__file__).resolve().parents[1] / "assets" / "sboms"
NOW = dt.datetime(2026, 12, 5, tzinfo=dt.UTC)
RULES = compile_sbom_rules(
    {
        "deny": [
            {"name": "left-pad", "purl": "pkg:npm/left-pad", "versions": "vers:npm/<2"},
            {"name": "old-libs", "purl": "pkg:deb/debian/lib*", "versions": "vers:deb/<1:0"},
            {"name": "six", "purl": "pkg:pypi/six"},
        ],
        "licenses": {"allow": ["MIT", "Apache-2.0", "BSD-3-Clause", "GPL-2.0-only"], "unknown": "warn"},
        "require": [{"name": "base", "purl": "pkg:deb/debian/base-files"}],
        "maxAge": "720h",
    }
)
DENIED_CDX = {"type": "library", "name": "left-pad", "version": "1.3.0", "purl": "pkg:npm/left-pad@1.3.0"}
DENIED_SPDX = {
    "SPDXID": "SPDXRef-left-pad",
    "name": "left-pad",
    "versionInfo": "1.3.0",
    "externalRefs": [
        {"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": "pkg:npm/left-pad@1.3.0"}
    ],
}
NASTY: list[Any] = [
    None, "", " ", "/", "@", "()", "( )", "(MIT", "MIT OR", "MIT WITH", "LicenseRef-", "pkg:", "pkg:deb/",
    "pkg:npm/%40/x@1", "pkg:pypi/six@%ff", "pkg:deb/debian/libc6@1:2:3", "pkg:deb/debian/x@:",
    "9999-12-31T23:59:59Z", "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "2026-13-01T00:00:00Z",
    10**30, -1, 1.5e308, True, [], {}, [None], {"a": None}, "a" * 5000, "9" * 3000, "\x00", "\ud800",
]  # fmt: skip


def _load(name: str) -> dict[str, Any]:
    raw = (ASSETS / name).read_bytes()
    return json.loads(gzip.decompress(raw) if name.endswith(".gz") else raw)  # type: ignore[no-any-return]


BASES = {name: _load(name) for name in ("sealgate.cdx.json.gz", "syft-1.18.1.cdx.json", "trivy-0.76.0.spdx.json")}


def _with_denied_head(doc: dict[str, Any]) -> tuple[dict[str, Any], str]:
    doc = json.loads(json.dumps(doc))
    key = "components" if "components" in doc else "packages"
    doc[key].insert(0, dict(DENIED_CDX if key == "components" else DENIED_SPDX))
    return doc, key


PATHS = {name: json_paths(_with_denied_head(doc)[0]) for name, doc in BASES.items()}


def test_hostile_sbom_documents_end_in_a_verdict_and_never_hide_a_denied_component() -> None:
    count = denied = 0

    @settings(FUZZ, max_examples=DOCUMENTS)
    @given(
        st.sampled_from(sorted(BASES)), st.lists(st.tuples(st.integers(0, 1 << 20), st.sampled_from(NASTY)), max_size=4)
    )
    def prop(name: str, swaps: list[tuple[int, Any]]) -> None:
        nonlocal count, denied
        count += 1
        doc, key = _with_denied_head(BASES[name])
        # the denied component and its list are left as they are
        swap_values(doc, PATHS[name], swaps, keep=lambda path: path[:2] == (key, 0) or path == (key,))
        try:
            document = read_sbom(doc)
        except SbomInvalidError:
            return
        verdict = RULES.evaluate(document, now=NOW, signed_at=NOW - dt.timedelta(hours=1))
        assert any(f.rule == "left-pad" and f.mode == "enforce" for f in verdict.findings), verdict.findings[:3]
        denied += 1

    prop()
    COUNTS["sbom rules documents"] = count
    assert count >= DOCUMENTS
    assert denied > DOCUMENTS // 4, f"only {denied} of {count} documents read at all"
