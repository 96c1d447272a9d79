"""`sealgate sbom` from a real docker-registry on loopback: layers streamed over HTTP (tag resolved, index
platform chosen, digests checked), the same SBOM as from the archive, and `--attest` in one step."""

# ruff: noqa: F811 - test functions take the imported `sealgate` fixture by name
from __future__ import annotations

import json

import pytest

from tests.support.cli import sealgate  # noqa: F401 - the fixture
from tests.unit.sbom.images import image_blobs, index_blob, layer_tar, oci_layout, write_layout
from tests.unit.sbom.test_layers import BASE, FINAL, TOP
from tools import push_image
from verifier.cli import main
from verifier.sbom import generate

pytestmark = pytest.mark.integration


def test_registry_image_streams_to_the_same_sbom_as_its_layout(registry, tmp_path, sealgate, capsys):
    layout = oci_layout(tmp_path / "img", [layer_tar(BASE), layer_tar(TOP)])
    digest = push_image(layout, registry, "sbom/app", "v1")
    out = tmp_path / "sbom.json"
    assert sealgate(["sbom", f"{registry.host}/sbom/app:v1", "-o", str(out), "--reproducible"]) == 0
    stderr = capsys.readouterr().err
    assert f"note: tag 'v1' of {registry.host}/sbom/app resolved to {digest}" in stderr
    doc = json.loads(out.read_text())
    assert sorted(c["purl"] for c in doc["components"]) == FINAL
    assert doc["metadata"]["component"]["version"] == digest
    assert (
        sealgate(
            [
                "sbom",
                f"docker://{registry.host}/sbom/app@{digest}",
                "-o",
                str(tmp_path / "b.json"),
                "--reproducible",
                "-q",
            ]
        )
        == 0
    )
    again = json.loads((tmp_path / "b.json").read_text())
    assert again["components"] == doc["components"] and again["serialNumber"] == doc["serialNumber"]
    local = generate(f"oci:{layout}")
    assert sorted(p.purl for p in local.packages) == FINAL


def test_registry_index_picks_the_platform(registry, tmp_path, sealgate, capsys):
    blobs: dict[str, bytes] = {}
    children = []
    for platform in ("linux/amd64", "linux/arm64/v8"):
        name = platform.replace("/", "-")
        files = {f"usr/lib/python3/dist-packages/{name}-1.dist-info/METADATA": f"Name: {name}\nVersion: 1\n".encode()}
        children.append((platform, image_blobs([layer_tar(files)], blobs, platform=platform)))
    layout = write_layout(tmp_path / "idx", index_blob(children, blobs), blobs)
    push_image(layout, registry, "sbom/multi", "v1")
    code = sealgate(["sbom", f"{registry.host}/sbom/multi:v1", "--platform", "linux/arm64", "-o", "-"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert [c["purl"] for c in json.loads(out)["components"]] == ["pkg:pypi/linux-arm64-v8@1"]
    assert "note: platform linux/arm64/v8 chosen from the index" in err
    code = sealgate(["sbom", f"{registry.host}/sbom/multi:v1", "--platform", "windows/amd64", "-o", "-"])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert err.strip().splitlines()[-1].startswith("error: ") and "no image for platform windows/amd64" in err


def test_missing_image_is_one_line(registry, sealgate, capsys):
    assert sealgate(["sbom", f"{registry.host}/sbom/nothing:v1", "-o", "-"]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: ")


@pytest.mark.parametrize("bundle_format", [False, True], ids=["cosign .att layout", "sigstore bundle"])
def test_attest_in_one_step_verifies_as_a_cyclonedx_attestation(
    registry, tmp_path, sealgate, capsys, monkeypatch, bundle_format
):
    monkeypatch.setenv("COSIGN_PASSWORD", "s3cret")
    assert main(["keygen", "--output-key-prefix", str(tmp_path / "ci")]) == 0
    layout = oci_layout(tmp_path / "img", [layer_tar(BASE)])
    repo = f"sbom/attested-{int(bundle_format)}"
    digest = push_image(layout, registry, repo, "v1")
    ref = f"{registry.host}/{repo}:v1"
    out = tmp_path / "sbom.json"
    capsys.readouterr()
    argv = ["sbom", ref, "-o", str(out), "--attest", "--key", str(tmp_path / "ci.key")]
    assert sealgate(argv + (["--bundle-format"] if bundle_format else [])) == 0
    err = capsys.readouterr().err
    assert f"Attested {registry.host}/{repo}@{digest} (https://cyclonedx.org/bom)" in err
    code = sealgate(
        ["verify-attestation", "--key", str(tmp_path / "ci.pub"), "--type", "cyclonedx", "--output", "json", ref]
    )
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report
    assert report["results"][0]["evidence"][0]["statement"]["predicate"] == json.loads(out.read_text())
