"""Real test images for `sealgate sbom`, built from real packages, with ground truth from the tools themselves.

    images = build_sbom_images()          # cached; about a minute cold (debootstrap, pip, npm, apt-get download)
    images.archive("mixed", "oci")        # Path of mixed.oci.tar; "docker" gives the docker-archive
    images.truth("mixed")                 # {"deb": [{"name", "version", "purl"}, ...], "pypi": ..., ...}

Two images, each written as a docker-archive (``docker save`` layout: manifest.json, config, ``ID/layer.tar``)
and an oci-archive (gzip layers):

- ``base``: a Debian rootfs from ``debootstrap --variant=minbase --include=python3-six`` (the machine's release and
  apt mirror), one layer. python3-six is a Python distribution installed by dpkg.
- ``mixed``: ``base`` plus a layer of pure-Python wheels installed by ``pip install --target`` into
  ``usr/local/lib/python3.X/site-packages``, an npm tree (``npm install``: scoped, nested and hoisted packages) in
  ``app/node_modules``, a Go binary and a jar from Debian packages (``apt-get download`` + ``dpkg-deb -x``, so not
  in the dpkg database), and a last layer deleting one pip distribution (``.wh.`` entries) and one nested
  ``node_modules`` directory (``.wh..wh..opq``).

Ground truth (``truth.json`` beside the archives): ``dpkg-query --admindir`` (installed packages), ``pip list
--path`` on both Python directories, npm's own ``node_modules/.package-lock.json`` (each entry checked against its
``package.json``), ``go version -m`` when ``go`` is installed (else the binary's ``path`` build-info line and the
toolchain from the package's ``Built-Using``), the jar's ``pom.properties``; what the last layer deletes is
taken out. Run ``python -m tools.sbomimages`` to build and print the paths.
"""

from __future__ import annotations

import fcntl
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packageurl import PackageURL

from ._imagepack import Layer, pack_docker_archive, pack_oci_archive
from .localregistry import ToolError

__all__ = ["IMAGE_NAMES", "SbomImages", "build_sbom_images"]

#: bump when what is built changes: the cache directory is per version
VERSION = "2"
IMAGE_NAMES = ("base", "mixed")
PIP_PACKAGES = ("attrs==23.2.0", "idna==3.7", "packaging==24.1", "typing_extensions==4.12.2", "zipp==3.19.2")
PIP_DELETED = "zipp"
NPM_DEPENDENCIES = {
    "debug": "2.6.9",  # needs ms@2.0.0: nested under debug/node_modules (the top-level ms is 2.1.3)
    "ms": "2.1.3",
    "chalk": "4.1.2",  # ansi-styles, color-convert, color-name, supports-color, has-flag hoisted
    "@isaacs/string-locale-compare": "1.1.0",
    "@sindresorhus/is": "4.6.0",
}
NPM_OPAQUE = "app/node_modules/debug/node_modules"
GO_DEB = "shfmt"
JAR_DEB = "libcommons-lang3-java"
_TIMEOUT = 600


@dataclass(frozen=True)
class SbomImages:
    """Where the built images and their ground truth are."""

    root: Path

    def archive(self, image: str, kind: str) -> Path:
        """``image`` in IMAGE_NAMES, ``kind`` "docker" or "oci"."""
        return self.root / f"{image}.{kind}.tar"

    def source(self, image: str, kind: str) -> str:
        """The `sealgate sbom` SOURCE for an archive."""
        return f"{kind}-archive:{self.archive(image, kind)}"

    def truth(self, image: str) -> dict[str, list[dict[str, str]]]:
        data: dict[str, dict[str, list[dict[str, str]]]] = json.loads((self.root / "truth.json").read_text())
        return data[image]

    def timings(self) -> dict[str, float]:
        data: dict[str, float] = json.loads((self.root / "timings.json").read_text())
        return data

    def push(self, image: str, ref: str, tmp: Path) -> None:
        """``skopeo copy`` the oci-archive of ``image`` to ``ref`` (a loopback registry, plain HTTP, no
        credentials; ``tmp`` holds skopeo's empty auth file and its HOME)."""
        skopeo = shutil.which("skopeo")
        if skopeo is None:
            raise ToolError("skopeo not found on PATH (apt-get install skopeo)")
        (tmp / "auth.json").write_text('{"auths":{}}')
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp), "TMPDIR": str(tmp)}
        subprocess.run(
            [skopeo, "--insecure-policy", "copy", "-q", "--dest-tls-verify=false", "--dest-no-creds",
             "--authfile", str(tmp / "auth.json"), self.source(image, "oci"), f"docker://{ref}"],
            check=True, capture_output=True, timeout=300, env=env,
        )  # fmt: skip


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sealgate" / "sbom-images" / VERSION


