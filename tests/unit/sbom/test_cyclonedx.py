"""The CycloneDX output: strict-schema valid (1.6 and 1.5), deterministic, reproducible, with evidence."""

from __future__ import annotations

import json

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from tests.unit.sbom.images import layer_tar, oci_layout
from tests.unit.sbom.test_catalogers import DEBIAN_OS, DEP5, DPKG_STATUS
from verifier.sbom import generate, render

FILES = {
    "etc/os-release": DEBIAN_OS,
    "var/lib/dpkg/status": DPKG_STATUS,
    "usr/share/doc/bash/copyright": DEP5,
    "usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA": b"Name: six\nVersion: 1.16.0\nLicense: MIT\n",
    "usr/local/lib/python3.11/site-packages/six-1.16.0.dist-info/METADATA": b"Name: six\nVersion: 1.16.0\n",
    "app/node_modules/x/package.json": b'{"name": "x", "version": "1.0.0", "license": "MIT OR Apache-2.0"}',
}


@pytest.fixture
def sbom(tmp_path):
    return generate(f"oci:{oci_layout(tmp_path / 'img', [layer_tar(FILES)])}")


@pytest.mark.parametrize(("version", "schema"), [("1.6", SchemaVersion.V1_6), ("1.5", SchemaVersion.V1_5)])
def test_output_is_valid_against_the_strict_schema(sbom, version, schema):
    text = render(sbom, spec_version=version)
    assert JsonStrictValidator(schema).validate_str(text) is None
    assert json.loads(text)["specVersion"] == version


def test_components_sorted_bom_refs_are_purls_and_evidence_names_file_and_layer(sbom):
    doc = json.loads(render(sbom, reproducible=True))
    components = doc["components"]
    libraries = [c for c in components if c["type"] == "library"]
    assert all(c["bom-ref"] == c["purl"] for c in libraries)
    six = next(c for c in libraries if c["name"] == "six")
    assert sorted(o["location"] for o in six["evidence"]["occurrences"]) == [
        "/usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA",
        "/usr/local/lib/python3.11/site-packages/six-1.16.0.dist-info/METADATA",
    ]
    layer = {p["name"]: p["value"] for p in six["properties"]}["sealgate:layer"]
    assert layer == sbom.layers[0]
    bash = next(c for c in libraries if c["name"] == "bash")
    assert sorted(lic["license"]["id"] for lic in bash["licenses"]) == ["BSD-3-Clause", "GPL-3.0-or-later"]
    x = next(c for c in libraries if c["name"] == "x")
    assert x["licenses"] == [{"expression": "MIT OR Apache-2.0"}]
    os_component = next(c for c in components if c["type"] == "operating-system")
    assert (os_component["name"], os_component["version"]) == ("debian", "12")
    image = doc["metadata"]["component"]
    assert image["type"] == "container" and image["version"] == sbom.image.digest
    assert {"name": "sealgate:image:platform", "value": "linux/amd64"} in image["properties"]
    assert doc["metadata"]["timestamp"].startswith("2024-01-02T03:04:05")


def test_reproducible_output_is_byte_identical_and_plain_output_is_not(sbom, monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    assert render(sbom, reproducible=True) == render(sbom, reproducible=True)
    assert render(sbom) != render(sbom)  # a fresh serial number each time
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert json.loads(render(sbom, reproducible=True))["metadata"]["timestamp"].startswith("2023-11-14T22:13:20")
