"""Small, distinct, real OCI images built offline, and pushed to a :class:`LocalRegistry` with skopeo.

    layout = build_image(tmp, name="app", files={"app/hello.txt": b"hi"})
    digest = push_image(layout, registry, "demo/app", "v1")        # "sha256:..."
    pushed = push_index(tmp, registry, "demo/multi", "v1", name="multi")
    pushed.digest, pushed.children                                 # index digest, {"linux/amd64": ...}

Layouts are written directly from Python (deterministic: same inputs, same digests): an OCI image layout
with one gzip tar layer, an image config and a manifest, or an image index over several such images.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import logging
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .localregistry import LocalRegistry, ToolError

__all__ = [
    "INDEX_MEDIA_TYPE",
    "MANIFEST_MEDIA_TYPE",
    "Platform",
    "PushedIndex",
    "build_image",
    "build_index",
    "layout_digest",
    "push_image",
    "push_index",
]

_logger = logging.getLogger(__name__)

MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
INDEX_MEDIA_TYPE = "application/vnd.oci.image.index.v1+json"
_CONFIG_MEDIA_TYPE = "application/vnd.oci.image.config.v1+json"
_LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
_REF_NAME = "org.opencontainers.image.ref.name"
_TITLE = "org.opencontainers.image.title"
_CREATED = "2024-01-01T00:00:00Z"
_EPOCH = 1704067200
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

#: ``(os, architecture)`` or ``(os, architecture, variant)``
Platform = tuple[str, str] | tuple[str, str, str]
_DEFAULT_PLATFORMS: tuple[Platform, ...] = (("linux", "amd64"), ("linux", "arm64"))


@dataclass(frozen=True)
class PushedIndex:
    """An image index pushed by :func:`push_index`."""

    ref: str
    """``HOST/repo:tag``"""
    digest: str
    """digest of the index manifest"""
    children: dict[str, str] = field(default_factory=dict)
    """platform (``os/arch[/variant]``) -> digest of that platform's image manifest"""


# -- building ----------------------------------------------------------------------------------------------


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()


def _put_blob(layout: Path, data: bytes) -> dict[str, Any]:
    digest = hashlib.sha256(data).hexdigest()
    path = layout / "blobs" / "sha256" / digest
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def _layer_tar(files: Mapping[str, bytes]) -> bytes:
    buf = io.BytesIO()
    dirs: set[str] = set()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for raw_name in sorted(files):
            name = raw_name.strip("/")
            parts = name.split("/")
            if not name or any(part in ("", ".", "..") for part in parts):
                raise ToolError(f"bad file name in image: {raw_name!r}")
            for i in range(1, len(parts)):
                parent = "/".join(parts[:i])
                if parent not in dirs:
                    dirs.add(parent)
                    info = tarfile.TarInfo(parent + "/")
                    info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, _EPOCH
                    tar.addfile(info)
            data = files[raw_name]
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, _EPOCH
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _platform_dict(platform: Platform) -> dict[str, str]:
    result = {"os": platform[0], "architecture": platform[1]}
    if len(platform) > 2:
        result["variant"] = platform[2]
    return result


def _platform_name(platform: Platform) -> str:
    return "/".join(platform)


def _write_image(layout: Path, name: str, files: Mapping[str, bytes], platform: Platform) -> dict[str, Any]:
    """Write config, layer and manifest blobs into ``layout``; return the manifest's descriptor."""
    tar = _layer_tar(files)
    layer = {"mediaType": _LAYER_MEDIA_TYPE, **_put_blob(layout, gzip.compress(tar, mtime=0))}
    config = {
        **_platform_dict(platform),
        "created": _CREATED,
        "config": {"Labels": {_TITLE: name}, "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{hashlib.sha256(tar).hexdigest()}"]},
        "history": [{"created": _CREATED, "created_by": f"sealgate tools.testimages {name}"}],
    }
    config_desc = {"mediaType": _CONFIG_MEDIA_TYPE, **_put_blob(layout, _canonical(config))}
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "config": config_desc,
        "layers": [layer],
        "annotations": {_TITLE: name},
    }
    return {"mediaType": MANIFEST_MEDIA_TYPE, **_put_blob(layout, _canonical(manifest))}


