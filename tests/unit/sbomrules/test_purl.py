"""The SBOM-rules package-URL parser against packageurl-python (the reference implementation)."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import orjson
import pytest
from packageurl import PackageURL

from verifier.sbomrules import SbomInvalidError, read_sbom
from verifier.sbomrules._purl import parse_purl

ASSETS = Path(__file__).resolve().parents[2] / "assets" / "sboms"
TRICKY = [
    "pkg:npm/%40babel/core@7.24.0",
    "pkg:npm/@babel/core@7.24.0",
    "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12&epoch=1",
    "pkg:golang/mvdan.cc/sh/v3@v3.6.0#cmd/shfmt",
    "pkg:golang/github.com/go-jose/go-jose@v3.0.0#./v3/../v3",
    "pkg:maven/org.apache.commons/commons-lang3@3.12.0?type=jar&classifier=",
    "pkg:generic/openssl@3.0.13?download_url=https%3A%2F%2Fexample.com%2Fx.tar.gz",
    "pkg:NPM/left-pad@1.3.0",
    "pkg:docker/library/nginx@sha256%3A0123?repository_url=ghcr.io",
    "pkg:oci//root/mixed.tar@sha256:16a9",
    "pkg:github/package-url/purl-spec@244fd47e07d1004",
    "pkg:rpm/fedora/curl@7.50.3-1.fc25?arch=i386&distro=fedora-25&epoch=1",
    "pkg:composer/laravel/laravel@5.5.0",
]


def _real_purls() -> list[str]:
    """Every purl of the SBOMs syft, Trivy, cdxgen and sealgate wrote for the test image (about 3,200)."""
    found: set[str] = set()
    for path in sorted(ASSETS.glob("*.json*")):
        data = path.read_bytes()
        doc = orjson.loads(gzip.decompress(data) if path.suffix == ".gz" else data)
        found.update(c["purl"] for c in doc.get("components", []) if c.get("purl"))
        for package in doc.get("packages", []):
            found.update(r["referenceLocator"] for r in package.get("externalRefs") or []
                         if r.get("referenceType") == "purl")  # fmt: skip
    return sorted(found)


def _fields(purl: object) -> tuple[object, ...]:
    qualifiers = getattr(purl, "qualifiers", None) or {}
    return (purl.type, purl.namespace, purl.name, purl.version, qualifiers, purl.subpath)  # type: ignore[attr-defined]


@pytest.mark.parametrize("text", TRICKY)
def test_parses_like_the_reference_implementation(text: str) -> None:
    assert _fields(parse_purl(text)) == _fields(PackageURL.from_string(text))


def test_every_real_purl_parses_like_the_reference_implementation() -> None:
    purls = _real_purls()
    assert len(purls) > 3000
    differ = [t for t in purls if _fields(parse_purl(t)) != _fields(PackageURL.from_string(t))]
    assert differ == []


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("npm/x@1", "it does not start with pkg:"),
        ("pkg:", "it is not pkg:type/name"),
        ("pkg:npm", "it is not pkg:type/name"),
        ("pkg:npm/", "it is not pkg:type/name"),
        ("pkg:npm/@1", "it has no name"),
        ("pkg:1npm/x", "type '1npm' is not a purl type"),
        ("pkg:npm/x?arch", "qualifier 'arch' is not key=value"),
        ("pkg:npm/x@1?=v", "qualifier '=v' is not key=value"),
        ("pk:npm/x", "it does not start with pkg:"),
        ("PKG:npm/x", "it does not start with pkg:"),
    ],
)
def test_not_a_package_url(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(why)}$"):
        parse_purl(text)
    doc = {"bomFormat": "CycloneDX", "specVersion": "1.6", "components": [{"name": "x", "purl": text}]}
    with pytest.raises(SbomInvalidError, match=re.escape(f"component 'x': purl {text!r} is invalid ({why})")):
        read_sbom(doc)
