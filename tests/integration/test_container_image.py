"""The Dockerfile built for real: buildah (vfs storage, chroot isolation) on a Debian base made here by debootstrap
(no registry pull), pushed to the loopback registry, then catalogued, signed and verified by sealgate (the image's
own sealgate verifies its own signature) and inspected: its config, its last layer, what is absent.

About 2 minutes here with the base rootfs cached (``$XDG_CACHE_HOME/sealgate/``), about 1 more without it (debootstrap);
the build's pip reaches PyPI.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tools import LocalRegistry
from tools.containerbase import BASE_IMAGE, base_rootfs, import_base
from verifier.cli import main

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
REVISION = "0123456789abcdef0123456789abcdef01234567"
SOURCE = "https://example.invalid/sealgate"
BUILD_TOOLS = ("gcc", "cc", "cc1", "c++", "g++", "ld", "as", "make", "x86_64-linux-gnu-gcc-12")


@dataclass(frozen=True)
class Built:
    buildah: list[str]
    ref: str
    digest: str
    base_layers: int
    tmp: Path
    container: str  # one working container of the image (each one is a full copy with vfs)

    def run(self, *argv: str, volume: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` in the container (the image's own user, chroot isolation)."""
        mount = ["-v", volume] if volume else []
        return subprocess.run([*self.buildah, "run", "--isolation", "chroot", *mount, self.container, "--", *argv],
                              capture_output=True, text=True, timeout=120)


def _buildah(tmp: Path) -> list[str]:
    if shutil.which("buildah") is None or os.geteuid() != 0:
        pytest.fail("building the image needs Debian's buildah (make setup installs it) and root")
    return ["buildah", "--root", str(tmp / "storage"), "--runroot", str(tmp / "run"), "--storage-driver", "vfs"]


