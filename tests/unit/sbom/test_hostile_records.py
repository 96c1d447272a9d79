"""One bad package record costs that record (a warning naming it) and never the SBOM: names a package URL cannot
hold, names an ecosystem does not allow, os-release identifiers that would bend a purl, and Go modules replaced
by a local directory (found in a real binary: Google Cloud SDK's anthoscli)."""

from __future__ import annotations

import io
import json
import zipfile
import zlib

import pytest

from tests.unit.sbom.elf import elf, go_binary_inline
from tests.unit.sbom.images import layer_tar, oci_layout
from verifier.sbom import generate, render
from verifier.sbom._model import purl

SITE = "usr/lib/python3/dist-packages"
STATUS = b"Package: a\nStatus: install ok installed\nVersion: 1\nArchitecture: amd64\n"


def _jar(properties: dict[str, str]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as jar:
        for where, text in properties.items():
            jar.writestr(f"META-INF/maven/{where}/pom.properties", text)
    return out.getvalue()


def _rust(entries: list[object]) -> bytes:
    audit = zlib.compress(json.dumps({"packages": entries}).encode())
    return elf([(".text", 0x401000, b"\x90" * 2048), (".dep-v0", 0, audit)])


CASES = {
    "go modules with no name": (
        {
            "usr/bin/app": (
                "file",
                go_binary_inline("go1.21.0", "mod\tex.com/app\tv1\t\ndep\t/\tv1\t\ndep\tex.com/\tv2\t\n"),
                0o755,
            )
        },
        ["pkg:golang/ex.com/app@v1", "pkg:golang/stdlib@1.21.0"],
        ["go package '/' makes no package URL", "go package 'ex.com/' makes no package URL"],
    ),
    "npm names with an empty part": (
        {
            "app/node_modules/@s/b/package.json": b'{"name": "@s/", "version": "1"}',
            "app/node_modules/c/package.json": b'{"name": "@/", "version": "1"}',
            "app/node_modules/d/package.json": b'{"name": "/d", "version": "1"}',
            "app/node_modules/e/package.json": b'{"name": "e f", "version": "1"}',
            "app/node_modules/ok/package.json": b'{"name": "@scope/ok", "version": "1"}',
        },
        ["pkg:npm/%40scope/ok@1"],
        ["'@s/' is not an npm name", "'@/' is not an npm name", "'/d' is not an npm name", "'e f' is not an npm name"],
    ),
    "python names PEP 508 refuses": (
        {
            f"{SITE}/x-1.dist-info/METADATA": b"Name: ...\nVersion: 1\n",
            f"{SITE}/y-1.dist-info/METADATA": b"Name: -y\nVersion: 1\n",
            f"{SITE}/z-1.dist-info/METADATA": b"Name: Zope.Interface\nVersion: 1\n",
        },
        ["pkg:pypi/zope-interface@1"],
        ["x-1.dist-info/METADATA: no usable Name", "y-1.dist-info/METADATA: no usable Name"],
    ),
    "maven and cargo names purl rules strip to nothing": (
        {
            "app/x.jar": _jar({"g/a": "groupId=/\nartifactId=/\nversion=1\n", "h/b": "groupId=h\nversion=1\n"}),
            "usr/bin/r": ("file", _rust([{"name": " ", "version": "1"}, {"name": "ok", "version": ""}, 5]), 0o755),
        },
        [],
        [
            "java package '/' makes no package URL",
            "h/b/pom.properties: no groupId, artifactId and version",
            "usr/bin/r: rust package ' ' makes no package URL",
            "usr/bin/r: 2 cargo-auditable entries without a name and version",
        ],
    ),
    "os-release identifiers that would bend a purl": (
        {"etc/os-release": b'ID="a/b"\nVERSION_ID="../.."\n', "var/lib/dpkg/status": STATUS},
        ["pkg:deb/debian/a@1?arch=amd64"],
        ["ID 'a/b' is not an os-release identifier", "VERSION_ID '../..' is not an os-release identifier"],
    ),
}


@pytest.mark.parametrize(("files", "purls", "warnings"), CASES.values(), ids=CASES.keys())
def test_a_bad_record_is_a_warning_and_the_rest_of_the_sbom(tmp_path, files, purls, warnings):
    sbom = generate(f"oci:{oci_layout(tmp_path / 'img', [layer_tar(files)])}")
    assert [p.purl for p in sbom.packages] == purls
    for expected in warnings:
        assert any(expected in w for w in sbom.warnings), (expected, sbom.warnings)
    json.loads(render(sbom))


def test_a_go_module_replaced_by_a_directory_is_that_module_at_no_known_version(tmp_path):
    modinfo = (
        "path\tex.com/app\nmod\tex.com/app\t(devel)\t\n"
        "dep\tcnrm.googlesource.com/cnrm\tv0.0.0-2023\th1:x=\n=>\t./private_repos/cnrm.googlesource.com/cnrm/\t(devel)\t\n"
        "dep\tex.com/lib\tv1.2.0\th1:y=\n=>\t../lib\t\t\n"
        "dep\tex.com/fork\tv1.0.0\th1:z=\n=>\tgithub.com/me/fork\tv1.0.1\th1:w=\n"
    )
    files = {"usr/bin/app": ("file", go_binary_inline("go1.21.0", modinfo), 0o755)}
    sbom = generate(f"oci:{oci_layout(tmp_path / 'img', [layer_tar(files)])}")
    got = {p.purl: dict(p.properties) for p in sbom.packages}
    assert "pkg:golang/cnrm.googlesource.com/cnrm" in got and "pkg:golang/ex.com/lib" in got
    assert got["pkg:golang/cnrm.googlesource.com/cnrm"]["sealgate:go:replaced-by"] == (
        "./private_repos/cnrm.googlesource.com/cnrm/"
    )
    assert got["pkg:golang/ex.com/lib"]["sealgate:go:replaced-by"] == "../lib"
    assert "pkg:golang/github.com/me/fork@v1.0.1" in got, "a module replaced by another module is that one"
    assert "sealgate:go:replaced-by" not in got["pkg:golang/github.com/me/fork@v1.0.1"]
    assert sbom.warnings == []


@pytest.mark.parametrize(
    ("kind", "name", "namespace"),
    [("golang", "", None), ("maven", "/", "/"), ("cargo", " ", None), ("npm", "", "@s")],
)
def test_purl_is_empty_rather_than_an_error_for_a_name_it_cannot_hold(kind, name, namespace):
    assert purl(kind, name, "1", namespace=namespace) == ""