def build_sbom_images(root: Path | None = None) -> SbomImages:
    """Build the images once (a lock keeps parallel callers from building twice); return where they are."""
    root = root or cache_root()
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(root.parent / f".{root.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / "truth.json").exists():
            work = Path(tempfile.mkdtemp(prefix=f".{root.name}-", dir=root.parent))
            try:
                _build(work)
                shutil.rmtree(root, ignore_errors=True)
                (work / "out").rename(root)
            finally:
                shutil.rmtree(work, ignore_errors=True)
    return SbomImages(root)


def _run(cmd: list[str], **kwargs: Any) -> str:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=_TIMEOUT, check=False, **kwargs)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ToolError(f"{cmd[0]} failed: {exc}") from exc
    if done.returncode != 0:
        raise ToolError(f"{' '.join(cmd[:4])} ... failed ({done.returncode}): {done.stderr.strip()[-1500:]}")
    return str(done.stdout)


def _release() -> tuple[str, str]:
    """(codename, VERSION_ID) of this machine's Debian."""
    fields = dict(line.split("=", 1) for line in Path("/etc/os-release").read_text().splitlines() if "=" in line)
    codename = fields.get("VERSION_CODENAME", "").strip('"')
    if not codename:
        raise ToolError("no VERSION_CODENAME in /etc/os-release: debootstrap needs a Debian release name")
    return codename, fields.get("VERSION_ID", "").strip('"')


def _mirror(codename: str) -> str:
    """The apt mirror serving ``codename`` (deb822 .sources or one-line sources.list)."""
    apt = Path("/etc/apt")
    for path in sorted(apt.glob("sources.list.d/*.sources")):
        for stanza in path.read_text().split("\n\n"):
            lines = (line.partition(":") for line in stanza.splitlines() if not line.startswith("#"))
            fields = {k.strip(): v.strip() for k, _, v in lines}
            if codename in fields.get("Suites", "").split() and fields.get("URIs"):
                return fields["URIs"].split()[0]
    for path in [apt / "sources.list", *sorted(apt.glob("sources.list.d/*.list"))]:
        for line in path.read_text().splitlines() if path.exists() else []:
            words = re.sub(r"\[[^]]*\]", "", line).split()
            if len(words) >= 3 and words[0] == "deb" and words[2] == codename:
                return words[1]
    raise ToolError(f"no apt source for {codename} in /etc/apt")


def _apt_download(names: list[str], dest: Path) -> dict[str, Path]:
    """``apt-get download`` (with one ``apt-get update`` if the lists are empty); {name: .deb path}."""
    try:
        _run(["apt-get", "download", "-q", *names], cwd=dest)
    except ToolError:
        _run(["apt-get", "update", "-qq"])
        _run(["apt-get", "download", "-q", *names], cwd=dest)
    return {name: next(dest.glob(f"{name}_*.deb")) for name in names}