@pytest.fixture(scope="module")
def built(registry: LocalRegistry, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    tmp = tmp_path_factory.mktemp("image")
    buildah = _buildah(tmp)
    try:
        import_base(base_rootfs(), buildah, HOST_CA if HOST_CA.is_file() else None)
        build = subprocess.run(
            [*buildah, "bud", "--isolation", "chroot", "--build-arg", f"BASE={BASE_IMAGE}",
             "--build-arg", f"REVISION={REVISION}", "--build-arg", f"SOURCE={SOURCE}",
             "--tag", "localhost/sealgate:test", str(REPO)],
            capture_output=True, text=True, timeout=600,
        )
        assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
        base = json.loads(subprocess.run([*buildah, "inspect", "--type", "image", BASE_IMAGE], check=True,
                                         capture_output=True, text=True).stdout)
        ref = f"{registry.host}/sealgate/sealgate:0.1.0"
        subprocess.run([*buildah, "push", "--tls-verify=false", "--digestfile", str(tmp / "digest"),
                        "localhost/sealgate:test", f"docker://{ref}"], check=True, capture_output=True)
        container = subprocess.run([*buildah, "from", "localhost/sealgate:test"], check=True, capture_output=True,
                                   text=True).stdout.strip()
        yield Built(buildah, ref, (tmp / "digest").read_text().strip(),
                    len(base["OCIv1"]["rootfs"]["diff_ids"]), tmp, container)
    finally:
        shutil.rmtree(tmp / "storage", ignore_errors=True)


def _skopeo(*args: str) -> str:
    return subprocess.run(["skopeo", "--insecure-policy", *args], check=True, capture_output=True, text=True).stdout


def test_the_config_runs_sealgate_serve_as_65532_with_oci_labels(built: Built) -> None:
    config = json.loads(_skopeo("inspect", "--config", "--tls-verify=false", f"docker://{built.ref}"))["config"]
    assert config["User"] == "65532:65532"
    assert config["Entrypoint"] == ["sealgate"]
    assert config["Cmd"] == ["serve"]
    labels = config["Labels"]
    assert labels["org.opencontainers.image.revision"] == REVISION
    assert labels["org.opencontainers.image.source"] == SOURCE
    assert labels["org.opencontainers.image.version"] == "0.1.0"
    assert labels["org.opencontainers.image.title"] == "sealgate"
    assert labels["org.opencontainers.image.licenses"] == "Apache-2.0"


def test_the_last_layer_holds_only_the_environment_and_no_build_tools(built: Built) -> None:
    layout = built.tmp / "layout"
    _skopeo("copy", "--src-tls-verify=false", f"docker://{built.ref}", f"oci:{layout}:x")
    index = json.loads((layout / "index.json").read_text())
    blob = layout / "blobs" / "sha256"
    manifest = json.loads((blob / index["manifests"][0]["digest"].split(":")[1]).read_text())
    layers = manifest["layers"]
    assert len(layers) == built.base_layers + 1, "the base and one layer: the copied environment"
    with tarfile.open(blob / layers[-1]["digest"].split(":")[1]) as tar:
        names = [m.name.removeprefix("./") for m in tar.getmembers()]
        pyc_flags = {
            m.name: int.from_bytes(tar.extractfile(m).read(8)[4:8], "little")  # type: ignore[union-attr]
            for m in tar.getmembers()
            if m.name.endswith(".pyc")
        }
    assert "opt/sealgate/bin/sealgate" in names
    assert all(n in ("opt", "opt/sealgate") or n.startswith("opt/sealgate/") for n in names), "only the venv"
    site = "opt/sealgate/lib/python3.11/site-packages/"
    assert any(n.startswith(site + "cryptography/") for n in names)
    assert not any(n.startswith((site + "pip/", site + "setuptools/", site + "wheel/")) for n in names)
    assert not any(n.endswith(".whl") for n in names)
    compiled = site + "verifier/sbom/__pycache__/_generate.cpython-311.pyc"
    assert compiled in names, "the bytecode is in the image: the runtime user cannot write it"
    assert set(pyc_flags.values()) == {0b01}, "every .pyc hash-based and unchecked (PEP 552): reproducible"
    assert all(n.removeprefix("./").startswith(site) for n in pyc_flags), "no bytecode outside site-packages"
    assert not {Path(n).name for n in names} & set(BUILD_TOOLS)


def test_the_whole_image_has_no_build_stage_leftovers_or_compiler(built: Built) -> None:
    try:
        root = Path(subprocess.run([*built.buildah, "mount", built.container], check=True, capture_output=True,
                                   text=True).stdout.strip())
        for leftover in ("wheels", "opt/build", "src", "root/.cache/pip", "usr/lib/gcc"):
            assert not (root / leftover).exists(), leftover
        for bindir in ("usr/bin", "usr/local/bin", "opt/sealgate/bin"):
            assert not {p.name for p in (root / bindir).iterdir()} & set(BUILD_TOOLS), bindir
        assert not (root / "opt/sealgate/bin/pip").exists()
    finally:
        subprocess.run([*built.buildah, "umount", built.container], check=False, capture_output=True)


def test_the_image_starts_as_the_non_root_user(built: Built) -> None:
    helped = built.run("sealgate", "--help")
    assert helped.returncode == 0, helped.stderr
    assert helped.stdout.startswith("usage: sealgate")
    who = built.run("/opt/sealgate/bin/python", "-c", "import os; print(os.getuid(), os.getgid())")
    assert who.stdout.split() == ["65532", "65532"], who.stderr


def test_the_cli_runs_from_the_compiled_bytecode(built: Built) -> None:
    loaded = built.run("/opt/sealgate/bin/python", "-v", "-c", "import verifier.sbom, fastapi")
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    sources = [line for line in loaded.stderr.splitlines() if line.startswith("# code object from")]
    ours = [line for line in sources if "/site-packages/" in line]
    assert any("/verifier/sbom/" in line for line in ours) and any("/fastapi/" in line for line in ours)
    assert all(line.endswith(".pyc'") for line in ours), [line for line in ours if not line.endswith(".pyc'")][:5]


def test_sbom_lists_the_wheels_and_the_base_packages(built: Built, capsys: pytest.CaptureFixture[str]) -> None:
    out = built.tmp / "sbom.json"
    assert main(["sbom", "--quiet", "-o", str(out), built.ref]) == 0
    purls = {c["purl"].split("@")[0] for c in json.loads(out.read_text())["components"] if "purl" in c}
    for pypi in ("sealgate", "cryptography", "fastapi", "uvicorn", "sigstore", "pydantic-core"):
        assert f"pkg:pypi/{pypi}" in purls, pypi
    assert any(p.startswith("pkg:deb/debian/python3.11") for p in purls)


def test_sealgate_signs_itself_and_its_own_copy_verifies(
    built: Built, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COSIGN_PASSWORD", "s3cret")
    keys = built.tmp / "keys"
    keys.mkdir()
    for name in ("release", "stranger"):
        assert main(["keygen", "--output-key-prefix", str(keys / name)]) == 0
    assert main(["sign", "--key", str(keys / "release.key"), built.ref]) == 0
    assert main(["verify", "--key", str(keys / "release.pub"), built.ref]) == 0
    out = capsys.readouterr().out
    assert f"Decision for {built.ref}: ALLOW" in out
    assert "signature verified with key 'release.pub'" in out
    keys.chmod(0o755)
    inside = built.run("sealgate", "verify", "--key", "/keys/release.pub", built.ref, volume=f"{keys}:/keys:ro")
    assert inside.returncode == 0, inside.stdout + inside.stderr
    assert f"Decision for {built.ref}: ALLOW" in inside.stdout
    stranger = built.run("sealgate", "verify", "--key", "/keys/stranger.pub", built.ref, volume=f"{keys}:/keys:ro")
    assert stranger.returncode == 1, stranger.stdout + stranger.stderr
    assert f"Decision for {built.ref}: DENY" in stranger.stdout
    assert "Traceback" not in stranger.stderr
