"""Go build information and cargo-auditable data in ELF binaries: synthetic ones in both Go layouts, and real
Go binaries from Debian packages (skopeo, umoci) checked against what they are known to carry."""

from __future__ import annotations

import json
import shutil
import subprocess
import zlib
from pathlib import Path

import pytest

from tests.unit.sbom.elf import elf, go_binary_inline, go_binary_pointers
from tests.unit.sbom.images import layer_tar, oci_layout
from verifier.sbom import generate
from verifier.sbom._golang import parse_buildinfo

MODINFO = (
    "path\texample.com/app/cmd/app\n"
    "mod\texample.com/app\tv1.2.3\th1:abc=\n"
    "dep\tgithub.com/spf13/cobra\tv1.8.0\th1:def=\n"
    "dep\tgolang.org/x/sys\tv0.15.0\th1:ghi=\n"
    "=>\tgolang.org/x/sys\tv0.16.0\th1:jkl=\n"
    "build\t-compiler=gc\n"
    "build\tGOOS=linux\n"
)
EXPECTED = [
    ("example.com/app", "v1.2.3", "main"),
    ("github.com/spf13/cobra", "v1.8.0", "dep"),
    ("golang.org/x/sys", "v0.16.0", "dep"),
]


@pytest.mark.parametrize(
    "binary",
    [
        pytest.param(go_binary_inline("go1.22.1", MODINFO), id="go 1.18+ inline strings"),
        pytest.param(go_binary_pointers("go1.17.13", MODINFO), id="before 1.18: pointers, 64-bit little-endian"),
        pytest.param(
            go_binary_pointers("go1.16", MODINFO, wide=False, big_endian=True), id="before 1.18: pointers, 32-bit big"
        ),
    ],
)
def test_go_buildinfo_both_layouts(binary):
    info = parse_buildinfo(binary)
    assert info is not None
    assert info.go_version.startswith("go1.")
    assert [(m.path, m.version, m.kind) for m in info.modules] == EXPECTED


def test_go_buildinfo_malformed_is_none_not_an_error():
    good = go_binary_inline("go1.22.1", MODINFO)
    for bad in (
        good[:200],
        good.replace(b"\xff Go buildinf:\x08\x02", b"\xff Go buildinf:\x08\x00"),
        b"\x7fELF" + b"\xff" * 100,
    ):
        assert parse_buildinfo(bad) is None or parse_buildinfo(bad).modules == ()


def test_go_and_rust_binaries_in_an_image(tmp_path):
    audit = {
        "packages": [
            {"name": "ripgrep", "version": "14.1.0", "source": "local", "root": True, "dependencies": [1]},
            {"name": "regex", "version": "1.10.3", "source": "crates.io"},
            {"name": "cc", "version": "1.0.83", "source": "crates.io", "kind": "build"},
        ]
    }
    rust = elf([(".text", 0x401000, b"\x90" * 2048), (".dep-v0", 0, zlib.compress(json.dumps(audit).encode()))])
    go = go_binary_inline("go1.22.1", MODINFO)
    layout = oci_layout(
        tmp_path / "img",
        [
            layer_tar(
                {
                    "usr/bin/app": ("file", go, 0o755),
                    "usr/bin/rg": ("file", rust, 0o755),
                    "usr/share/app/not-exec": ("file", go, 0o644),
                }
            )
        ],
    )
    sbom = generate(f"oci:{layout}")
    purls = sorted(p.purl for p in sbom.packages)
    assert purls == [
        "pkg:cargo/regex@1.10.3",
        "pkg:cargo/ripgrep@14.1.0",
        "pkg:golang/example.com/app@v1.2.3",
        "pkg:golang/github.com/spf13/cobra@v1.8.0",
        "pkg:golang/golang.org/x/sys@v0.16.0",
        "pkg:golang/stdlib@1.22.1",
    ]
    kinds = {p.name: p.kind for p in sbom.packages}
    assert kinds["ripgrep"] == "application" and kinds["regex"] == "library"
    assert {p.path for p in sbom.packages if p.purl.startswith("pkg:golang")} == {"usr/bin/app"}


@pytest.mark.parametrize("binary", ["/usr/bin/skopeo", "/usr/bin/umoci"])
def test_real_go_binary_from_a_debian_package(binary, tmp_path):
    """Debian builds these in GOPATH mode: build info has the toolchain and the main package, no modules."""
    path = Path(binary)
    if not path.is_file():
        pytest.skip(f"{binary} not installed (the Makefile installs skopeo and umoci)")
    info = parse_buildinfo(path.read_bytes())
    assert info is not None
    if shutil.which("go"):
        shown = subprocess.run(["go", "version", "-m", binary], capture_output=True, text=True, check=True).stdout
        assert info.go_version in shown.splitlines()[0]
        for module in info.modules:
            assert module.path in shown
    else:  # compare with what the package is known to carry (its strings say the same)
        assert info.go_version.startswith("go1.")
        assert info.go_version.encode() in path.read_bytes()
        main = {
            "/usr/bin/skopeo": "github.com/containers/skopeo/cmd/skopeo",
            "/usr/bin/umoci": "github.com/opencontainers/umoci/cmd/umoci",
        }[binary]
        assert [(m.path, m.version, m.kind) for m in info.modules] == [(main, "", "path")]


def test_go_binary_without_section_headers_is_found_by_its_blob():
    from verifier.sbom._golang import Golang
    from verifier.sbom._model import Context

    binary = bytearray(go_binary_inline("go1.22.1", MODINFO))
    binary[0x28:0x30] = b"\0" * 8  # e_shoff = 0: no section header table
    info = Golang().extract("usr/bin/app", bytes(binary), Context())
    assert info is not None and [(m.path, m.version, m.kind) for m in info.modules] == EXPECTED  # type: ignore[attr-defined]
