"""Images on disk: OCI layouts (``oci:DIR[:TAG]``), their tar form (``oci-archive:FILE[:TAG]``) and what
``docker save`` writes (``docker-archive:FILE[:REF]``).

Archives are read in place (a tar's members are opened where they lie); nothing is unpacked. Every name an
archive gives (``manifest.json``'s ``Layers``, ``Config``) is only looked up among the archive's own members;
blob names are built from validated digests. Manifests and configs are checked against their digests, layers
while they stream (see :mod:`._stream`).
"""

from __future__ import annotations

import posixpath
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol, cast

import orjson

from verifier.errors import ImageInvalidError, SbomSourceError
from verifier.limits import Limits

from ._image import (
    Layer,
    check_digest,
    choose_manifest,
    is_index,
    parse_config,
    parse_json,
    parse_manifest,
    sha256_digest,
    verify_blob,
    with_diff_ids,
)
from ._model import ImageInfo
from ._walk import normalise

__all__ = ["OpenedImage", "open_docker_archive", "open_oci"]

_REF_NAME = "org.opencontainers.image.ref.name"
_IMAGE_NAME = "io.containerd.image.name"
_SMALL = 4 * 1024 * 1024
_MAX_MEMBERS = 100_000


class _Files(Protocol):
    def read(self, name: str, what: str) -> bytes: ...
    def open(self, name: str, what: str) -> BinaryIO: ...
    def close(self) -> None: ...


class _DirFiles:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, name: str, what: str) -> Path:
        clean = normalise(name)
        if not clean:
            raise ImageInvalidError(f"{what}: bad name {name[:80]!r} in the layout")
        return self.root / clean

    def read(self, name: str, what: str) -> bytes:
        with self.open(name, what) as handle:
            data = handle.read(_SMALL + 1)
        if len(data) > _SMALL:
            raise ImageInvalidError(f"{what}: larger than {_SMALL} bytes")
        return data

    def open(self, name: str, what: str) -> BinaryIO:
        path = self._path(name, what)
        try:
            if path.is_symlink() or not path.is_file():
                raise ImageInvalidError(f"{what}: {name} is missing from {self.root}")
            return path.open("rb")
        except OSError as exc:
            raise ImageInvalidError(f"{what}: cannot read {name}: {exc.strerror or exc}") from None

    def close(self) -> None:
        pass


class _TarFiles:
    def __init__(self, path: Path, source: str) -> None:
        try:
            self._tar = tarfile.open(path, mode="r:")
            members = []
            for member in self._tar:  # an image archive holds blobs and a few JSON files, not a file system
                members.append(member)
                if len(members) > _MAX_MEMBERS:
                    self._tar.close()
                    raise ImageInvalidError(f"{source}: more than {_MAX_MEMBERS} entries: not an image archive")
            self._members = {normalise(m.name): m for m in members if m.isreg()}
            for link in members:  # docker save's <id>/layer.tar may be a symlink to a blob in the archive
                if link.issym():
                    target = normalise(posixpath.join(posixpath.dirname(link.name), link.linkname))
                    if target in self._members:
                        self._members.setdefault(normalise(link.name), self._members[target])
        except FileNotFoundError:
            raise SbomSourceError(f"{source}: no such file") from None
        except (tarfile.TarError, EOFError) as exc:
            raise ImageInvalidError(f"{source}: not a readable tar archive: {str(exc)[:120]}") from None
        except OSError as exc:
            raise SbomSourceError(f"{source}: {exc.strerror or exc}") from None

    def read(self, name: str, what: str) -> bytes:
        with self.open(name, what) as handle:
            data = handle.read(_SMALL + 1)
        if len(data) > _SMALL:
            raise ImageInvalidError(f"{what}: larger than {_SMALL} bytes")
        return data

    def open(self, name: str, what: str) -> BinaryIO:
        member = self._members.get(normalise(name))
        if member is None:
            raise ImageInvalidError(f"{what}: {name[:120]} is not in the archive")
        handle = self._tar.extractfile(member)
        if handle is None:  # pragma: no cover - regular members always have one
            raise ImageInvalidError(f"{what}: {name[:120]} cannot be read")
        return cast(BinaryIO, handle)

    def close(self) -> None:
        self._tar.close()


@dataclass(slots=True)
class OpenedImage:
    """An image ready to be read: what it is, its layers, and how to stream each."""

    info: ImageInfo
    layers: list[Layer]
    #: what was decided on the way ("platform linux/arm64/v8 chosen from the index")
    notes: list[str]
    files: _Files
    #: whether layers are checked against their diff-ids (uncompressed digests) rather than their digests
    by_diff_id: bool = False

    def streams(self) -> Iterator[tuple[Layer, BinaryIO]]:
        """Each layer's raw (possibly compressed) bytes, in order."""
        for layer in self.layers:
            name = layer.member or _blob_name(layer.digest)
            handle = self.files.open(name, f"layer {layer.digest}")
            try:
                yield layer, handle
            finally:
                handle.close()

    def close(self) -> None:
        self.files.close()


def _blob_name(digest: str) -> str:
    algorithm, _, hex_ = digest.partition(":")
    return f"blobs/{algorithm}/{hex_}"


def _read_blob(files: _Files, digest: str, what: str) -> bytes:
    data = files.read(_blob_name(digest), what)
    verify_blob(data, digest, what)
    return data


