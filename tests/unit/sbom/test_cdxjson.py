"""sealgate's own CycloneDX JSON writer against cyclonedx-python-lib's rendering of the same model: the same
bytes, for every shape of component the catalogers make, and valid against the library's strict schemas."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from cyclonedx.output.json import JsonV1Dot5, JsonV1Dot6
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from tests.unit.sbom.images import layer_tar, oci_layout
from verifier.sbom import Distro, ImageInfo, Package, Sbom, render, to_bom

WRITERS = {"1.6": (JsonV1Dot6, SchemaVersion.V1_6), "1.5": (JsonV1Dot5, SchemaVersion.V1_5)}
LAYER = "sha256:" + "ab" * 32
DIGEST = "sha256:" + "cd" * 32


def _library(sbom: Sbom, version: str, reproducible: bool) -> str:
    writer, _ = WRITERS[version]
    return writer(to_bom(sbom, reproducible=reproducible)).output_as_string(indent=2) + "\n"


def _pkg(name: str, version: str, purl: str, path: str, **extra: object) -> Package:
    return Package(name, version, purl, path, LAYER, **extra)  # type: ignore[arg-type]


def _varied() -> Sbom:
    """Every shape: groups and none, no version, an application, licence ids, names and an expression, repeated
    and unsorted properties, one purl at several paths, non-ASCII text, qualifiers, more than ten layers."""
    packages = [
        _pkg("zlib1g", "1:1.2.13.dfsg-1", "pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1?arch=amd64&distro=debian-12",
             "var/lib/dpkg/status", licenses=("Zlib", "GPL-2.0-or-later", "Nicht frei ü"),
             properties=(("sealgate:deb:source", "zlib"), ("sealgate:deb:source", "zlib"), ("a:b", "c"))),
        _pkg("six", "1.16.0", "pkg:pypi/six@1.16.0", "usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA",
             licenses=("MIT",)),
        _pkg("six", "1.16.0", "pkg:pypi/six@1.16.0", "usr/local/lib/python3.11/site-packages/six.dist-info/METADATA",
             licenses=("MIT",)),
        _pkg("is", "4.6.0", "pkg:npm/%40sindresorhus/is@4.6.0", "app/node_modules/@sindresorhus/is/package.json",
             group="@sindresorhus", licenses=("MIT OR Apache-2.0",)),
        _pkg("commons-lang3", "3.12.0", "pkg:maven/org.apache.commons/commons-lang3@3.12.0",
             "usr/share/java/commons-lang3.jar", group="org.apache.commons", licenses=("Apache License, 2.0",)),
        _pkg("mvdan.cc/sh/v3/cmd/shfmt", "", "pkg:golang/mvdan.cc/sh/v3/cmd/shfmt", "usr/bin/shfmt",
             kind="application", properties=(("sealgate:go:toolchain", "go1.19.8"),)),
        _pkg("a", "1", "pkg:cargo/a@1", "usr/bin/rusty", licenses=("Apache-2.0", "MIT", "Apache-2.0")),
        _pkg("a", "1", "pkg:npm/a@1", "app/node_modules/a/package.json"),
        Package("dir-only", "2.0", "pkg:pypi/dir-only@2.0", "x/METADATA", None),
    ]  # fmt: skip
    image = ImageInfo("registry.test/team/App", DIGEST, "linux", "arm64", "v8", "2024-01-02T03:04:05Z",
                      "docker://registry.test/team/App:v1", "sha256:" + "ef" * 32)  # fmt: skip
    distro = Distro("debian", "12", "Debian GNU/Linux 12 (bookworm) ☃", "bookworm", "usr/lib/os-release", LAYER)
    layers = [f"sha256:{i:064x}" for i in range(12)]
    return Sbom(image, distro, packages, [], layers)


def _bare() -> Sbom:
    """No components, no distro, an image known by nothing but its name."""
    return Sbom(ImageInfo("rootfs", None, source="dir:rootfs"), None, [], [])


def _no_version_distro() -> Sbom:
    distro = Distro("wolfi", "", "", path="etc/os-release")
    packages = [_pkg("b", "1", "pkg:apk/wolfi/b@1", "lib/apk/db/installed")]
    return Sbom(ImageInfo("img.tar", None, image_id="sha256:" + "12" * 32, source="docker-archive:img.tar"),
                distro, packages, [], [LAYER])  # fmt: skip


@pytest.mark.parametrize("make", [_varied, _bare, _no_version_distro], ids=["varied", "bare", "no-version-distro"])
@pytest.mark.parametrize("version", ["1.6", "1.5"])
def test_reproducible_text_is_the_librarys_byte_for_byte_and_schema_valid(make, version, monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    sbom = make()
    text = render(sbom, spec_version=version, reproducible=True)
    assert text == _library(sbom, version, True)
    assert JsonStrictValidator(WRITERS[version][1]).validate_str(text) is None


def test_plain_output_differs_from_the_library_only_in_serial_number_and_timestamp():
    sbom = _varied()
    ours, theirs = json.loads(render(sbom)), json.loads(_library(sbom, "1.6", False))
    assert ours["serialNumber"] != theirs["serialNumber"]
    assert ours["serialNumber"].startswith("urn:uuid:") and len(ours["serialNumber"]) == 45
    assert ours["metadata"]["timestamp"].endswith("+00:00")
    for doc in (ours, theirs):
        del doc["serialNumber"], doc["metadata"]["timestamp"]
    assert ours == theirs


def test_an_unknown_spec_version_is_refused():
    with pytest.raises(ValueError, match="1.4"):
        render(_bare(), spec_version="1.4")


def test_the_command_does_not_load_the_cyclonedx_library(tmp_path):
    layout = oci_layout(tmp_path / "img", [layer_tar({"usr/lib/python3/dist-packages/x.dist-info/METADATA":
                                                      b"Name: x\nVersion: 1\n"})])  # fmt: skip
    code = (
        "import sys\nfrom verifier.cli import main\n"
        f"assert main(['sbom', 'oci:{layout}', '-q', '-o', {str(tmp_path / 'out.json')!r}]) == 0\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith(('cyclonedx.', 'py_serializable')))))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    loaded = done.stdout.split()
    assert not [m for m in loaded if m.startswith(("cyclonedx.model", "cyclonedx.output", "py_serializable"))], loaded
    assert json.loads((tmp_path / "out.json").read_text())["components"][0]["purl"] == "pkg:pypi/x@1"