def _build(work: Path) -> None:
    timings: dict[str, float] = {}
    out = work / "out"
    out.mkdir()
    codename, version_id = _release()
    start = time.monotonic()
    rootfs = work / "rootfs"
    _run(["debootstrap", "--variant=minbase", "--include=python3-six", codename, str(rootfs), _mirror(codename)])
    for deb in (rootfs / "var/cache/apt/archives").glob("*.deb"):
        deb.unlink()  # what `apt-get clean` leaves: no package files in the image
    timings["debootstrap"] = time.monotonic() - start

    start = time.monotonic()
    python = next((rootfs / "usr/lib").glob("python3.*/")).name
    adds = work / "adds"
    site = adds / f"usr/local/lib/{python}/site-packages"
    _run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--only-binary", ":all:", "--no-compile",
         "--disable-pip-version-check", "--python-version", python.removeprefix("python"), "--target", str(site),
         *PIP_PACKAGES]
    )  # fmt: skip
    app = adds / "app"
    app.mkdir()
    (app / "package.json").write_text(
        json.dumps({"name": "sbom-test-app", "version": "1.0.0", "private": True, "dependencies": NPM_DEPENDENCIES})
    )
    _run(["npm", "install", "--ignore-scripts", "--no-audit", "--no-fund", "--omit=dev", "--cache", str(work / "npm")],
         cwd=app)  # fmt: skip
    debs = _apt_download([GO_DEB, JAR_DEB], work)
    for deb in debs.values():
        _run(["dpkg-deb", "-x", str(deb), str(adds)])
    timings["packages"] = time.monotonic() - start

    start = time.monotonic()
    truth_base = {"deb": _dpkg_truth(rootfs, version_id), "pypi": _pip_truth(rootfs / "usr/lib/python3/dist-packages")}
    mixed = dict(truth_base)
    mixed["pypi"] = sorted(truth_base["pypi"] + _pip_truth(site), key=lambda c: c["purl"])
    mixed["npm"] = _npm_truth(adds, app)
    mixed["golang"] = _go_truth(adds, debs[GO_DEB])
    mixed["maven"] = _jar_truth(adds)
    deleted = sorted(p.name for p in site.iterdir() if _dist_name(p.name) == PIP_DELETED)
    if len(deleted) < 2:
        raise ToolError(f"pip did not install {PIP_DELETED} as expected: {deleted}")
    mixed["pypi"] = [c for c in mixed["pypi"] if c["name"] != PIP_DELETED]
    opaque = f"{NPM_OPAQUE}/"
    mixed["npm"] = [c for c in mixed["npm"] if not c["location"].startswith(opaque)]
    timings["truth"] = time.monotonic() - start

    start = time.monotonic()
    base_layer = Layer.write(work / "layer-base.tar", rootfs)
    add_layer = Layer.write(work / "layer-adds.tar", adds)
    site_rel = site.relative_to(adds).as_posix()
    gone = [f"{site_rel}/.wh.{name}" for name in deleted] + [f"{NPM_OPAQUE}/.wh..wh..opq"]
    del_layer = Layer.whiteouts(work / "layer-delete.tar", gone)
    arch = _run(["dpkg", "--print-architecture"]).strip()
    for name, layers in (("base", [base_layer]), ("mixed", [base_layer, add_layer, del_layer])):
        pack_docker_archive(out / f"{name}.docker.tar", layers, arch, f"sealgate-test/sbom-{name}:{VERSION}")
        pack_oci_archive(out / f"{name}.oci.tar", layers, arch, VERSION)
    timings["pack"] = time.monotonic() - start
    (out / "truth.json").write_text(json.dumps({"base": truth_base, "mixed": mixed}, indent=1, sort_keys=True))
    (out / "timings.json").write_text(json.dumps(timings))


def _dist_name(entry: str) -> str:
    """``zipp-3.19.2.dist-info`` or ``zipp`` -> ``zipp``."""
    return entry.split("-", 1)[0].removesuffix(".py").lower()


def _component(kind: str, name: str, version: str, location: str, **purl: Any) -> dict[str, str]:
    text = PackageURL(type=kind, name=name, version=version or None, **purl).to_string()
    return {"name": name, "version": version, "purl": text, "location": location}


def _dpkg_truth(rootfs: Path, version_id: str) -> list[dict[str, str]]:
    fmt = "${db:Status-Abbrev}\t${Package}\t${Version}\t${Architecture}\t${source:Package}\t${source:Version}\n"
    found = []
    for line in _run(["dpkg-query", f"--admindir={rootfs / 'var/lib/dpkg'}", "-W", "-f", fmt]).splitlines():
        status, name, version, arch, source, source_version = line.split("\t")
        if status.strip() != "ii":
            continue
        qualifiers = {"arch": arch, "distro": f"debian-{version_id}"}
        if (source, source_version) != (name, version):  # the source package, as vulnerability matchers want it
            qualifiers["upstream"] = source + ("" if source_version == version else f"@{source_version}")
        found.append(
            _component("deb", name, version, "/var/lib/dpkg/status", namespace="debian", qualifiers=qualifiers)
        )
    return found


