"""SBOM rules on what `sealgate sbom` writes for a real image, live: the `mixed` test image of
tools/sbomimages.py (debootstrap Debian minbase, pip, npm, a Go binary and a jar from Debian packages) is pushed
to the loopback registry, signed, and `sealgate sbom --attest` catalogs it and attests the SBOM; then `sealgate
verify --policy` judges the attested SBOM and `sealgate sbom check` the written file. Rules are built from the
image's ground truth (dpkg-query, the jar's pom.properties), so they follow the apt mirror's versions: a rule
at the installed version denies (naming the package, which the image must contain), one just below does not."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tools import LocalRegistry
from tools.sbomimages import SbomImages, build_sbom_images
from verifier.cli import main

pytestmark = pytest.mark.integration

SEALGATE = str(Path(sys.executable).with_name("sealgate"))
PASSWORD = "sbom-live-password"


def _truth(images: SbomImages, ecosystem: str, name: str) -> str:
    (entry,) = [e for e in images.truth("mixed")[ecosystem] if e["name"] == name]
    return str(entry["version"])


@pytest.fixture(scope="module")
def live(registry: LocalRegistry, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The mixed image pushed, signed, and its `sealgate sbom` SBOM attested by the key of authority ci."""
    images = build_sbom_images()
    tmp = tmp_path_factory.mktemp("sbom-live")
    tagged = f"{registry.host}/sbom-live/mixed:v1"
    images.push("mixed", tagged, tmp)
    sbom = tmp / "sealgate.cdx.json"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COSIGN_PASSWORD", PASSWORD)
        assert main(["keygen", "--output-key-prefix", str(tmp / "ci")]) == 0
        assert main(["sign", "--key", str(tmp / "ci.key"), tagged]) == 0
        done = subprocess.run(
            [SEALGATE, "sbom", tagged, "-o", str(sbom), "--attest", "--key", str(tmp / "ci.key")],
            capture_output=True, text=True, timeout=300, check=False, env={**os.environ, "COSIGN_PASSWORD": PASSWORD},
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    digest = done.stderr.split("resolved to ", 1)[1].split()[0].rstrip(".,;:)")
    yield {"images": images, "tmp": tmp, "image": f"{registry.host}/sbom-live/mixed@{digest}", "sbom": sbom}


def _policy(live: dict[str, Any], name: str, below: bool) -> Path:
    """Deny bsdutils (1:2.38.1-5+deb12u3: an epoch) at or below its installed version (``below``: only below
    it), warn on commons-lang3 at its version, and require base-files."""
    images = live["images"]
    bsdutils, lang3 = _truth(images, "deb", "bsdutils"), _truth(images, "maven", "commons-lang3")
    up_to = "<" if below else "<="
    deny = [
        {"name": "util-linux", "purl": "pkg:deb/debian/bsdutils", "versions": f"vers:deb/{up_to}{bsdutils}"},
        {"name": "lang3", "purl": "pkg:maven/org.apache.commons/*", "versions": f"vers:maven/<={lang3}",
         "mode": "warn"},
    ]  # fmt: skip
    rules = {"deny": deny, "require": [{"name": "base", "purl": "pkg:deb/debian/base-files"}], "maxAge": "1h"}
    spec = {
        "images": [f"{live['image'].split('/')[0]}/sbom-live/**"],
        "authorities": [{"name": "ci", "key": {"path": str(live["tmp"] / "ci.pub")}}],
        "attestations": [{"name": "sbom", "predicateType": "cyclonedx", "authorities": ["ci"], "sbom": rules}],
    }
    doc = {"apiVersion": "sealgate.dev/v1alpha1", "kind": "ImagePolicy", "metadata": {"name": name}, "spec": spec}
    path = live["tmp"] / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_an_attested_sealgate_sbom_denies_a_package_the_image_contains(live, capsys):
    bsdutils = _truth(live["images"], "deb", "bsdutils")
    assert bsdutils.startswith("1:")  # the epoch must survive sealgate sbom -> attestation -> rules
    policy = _policy(live, "prod", below=False)
    line = (
        f'policy "prod": SBOM component pkg:deb/debian/bsdutils@{bsdutils} is denied by rule "util-linux" '
        f"(vers:deb/<={bsdutils})"
    )
    code, out, err = _run(["verify", "--policy", str(policy), live["image"]], capsys)
    assert code == 1, (out, err)
    assert f'FAIL image "{live["image"]}": {line}' in out
    assert "pkg:maven/org.apache.commons/commons-lang3@3.12.0" in out + err  # the warn rule shows too
    # the file `sealgate sbom -o` wrote, checked before attesting, gives the same line
    code, out, err = _run(["sbom", "check", str(live["sbom"]), "--policy", str(policy)], capsys)
    assert code == 1 and line in out, (out, err)


def test_the_same_sbom_passes_a_rule_just_below_the_installed_version(live, capsys):
    policy = _policy(live, "fixed", below=True)
    code, out, err = _run(["verify", "--policy", str(policy), live["image"]], capsys)
    assert code == 0, (out, err)
    lang3 = 'SBOM component pkg:maven/org.apache.commons/commons-lang3@3.12.0 is denied by rule "lang3"'
    assert lang3 in out + err  # a warn rule admits, with its line