def split_tag(text: str, exists: bool) -> tuple[str, str | None]:
    """``PATH[:TAG]`` as skopeo reads it: a path that exists as given has no tag."""
    if exists or ":" not in text:
        return text, None
    path, _, tag = text.rpartition(":")
    return path, tag or None


def open_oci(
    source: str, path: str, tag: str | None, platform: str | None, limits: Limits, *, archive: bool
) -> OpenedImage:
    """An image from an OCI layout directory or its tar form, by tag (or the only image in it)."""
    root = Path(path)
    files: _Files
    if archive:
        files = _TarFiles(root, source)
    else:
        if not (root / "index.json").is_file():
            raise SbomSourceError(f"{source}: {path} is not an OCI layout (no index.json)")
        files = _DirFiles(root)
    try:
        index = parse_json(files.read("index.json", f"{source} index.json"), f"{source} index.json")
        entry = _pick_entry(index, tag, source)
        digest = check_digest(entry.get("digest"), f"{source} index.json")
        name = _name_of(entry, root, tag)
        return _resolve(files, digest, name, source, platform, limits)
    except BaseException:
        files.close()
        raise


def _pick_entry(index: dict[str, Any], tag: str | None, source: str) -> dict[str, Any]:
    entries = [e for e in index.get("manifests") or [] if isinstance(e, dict)]
    if tag is not None:
        named = [e for e in entries if (e.get("annotations") or {}).get(_REF_NAME) == tag]
        if not named:
            raise SbomSourceError(f"{source}: no image tagged {tag!r} in the layout")
        return named[0]
    if len(entries) != 1:
        tags = sorted(str((e.get("annotations") or {}).get(_REF_NAME, "?")) for e in entries)
        raise SbomSourceError(
            f"{source}: the layout holds {len(entries)} images; name one with :TAG ({', '.join(tags)})"
        )
    return entries[0]


def _name_of(entry: dict[str, Any], root: Path, tag: str | None) -> str:
    annotations = entry.get("annotations") or {}
    image = annotations.get(_IMAGE_NAME)
    if isinstance(image, str) and image:
        return image
    return root.name


def _resolve(files: _Files, digest: str, name: str, source: str, platform: str | None, limits: Limits) -> OpenedImage:
    what = f"{source} manifest {digest}"
    data = parse_json(_read_blob(files, digest, what), what)
    notes = []
    if is_index(data):
        digest, chosen = choose_manifest(data, platform, f"{source} index", limits)
        notes.append(f"platform {chosen} chosen from the index")
        what = f"{source} manifest {digest}"
        data = parse_json(_read_blob(files, digest, what), what)
    config_digest, layers = parse_manifest(data, what, limits)
    config = parse_config(_read_blob(files, config_digest, f"{source} config"), f"{source} config")
    info = ImageInfo(
        name, digest, config.os, config.architecture, config.variant, config.created, source, image_id=config_digest
    )
    return OpenedImage(info, with_diff_ids(layers, config), notes, files)


def open_docker_archive(source: str, path: str, ref: str | None, limits: Limits) -> OpenedImage:
    """An image from a ``docker save`` tar: ``manifest.json``, the config, and uncompressed layer tars."""
    files = _TarFiles(Path(path), source)
    try:
        try:
            manifest = orjson.loads(files.read("manifest.json", f"{source} manifest.json"))
        except orjson.JSONDecodeError:
            raise ImageInvalidError(f"{source}: manifest.json is not valid JSON") from None
        if not isinstance(manifest, list) or not manifest or not all(isinstance(m, dict) for m in manifest):
            raise ImageInvalidError(f"{source}: manifest.json is not a list of images")
        if ref is not None:
            chosen = [m for m in manifest if ref in (m.get("RepoTags") or [])]
            if not chosen:
                raise SbomSourceError(f"{source}: no image tagged {ref!r} in the archive")
        elif len(manifest) != 1:
            raise SbomSourceError(f"{source}: the archive holds {len(manifest)} images; name one with :REF")
        else:
            chosen = manifest
        entry = chosen[0]
        config_name, layer_names = entry.get("Config"), entry.get("Layers")
        if not isinstance(config_name, str) or not isinstance(layer_names, list):
            raise ImageInvalidError(f"{source}: manifest.json entry has no Config or Layers")
        if len(layer_names) > limits.max_layers:
            raise ImageInvalidError(f"{source}: {len(layer_names)} layers, above the limit max_layers")
        raw_config = files.read(config_name, f"{source} config")
        config = parse_config(raw_config, f"{source} config")
        if len(config.diff_ids) != len(layer_names):
            raise ImageInvalidError(
                f"{source}: config lists {len(config.diff_ids)} diff_ids for {len(layer_names)} layers"
            )
        layers = [Layer(d, "", 0, d, str(n)) for d, n in zip(config.diff_ids, layer_names, strict=True)]
        tags = entry.get("RepoTags") or []
        name = str(ref or (tags[0] if tags and isinstance(tags[0], str) else Path(path).name))
        image_id = sha256_digest(raw_config)
        info = ImageInfo(
            name, None, config.os, config.architecture, config.variant, config.created, source, image_id=image_id
        )
        return OpenedImage(info, layers, [], files, by_diff_id=True)
    except BaseException:
        files.close()
        raise