def _pip_truth(directory: Path) -> list[dict[str, str]]:
    listed = json.loads(_run([sys.executable, "-m", "pip", "list", "--path", str(directory), "--format", "json",
                              "--disable-pip-version-check"]))  # fmt: skip
    found = []
    for dist in listed:  # the purl has the normalised name, the component the name pip lists
        found.append(_component("pypi", re.sub(r"[-_.]+", "-", dist["name"]).lower(), dist["version"], str(directory)))
        found[-1]["name"] = dist["name"]
    return found


def _npm_truth(adds: Path, app: Path) -> list[dict[str, str]]:
    """npm's hidden lockfile says what it installed where; each entry's package.json must agree."""
    lock = json.loads((app / "node_modules/.package-lock.json").read_text())
    found = []
    for key, entry in sorted(lock["packages"].items()):
        manifest = json.loads((app / key / "package.json").read_text())
        if manifest["version"] != entry["version"]:
            raise ToolError(f"npm's lockfile and {key}/package.json disagree")
        scope, _, name = manifest["name"].rpartition("/")
        location = (app / key).relative_to(adds).as_posix()
        found.append(_component("npm", name, manifest["version"], location, namespace=scope or None))
    return found


def _go_truth(adds: Path, deb: Path) -> list[dict[str, str]]:
    binary = next(p for p in (adds / "usr/bin").iterdir() if p.name == GO_DEB)
    location = "/" + binary.relative_to(adds).as_posix()
    if shutil.which("go"):
        text = _run(["go", "version", "-m", str(binary)])
        toolchain = text.split(":", 1)[1].split()[0]
        path = re.search(r"^\s*path\s+(\S+)", text, re.M)
        mods = re.findall(r"^\s*(?:mod|dep)\s+(\S+)\s+(\S+)", text, re.M)
    else:  # the build-info text go version -m prints, and the Go release Debian built it with
        data = binary.read_bytes()
        path = re.search(rb"\xe6path\t([^\n]+)\n", data)  # type: ignore[assignment]  # after the modinfo magic
        mods = [(m.decode(), v.decode()) for m, v in re.findall(rb"\n(?:mod|dep)\t([^\t]+)\t([^\t\n]+)", data)]
        built = re.search(r"golang-1\.\d+ \(= ([\d.]+)-", _run(["dpkg-deb", "-f", str(deb), "Built-Using"]))
        if built is None:
            raise ToolError(f"no golang in Built-Using of {deb.name}")
        toolchain = f"go{built.group(1)}"
    if path is None:
        raise ToolError(f"no build info path in {binary}")
    main = path.group(1)
    found = [_component("golang", main if isinstance(main, str) else main.decode(), "", location)]
    found += [_component("golang", m, v, location) for m, v in mods]
    found.append(_component("golang", "stdlib", toolchain, location))
    found[-1]["purl"] = f"pkg:golang/stdlib@{toolchain.removeprefix('go')}"  # as syft writes it: no "go" prefix
    return found


def _jar_truth(adds: Path) -> list[dict[str, str]]:
    found = []
    for jar in sorted((adds / "usr/share/java").glob("*.jar")):
        if jar.is_symlink():
            continue
        with zipfile.ZipFile(jar) as archive:
            for name in archive.namelist():
                if name.startswith("META-INF/maven/") and name.endswith("/pom.properties"):
                    props = dict(
                        line.split("=", 1)
                        for line in archive.read(name).decode().splitlines()
                        if "=" in line and not line.startswith("#")
                    )
                    location = "/" + jar.relative_to(adds).as_posix()
                    found.append(
                        _component("maven", props["artifactId"].strip(), props["version"].strip(), location,
                                   namespace=props["groupId"].strip())
                    )  # fmt: skip
    return found


if __name__ == "__main__":
    started = time.monotonic()
    built = build_sbom_images()
    print(f"{built.root} ({time.monotonic() - started:.1f} s; cold build steps: {built.timings()})")
    for image in IMAGE_NAMES:
        counts = {kind: len(items) for kind, items in built.truth(image).items()}
        print(f"{image}: {built.source(image, 'docker')} {built.source(image, 'oci')} {counts}")
    print(f"machine: {platform.machine()}")
