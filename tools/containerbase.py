"""A Python base image made here (Debian bookworm by debootstrap), so container builds need no registry pull.

``base_rootfs()`` returns a tarball of a minimal Debian root with ``python3`` and ``python3-venv``, built once
with ``debootstrap`` from the machine's own Debian mirror and cached under ``$XDG_CACHE_HOME/sealgate/``.
``import_base(tarball, buildah)`` turns it into a local image in buildah's storage (``buildah from scratch``,
the tarball added as its only layer) under :data:`BASE_IMAGE`; a Dockerfile built with
``--build-arg BASE=localhost/sealgate-test-base`` then starts from it.

Run as a script to fill the cache ahead of time: ``python -m tools.containerbase``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

#: the local name the imported base is committed under
BASE_IMAGE = "localhost/sealgate-test-base"
SUITE = "bookworm"  # its python3 is 3.11, the oldest sealgate supports
PACKAGES = ("python3", "python3-venv")
DEFAULT_MIRROR = "http://deb.debian.org/debian"
_DEBOOTSTRAP_TIMEOUT = 900.0
_CA_IN_BASE = "/etc/ssl/certs/ca-certificates.crt"


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/sealgate`` (``~/.cache/sealgate`` when unset)."""
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "sealgate"


def debian_mirror(sources: Sequence[Path] = ()) -> str:
    """The first Debian archive URI apt is configured with (deb822 ``URIs:`` or one-line ``deb`` entries)."""
    paths = list(sources) or [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for line in text.splitlines():
            found = re.match(r"\s*(?:URIs:\s*|deb\s+(?:\[[^\]]*\]\s+)?)(https?://\S+)", line)
            if found and "security" not in found.group(1):
                return found.group(1).rstrip("/")
    return DEFAULT_MIRROR


def base_rootfs(mirror: str | None = None) -> Path:
    """The cached rootfs tarball, made with debootstrap on first use (a few minutes; needs root)."""
    target = cache_dir() / f"debian-{SUITE}-{'-'.join(PACKAGES)}.tar"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sealgate-rootfs-", dir=target.parent) as tmp:
        root = Path(tmp) / "root"
        subprocess.run(
            ["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", SUITE, str(root),
             mirror or debian_mirror()],
            check=True, capture_output=True, timeout=_DEBOOTSTRAP_TIMEOUT,
        )
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists", "debootstrap"):
            shutil.rmtree(root / junk, ignore_errors=True)
        partial = Path(tmp) / "rootfs.tar"
        subprocess.run(["tar", "--numeric-owner", "-C", str(root), "-cf", str(partial), "."], check=True)
        partial.replace(target)  # atomic: a concurrent or interrupted run never sees half a tarball
    return target


def import_base(tarball: Path, buildah: Sequence[str], ca_bundle: Path | None = None) -> str:
    """Commit ``tarball`` as :data:`BASE_IMAGE` in the storage ``buildah`` (the command and its global options)
    points at; returns the image id.

    ``ca_bundle`` (the host's CA certificates) becomes the base's ``/etc/ssl/certs/ca-certificates.crt`` and
    ``PIP_CERT``, so pip inside a build trusts what the host trusts (a TLS-inspecting proxy, for one).
    """
    work = subprocess.run([*buildah, "from", "scratch"], check=True, capture_output=True, text=True).stdout.strip()
    try:
        subprocess.run([*buildah, "add", work, str(tarball), "/"], check=True, capture_output=True)
        config = ["--cmd", "/usr/bin/python3"]
        if ca_bundle is not None:
            subprocess.run([*buildah, "copy", work, str(ca_bundle), _CA_IN_BASE], check=True, capture_output=True)
            config += ["--env", f"PIP_CERT={_CA_IN_BASE}"]
        subprocess.run([*buildah, "config", *config, work], check=True, capture_output=True)
        return subprocess.run(
            [*buildah, "commit", "--quiet", work, BASE_IMAGE], check=True, capture_output=True, text=True
        ).stdout.strip()
    finally:
        subprocess.run([*buildah, "rm", work], check=False, capture_output=True)


if __name__ == "__main__":
    print(base_rootfs())
