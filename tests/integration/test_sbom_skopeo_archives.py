"""Archives written by the real skopeo (docker-archive as `docker save` lays it out, oci-archive recompressed
with zstd) give the same SBOM as the layout they were copied from."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.unit.sbom.images import layer_tar, oci_layout
from tests.unit.sbom.test_layers import BASE, FINAL, TOP
from verifier.sbom import generate

pytestmark = pytest.mark.integration


def _skopeo(*args: str) -> None:
    skopeo = shutil.which("skopeo")
    assert skopeo is not None, "skopeo is installed by the Makefile"
    subprocess.run([skopeo, "--insecure-policy", "copy", "-q", *args], check=True, capture_output=True, timeout=120)


def test_skopeo_written_archives(tmp_path):
    layout = oci_layout(tmp_path / "img", [layer_tar(BASE), layer_tar(TOP)])
    _skopeo(f"oci:{layout}:v1", f"docker-archive:{tmp_path / 'docker.tar'}:demo/app:v1")
    _skopeo("--dest-compress-format", "zstd", f"oci:{layout}:v1", f"oci-archive:{tmp_path / 'oci.tar'}:v2")
    docker = generate(f"docker-archive:{tmp_path / 'docker.tar'}")
    assert sorted(p.purl for p in docker.packages) == FINAL
    assert docker.image.name.endswith("demo/app:v1")
    zstd = generate(f"oci-archive:{tmp_path / 'oci.tar'}:v2")
    assert sorted(p.purl for p in zstd.packages) == FINAL
