"""Pack directory trees as image layers and write them as docker-archive and oci-archive files.

    base = Layer.write(work / "base.tar", rootfs)                 # a tar of the tree, with its diff-id
    gone = Layer.whiteouts(work / "rm.tar", ["a/.wh.b", "c/.wh..wh..opq"])
    pack_docker_archive(Path("img.docker.tar"), [base, gone], "amd64", "test/img:1")
    pack_oci_archive(Path("img.oci.tar"), [base, gone], "amd64", "1")

Layers keep the tree's modes, owners, symbolic and hard links; device nodes, fifos and sockets (debootstrap's
``/dev``) are left out. Entries are in sorted order; the oci-archive's gzip streams have no timestamp.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import stat
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Layer", "pack_docker_archive", "pack_oci_archive"]

_CREATED = "2024-01-01T00:00:00Z"
_CHUNK = 1 << 20


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


@dataclass
class Layer:
    """An uncompressed layer tar on disk, its diff-id and (once made) its gzip blob."""

    path: Path
    diff_id: str
    _gzip: tuple[Path, str] | None = field(default=None, repr=False)

    @classmethod
    def write(cls, path: Path, tree: Path) -> Layer:
        with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
            _add_tree(tar, tree)
        return cls(path, _sha256_file(path))

    @classmethod
    def whiteouts(cls, path: Path, entries: list[str]) -> Layer:
        """A layer of empty whiteout files (``dir/.wh.NAME``, ``dir/.wh..wh..opq``) and their parent dirs."""
        with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
            parents = sorted({p.as_posix() for e in entries for p in Path(e).parents if p.as_posix() != "."})
            for name in parents:
                info = tarfile.TarInfo(name)
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            for name in sorted(entries):
                info = tarfile.TarInfo(name)
                info.mode = 0o644
                tar.addfile(info, io.BytesIO(b""))
        return cls(path, _sha256_file(path))

    def gzipped(self) -> tuple[Path, str]:
        """The gzip blob (written once) and its digest."""
        if self._gzip is None:
            target = self.path.with_suffix(".tar.gz")
            with self.path.open("rb") as src, target.open("wb") as raw:
                with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, compresslevel=6) as out:
                    shutil.copyfileobj(src, out, _CHUNK)
            self._gzip = (target, _sha256_file(target))
        return self._gzip


def _add_tree(tar: tarfile.TarFile, tree: Path) -> None:
    for top, dirs, files in os.walk(tree):
        dirs.sort()
        for name in sorted(dirs) + sorted(files):
            path = os.path.join(top, name)
            mode = os.lstat(path).st_mode
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode)):
                continue
            info = tar.gettarinfo(path, os.path.relpath(path, tree))
            info.uname = info.gname = ""
            if info.isreg():
                with open(path, "rb") as handle:
                    tar.addfile(info, handle)
            else:
                tar.addfile(info)


def _config(layers: list[Layer], arch: str) -> bytes:
    config: dict[str, Any] = {
        "architecture": arch,
        "os": "linux",
        "created": _CREATED,
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
        "history": [{"created": _CREATED, "created_by": f"tools/sbomimages.py layer {n}"} for n in range(len(layers))],
    }
    return json.dumps(config, sort_keys=True).encode()


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), 0o644
    tar.addfile(info, io.BytesIO(data))


def _add_dir(tar: tarfile.TarFile, name: str) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.mode = tarfile.DIRTYPE, 0o755
    tar.addfile(info)


def _add_file(tar: tarfile.TarFile, name: str, path: Path) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = path.stat().st_size, 0o644
    with path.open("rb") as handle:
        tar.addfile(info, handle)


def pack_docker_archive(target: Path, layers: list[Layer], arch: str, repo_tag: str) -> None:
    """What ``docker save`` writes: ``manifest.json``, ``HEX.json`` config, ``DIFFID/layer.tar``."""
    config = _config(layers, arch)
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    names = [layer.diff_id.removeprefix("sha256:") + "/layer.tar" for layer in layers]
    manifest = [{"Config": config_name, "RepoTags": [repo_tag], "Layers": names}]
    with target.open("wb") as raw, tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        _add_bytes(tar, config_name, config)
        for name, layer in zip(names, layers, strict=True):
            _add_dir(tar, name.split("/")[0])  # as docker save writes them: a directory entry, then layer.tar
            _add_file(tar, name, layer.path)
        _add_bytes(tar, "manifest.json", json.dumps(manifest).encode())
        _add_bytes(tar, "repositories", b"{}")


def _descriptor(media_type: str, digest: str, size: int, **extra: Any) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": digest, "size": size, **extra}


def pack_oci_archive(target: Path, layers: list[Layer], arch: str, tag: str) -> None:
    """An OCI image layout in a tar: ``oci-layout``, ``index.json`` (the manifest, named ``tag``), gzip blobs."""
    config = _config(layers, arch)
    blobs: list[tuple[str, Path | bytes]] = []
    layer_descriptors = []
    for layer in layers:
        path, digest = layer.gzipped()
        blobs.append((digest, path))
        layer_descriptors.append(
            _descriptor("application/vnd.oci.image.layer.v1.tar+gzip", digest, path.stat().st_size)
        )
    config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": _descriptor("application/vnd.oci.image.config.v1+json", config_digest, len(config)),
            "layers": layer_descriptors,
        },
        sort_keys=True,
    ).encode()
    manifest_digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    blobs += [(config_digest, config), (manifest_digest, manifest)]
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            _descriptor(
                "application/vnd.oci.image.manifest.v1+json",
                manifest_digest,
                len(manifest),
                annotations={"org.opencontainers.image.ref.name": tag},
            )
        ],
    }
    with target.open("wb") as raw, tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        _add_dir(tar, "blobs")  # syft's oci-archive reader needs the directory entries
        _add_dir(tar, "blobs/sha256")
        _add_bytes(tar, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        for digest, blob in blobs:
            name = "blobs/sha256/" + digest.removeprefix("sha256:")
            if isinstance(blob, Path):
                _add_file(tar, name, blob)
            else:
                _add_bytes(tar, name, blob)
        _add_bytes(tar, "index.json", json.dumps(index).encode())
