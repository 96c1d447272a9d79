"""Small images written in the real formats for the SBOM tests: layer tars (with whiteouts, links, hostile
names), OCI layouts, their tar form, and `docker save` archives."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import zstandard

#: a layer entry: bytes (a regular file), ("dir",), ("symlink", target), ("hardlink", target), or
#: ("file", bytes, mode)
Entry = bytes | tuple[object, ...]


def layer_tar(files: Mapping[str, Entry]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, entry in files.items():
            info = tarfile.TarInfo(name)
            info.mtime = 0
            data = b""
            if isinstance(entry, bytes):
                data, info.mode = entry, 0o644
            elif entry[0] == "file":
                data, info.mode = entry[1], entry[2]  # type: ignore[assignment]
            elif entry[0] == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
            elif entry[0] == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, str(entry[1])
            elif entry[0] == "hardlink":
                info.type, info.linkname = tarfile.LNKTYPE, str(entry[1])
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data else None)
    return out.getvalue()


def compress(data: bytes, how: str) -> bytes:
    if how == "gzip":
        return gzip.compress(data, mtime=0)
    if how == "zstd":
        return zstandard.ZstdCompressor().compress(data)
    return data


_MEDIA = {
    "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
    "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
    "": "application/vnd.oci.image.layer.v1.tar",
}


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _put(blobs: dict[str, bytes], data: bytes) -> str:
    digest = _sha(data)
    blobs[digest] = data
    return digest


def _config(layers: Sequence[bytes], platform: str = "linux/amd64") -> bytes:
    parts = platform.split("/")
    body: dict[str, object] = {
        "architecture": parts[1],
        "os": parts[0],
        "created": "2024-01-02T03:04:05Z",
        "rootfs": {"type": "layers", "diff_ids": [_sha(t) for t in layers]},
    }
    if len(parts) == 3:
        body["variant"] = parts[2]
    return json.dumps(body).encode()


def image_blobs(
    layers: Sequence[bytes], blobs: dict[str, bytes], *, compression: str = "gzip", platform: str = "linux/amd64"
) -> dict[str, object]:
    """Store an image's blobs; returns its manifest descriptor."""
    descriptors = []
    for tar in layers:
        data = compress(tar, compression)
        descriptors.append({"mediaType": _MEDIA[compression], "digest": _put(blobs, data), "size": len(data)})
    config = _config(layers, platform)
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": _put(blobs, config),
            "size": len(config),
        },
        "layers": descriptors,
    }
    raw = json.dumps(manifest).encode()
    return {"mediaType": manifest["mediaType"], "digest": _put(blobs, raw), "size": len(raw)}


def index_blob(children: Sequence[tuple[str, dict[str, object]]], blobs: dict[str, bytes]) -> dict[str, object]:
    entries = []
    for platform, descriptor in children:
        parts = platform.split("/")
        plat = {"os": parts[0], "architecture": parts[1]}
        if len(parts) == 3:
            plat["variant"] = parts[2]
        entries.append({**descriptor, "platform": plat})
    raw = json.dumps(
        {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries}
    ).encode()
    return {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": _put(blobs, raw), "size": len(raw)}


def write_layout(root: Path, top: dict[str, object], blobs: Mapping[str, bytes], tag: str | None = "v1") -> Path:
    (root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    for digest, data in blobs.items():
        (root / "blobs" / "sha256" / digest.split(":")[1]).write_bytes(data)
    entry = dict(top)
    if tag:
        entry["annotations"] = {"org.opencontainers.image.ref.name": tag}
    (root / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [entry]}))
    return root


def tar_directory(root: Path, out: Path) -> Path:
    with tarfile.open(out, "w") as tar:
        for path in sorted(root.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(root)), recursive=False)
    return out


def oci_layout(root: Path, layers: Sequence[bytes], *, compression: str = "gzip", tag: str | None = "v1") -> Path:
    blobs: dict[str, bytes] = {}
    top = image_blobs(layers, blobs, compression=compression)
    return write_layout(root, top, blobs, tag)


def oci_archive(out: Path, layers: Sequence[bytes], *, compression: str = "gzip", tag: str | None = "v1") -> Path:
    layout = oci_layout(out.with_suffix(".layout"), layers, compression=compression, tag=tag)
    return tar_directory(layout, out)


def docker_archive(out: Path, layers: Sequence[bytes], *, repo_tag: str = "demo/app:v1") -> Path:
    config = _config(layers)
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    names = []
    with tarfile.open(out, "w") as tar:

        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))

        for i, layer in enumerate(layers):
            name = f"{i:064x}/layer.tar"
            names.append(name)
            add(name, layer)
        add(config_name, config)
        add("manifest.json", json.dumps([{"Config": config_name, "RepoTags": [repo_tag], "Layers": names}]).encode())
    return out
