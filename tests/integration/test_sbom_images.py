"""`sealgate sbom` on real images built from real packages (tools/sbomimages.py: debootstrap minbase, pip, npm,
a Go binary and a jar from Debian packages, whiteouts), scored against what dpkg-query, pip, npm, go and the
jar's pom.properties say is installed: every package found with its exact purl, nothing else, nothing deleted."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from tools import LocalRegistry
from tools.sbomimages import IMAGE_NAMES, NPM_OPAQUE, PIP_DELETED, SbomImages, build_sbom_images
from tools.sbomscore import ECOSYSTEMS, score

pytestmark = pytest.mark.integration

SEALGATE = str(Path(sys.executable).with_name("sealgate"))
KINDS = ("docker", "oci")


@pytest.fixture(scope="module")
def images() -> Iterator[SbomImages]:
    yield build_sbom_images()


def _sbom(source: str, *extra: str) -> tuple[str, str]:
    done = subprocess.run(
        [SEALGATE, "sbom", source, "-o", "-", "--reproducible", *extra],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout, done.stderr


def _by_purl(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["purl"]: c for c in doc["components"] if "purl" in c}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("image", IMAGE_NAMES)
def test_every_installed_package_exactly(images, image, kind):
    text, _ = _sbom(images.source(image, kind))
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    doc = json.loads(text)
    truth = images.truth(image)
    scores = score(truth, doc)
    for eco in ECOSYSTEMS:
        assert (scores[eco].missing, scores[eco].extra) == ((), ()), eco
    found = _by_purl(doc)
    for eco, expected in truth.items():
        assert {p for p in found if p.startswith(f"pkg:{eco}/")} == {c["purl"] for c in expected}, eco
        for item in expected:
            component = found[item["purl"]]
            assert (component["name"], component.get("version", "")) == (item["name"], item["version"])
    assert len(truth["deb"]) > 80 and "pkg:pypi/six@1.16.0" in found  # python3-six, installed by dpkg
    six = [o["location"] for o in found["pkg:pypi/six@1.16.0"]["evidence"]["occurrences"]]
    assert six and all(loc.startswith("/usr/lib/python3/dist-packages/six-1.16.0.") for loc in six), six
    if image == "mixed":
        assert {"npm", "golang", "maven"} <= truth.keys() and len(truth["npm"]) >= 8


def _layer_names(archive: Path) -> list[set[str]]:
    """The file names in each layer of a docker-archive, in order."""
    with tarfile.open(archive) as outer:
        manifest = json.load(outer.extractfile("manifest.json"))  # type: ignore[arg-type]
        layers = []
        for name in manifest[0]["Layers"]:
            with tarfile.open(fileobj=outer.extractfile(name)) as inner:
                layers.append(set(inner.getnames()))
    return layers


def test_what_the_last_layer_deletes_is_not_reported(images):
    layers = _layer_names(images.archive("mixed", "docker"))
    deleted_dist = [n for n in layers[1] if n.endswith("/METADATA") and f"/{PIP_DELETED}-" in n]
    nested = [n for n in layers[1] if n.startswith(f"{NPM_OPAQUE}/") and n.endswith("/package.json")]
    assert deleted_dist and nested, "the layer below the whiteouts installs what they delete"
    assert any(n.endswith(f"/.wh.{PIP_DELETED}") for n in layers[2]) and f"{NPM_OPAQUE}/.wh..wh..opq" in layers[2]
    doc = json.loads(_sbom(images.source("mixed", "oci"))[0])
    locations = [o["location"] for c in doc["components"] for o in c.get("evidence", {}).get("occurrences", [])]
    assert not [loc for loc in locations if f"/{PIP_DELETED}-" in loc or loc.startswith(f"/{NPM_OPAQUE}/")]
    assert not [c for c in doc["components"] if c["name"] == PIP_DELETED or c.get("purl") == "pkg:npm/ms@2.0.0"]
    assert "pkg:npm/ms@2.1.3" in _by_purl(doc) and "pkg:npm/debug@2.6.9" in _by_purl(doc)


def test_reproducible_runs_are_byte_identical(images):
    first, _ = _sbom(images.source("mixed", "docker"))
    second, _ = _sbom(images.source("mixed", "docker"))
    assert first == second
    assert JsonStrictValidator(SchemaVersion.V1_5).validate_str(
        _sbom(images.source("mixed", "docker"), "--spec-version", "1.5")[0]
    ) is None  # fmt: skip


def test_registry_pull_gives_the_same_components(images, registry: LocalRegistry, tmp_path):
    ref = f"{registry.host}/sbom/mixed:v1"
    images.push("mixed", ref, tmp_path)
    pulled, err = _sbom(ref)
    assert "resolved to sha256:" in err
    archived, _ = _sbom(images.source("mixed", "oci"))
    assert json.loads(pulled)["components"] == json.loads(archived)["components"]
    scores = score(images.truth("mixed"), json.loads(pulled))
    assert all(s.recall == s.precision == 1.0 for s in scores.values())