def _new_layout(workdir: Path, name: str) -> Path:
    if not _SAFE_NAME.match(name):
        raise ToolError(f"bad image name {name!r}: use letters, digits, '.', '_' and '-'")
    layout = Path(workdir) / name
    if ":" in str(layout.resolve()):
        raise ToolError(f"oci layout path may not contain ':': {layout}")
    if layout.exists():
        shutil.rmtree(layout)
    layout.mkdir(parents=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    return layout


def _write_index_json(layout: Path, top: dict[str, Any]) -> None:
    entry = {**top, "annotations": {_REF_NAME: "latest"}}
    (layout / "index.json").write_bytes(_canonical({"schemaVersion": 2, "manifests": [entry]}))


def build_image(
    workdir: Path, *, name: str, files: Mapping[str, bytes], platform: Platform = ("linux", "amd64")
) -> Path:
    """Write an OCI image layout ``workdir/name`` holding one single-platform image; return its path.

    ``files`` maps paths inside the image (``"app/hello.txt"``) to their content; ``name`` becomes the
    image's title label. Different ``files`` or ``name`` give a different manifest digest.
    """
    layout = _new_layout(workdir, name)
    _write_index_json(layout, _write_image(layout, name, files, platform))
    _logger.debug("built image layout %s", layout)
    return layout


def build_index(
    workdir: Path,
    *,
    name: str,
    files: Mapping[str, bytes] | None = None,
    platforms: Sequence[Platform] = _DEFAULT_PLATFORMS,
) -> Path:
    """Write an OCI layout ``workdir/name`` holding an image index over one image per platform.

    Each platform's image gets ``files`` plus a file ``etc/platform`` naming the platform, so the
    children are distinct.
    """
    if not platforms:
        raise ToolError("an image index needs at least one platform")
    layout = _new_layout(workdir, name)
    manifests = []
    for platform in platforms:
        content = {**(files or {}), "etc/platform": _platform_name(platform).encode()}
        desc = _write_image(layout, f"{name}-{_platform_name(platform).replace('/', '-')}", content, platform)
        manifests.append({**desc, "platform": _platform_dict(platform)})
    index = {
        "schemaVersion": 2,
        "mediaType": INDEX_MEDIA_TYPE,
        "manifests": manifests,
        "annotations": {_TITLE: name},
    }
    _write_index_json(layout, {"mediaType": INDEX_MEDIA_TYPE, **_put_blob(layout, _canonical(index))})
    _logger.debug("built index layout %s", layout)
    return layout


def _top_descriptor(layout: Path) -> dict[str, Any]:
    try:
        index = json.loads((layout / "index.json").read_bytes())
        (top,) = index["manifests"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ToolError(f"not a single-image oci layout: {layout}") from exc
    if not isinstance(top, dict):
        raise ToolError(f"not a single-image oci layout: {layout}")
    return top


def layout_digest(layout: Path) -> str:
    """The digest of the manifest (or index) a layout made here holds: what a push must report."""
    return str(_top_descriptor(layout)["digest"])


def _index_children(layout: Path) -> dict[str, str]:
    top = _top_descriptor(layout)
    if top.get("mediaType") != INDEX_MEDIA_TYPE:
        return {}
    blob = layout / "blobs" / "sha256" / str(top["digest"]).removeprefix("sha256:")
    index = json.loads(blob.read_bytes())
    children: dict[str, str] = {}
    for desc in index["manifests"]:
        plat = desc["platform"]
        key = "/".join(p for p in (plat["os"], plat["architecture"], plat.get("variant")) if p)
        children[key] = desc["digest"]
    return children


# -- pushing -------------------------------------------------------------------------------------------------


def _skopeo() -> str:
    path = shutil.which("skopeo")
    if path is None:
        raise ToolError("skopeo not found on PATH (apt-get install skopeo)")
    return path


def push_image(
    layout: Path,
    registry: LocalRegistry,
    repo: str,
    tag: str,
    *,
    creds: tuple[str, str] | None = None,
    anonymous: bool = False,
) -> str:
    """``skopeo copy`` the layout's image (or whole index) to ``registry/repo:tag``; return its digest.

    Credentials default to the registry's own (:attr:`LocalRegistry.creds`); ``anonymous=True`` pushes
    without any. An index is copied with ``--all`` so every platform's image is pushed too.
    """
    top = _top_descriptor(layout)
    with tempfile.TemporaryDirectory(prefix="sealgate-skopeo-") as tmp:
        digestfile = Path(tmp) / "digest"
        cmd = [
            _skopeo(),
            "--insecure-policy",
            "copy",
            "--quiet",
            "--dest-tls-verify=false",
            "--digestfile",
            str(digestfile),
        ]
        if top.get("mediaType") == INDEX_MEDIA_TYPE:
            cmd.append("--all")
        use = None if anonymous else (creds or registry.creds)
        if use is None:
            cmd.append("--dest-no-creds")
        else:
            cmd += ["--dest-creds", f"{use[0]}:{use[1]}"]
        cmd += [f"oci:{layout}", f"docker://{registry.host}/{repo}:{tag}"]
        # An empty auth file and HOME keep the caller's docker/podman credentials out of it.
        authfile = Path(tmp) / "auth.json"
        authfile.write_text('{"auths":{}}')
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": tmp,
            "REGISTRY_AUTH_FILE": str(authfile),
            "TMPDIR": tmp,
        }
        done = subprocess.run(cmd, capture_output=True, env=env, check=False, timeout=120)
        if done.returncode != 0:
            stderr = done.stderr.decode(errors="replace").strip()
            raise ToolError(f"skopeo copy to {registry.host}/{repo}:{tag} failed: {stderr[-1500:]}")
        digest = digestfile.read_text().strip()
    if not digest.startswith("sha256:"):
        raise ToolError(f"skopeo wrote no digest for {registry.host}/{repo}:{tag}")
    _logger.debug("pushed %s to %s/%s:%s", digest, registry.host, repo, tag)
    return digest


def push_index(
    workdir: Path,
    registry: LocalRegistry,
    repo: str,
    tag: str,
    *,
    name: str,
    files: Mapping[str, bytes] | None = None,
    platforms: Sequence[Platform] = _DEFAULT_PLATFORMS,
    creds: tuple[str, str] | None = None,
) -> PushedIndex:
    """Build a multi-platform index (see :func:`build_index`) and push it with all its images."""
    layout = build_index(workdir, name=name, files=files, platforms=platforms)
    digest = push_image(layout, registry, repo, tag, creds=creds)
    return PushedIndex(ref=f"{registry.host}/{repo}:{tag}", digest=digest, children=_index_children(layout))
