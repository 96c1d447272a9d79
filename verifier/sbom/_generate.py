"""Source → :class:`Sbom`: open the image, stream its layers through the catalogers, collect the packages."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol

from verifier.errors import DigestMismatchError, SbomSourceError
from verifier.limits import DEFAULT_LIMITS, Limits

from ._archive import open_docker_archive, open_oci, split_tag
from ._catalogers import default_catalogers
from ._image import Layer, Platform
from ._model import Cataloger, Context, ImageInfo, Package, Progress, Sbom
from ._osrelease import OsRelease
from ._prefetch import Prefetch
from ._stream import LayerStream, open_layer
from ._walk import LayerWalk, normalise

if TYPE_CHECKING:
    from verifier.registry import RegistryClient

__all__ = ["generate"]

#: a running system's virtual file systems, left out of ``dir:`` when they are mounted at its root
_VIRTUAL = ("proc", "sys", "dev")


class _Image(Protocol):
    info: ImageInfo
    layers: list[Layer]
    notes: list[str]

    def streams(self) -> Iterator[tuple[Layer, BinaryIO]]: ...
    def close(self) -> None: ...


def _docker_archive_split(text: str) -> tuple[str, str | None]:
    """``FILE[:REF]`` where REF (``repo:tag``) may hold colons: the first prefix that is a file is the path."""
    if os.path.exists(text):
        return text, None
    for i, ch in enumerate(text):
        if ch == ":" and os.path.isfile(text[:i]):
            return text[:i], text[i + 1 :] or None
    return text, None


def _open(
    source: str, platform: str | None, limits: Limits, client: Callable[[], RegistryClient] | None
) -> _Image | Path:
    if source.startswith("dir:"):
        if platform is not None:
            raise SbomSourceError(f"{source}: --platform applies to indexes; a directory holds one platform")
        root = Path(source[4:])
        if not root.is_dir():
            raise SbomSourceError(f"{source}: not a directory")
        return root
    if source.startswith("oci:") or source.startswith("oci-archive:"):
        archive = source.startswith("oci-archive:")
        rest = source.partition(":")[2]
        path, tag = split_tag(rest, os.path.exists(rest))
        if not os.path.exists(path):
            raise SbomSourceError(f"{source}: no such {'file' if archive else 'directory'}")
        return open_oci(source, path, tag, platform, limits, archive=archive)
    if source.startswith("docker-archive:"):
        if platform is not None:
            raise SbomSourceError(f"{source}: --platform applies to indexes; a docker archive holds one platform")
        path, ref = _docker_archive_split(source.partition(":")[2])
        if not os.path.isfile(path):
            raise SbomSourceError(f"{source}: no such file")
        return open_docker_archive(source, path, ref, limits)
    text = source[len("docker://") :] if source.startswith("docker://") else source
    from verifier.registry import RegistryClient  # the HTTP stack, loaded only for registry sources

    from ._registry import open_registry

    return open_registry(source, text, platform, limits, client or RegistryClient)


def generate(
    source: str,
    *,
    platform: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
    progress: Progress | None = None,
    registry_client: Callable[[], RegistryClient] | None = None,
    catalogers: Sequence[Cataloger] | None = None,
    notes: list[str] | None = None,
) -> Sbom:
    """Catalog every package of the image ``source`` names (skopeo's transport names, or a registry ref).

    ``notes`` receives what was decided on the way (tag resolved, platform chosen).
    """
    if platform is not None:
        Platform.parse(platform)  # a usage error before anything is opened
    chosen = list(catalogers) if catalogers is not None else default_catalogers()
    os_release = OsRelease()
    context = Context(limits=limits)
    walk = LayerWalk([os_release, *chosen], context)
    opened = _open(source, platform, limits, registry_client)
    layers: list[str] = []
    if isinstance(opened, Path):
        info = ImageInfo(opened.name or str(opened), None, source=source)
        skipped = _walk_directory(walk, opened, source, progress)
        if notes is not None and skipped:
            notes.append(f"{', '.join(skipped)}: mounted virtual file systems (a running system's), not read")
    else:
        try:
            info = opened.info
            if notes is not None:
                notes.extend(opened.notes)
            _walk_layers(walk, opened, limits, progress)
            layers = [layer.digest for layer in opened.layers]
        finally:
            opened.close()
    found = walk.found()
    distro = os_release.distro(found[0])
    context.distro = distro
    packages: list[Package] = []
    for cataloger, results in zip(chosen, found[1:], strict=True):
        for package in cataloger.catalog(results, context):
            if package.purl:
                packages.append(package)
            else:
                context.warn(
                    f"{package.path}: {cataloger.name} package {package.name[:100]!r} makes no package URL; skipped"
                )
    packages.sort(key=lambda p: (p.purl, p.path))
    return Sbom(info, distro, packages, context.warnings, layers)


def _walk_layers(walk: LayerWalk, image: _Image, limits: Limits, progress: Progress | None) -> None:
    total = len(image.layers)
    by_diff_id = bool(getattr(image, "by_diff_id", False))
    for index, (layer, raw) in enumerate(image.streams(), 1):
        what = f"layer {index}/{total} {layer.digest}"
        label = f"layer {index}/{total} {layer.digest[:19]}"
        if progress is not None:
            progress(label, index - 1, total)
        budget = limits.max_image_bytes - walk.bytes_seen
        tick = _ticker(progress, label, index - 1, total, layer.size) if progress is not None else None
        stream = open_layer(raw, what, limits, budget=budget, hash_output=by_diff_id, tick=tick)
        try:
            ahead = Prefetch(stream)  # reading and decompressing in a worker (hashing in another), beside parsing
            try:
                walk.tar_layer(ahead, layer.digest, what)
                ahead.finish()  # the padding and trailing blocks too, so the digests cover the whole blob
            finally:
                ahead.close()
            walk.bytes_seen += stream.out
            _check_digest(stream, layer, by_diff_id, what)
        finally:
            stream.close()
    if progress is not None:
        progress("layers read", total, total)


def _ticker(progress: Progress, what: str, done: int, total: int, size: int) -> Callable[[int], None]:
    def tick(read: int) -> None:
        of = f"/{size / 1048576:.0f}" if size else ""
        progress(f"{what} {read / 1048576:.0f}{of} MiB", done, total)

    return tick


def _check_digest(stream: LayerStream, layer: Layer, by_diff_id: bool, what: str) -> None:
    if by_diff_id:
        got = stream.output_digest
        if layer.diff_id and layer.diff_id.startswith("sha256:") and got != layer.diff_id:
            raise DigestMismatchError(f"{what}: content hashes to {got}, not its diff_id")
    elif layer.digest.startswith("sha256:") and (got := stream.compressed_digest) != layer.digest:
        raise DigestMismatchError(f"{what}: content hashes to {got}")


def _walk_directory(walk: LayerWalk, root: Path, source: str, progress: Progress | None) -> list[str]:
    """Every file under ``root``; symbolic links are neither followed nor read. A running system's ``proc``,
    ``sys`` and ``dev`` (mount points at the root: ``dir:/``) are not walked, as syft leaves them too; in an
    unpacked root file system they are plain directories and are read. Returns those left out."""
    walk.begin_directory()
    if progress is not None:
        progress(f"reading {root}", 0, 0)
    skipped = [name for name in _VIRTUAL if os.path.ismount(root / name)]
    stack = [root]
    while stack:
        directory = stack.pop()
        try:
            entries = list(os.scandir(directory))
        except OSError as exc:
            walk.context.warn(f"{source}: cannot list {directory}: {exc.strerror or exc}")
            continue
        for entry in entries:
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISDIR(info.st_mode):
                if directory != root or entry.name not in skipped:
                    stack.append(Path(entry.path))
                continue
            rel = normalise(os.path.relpath(entry.path, root))
            if not rel:
                continue
            walk.file(rel, info.st_size, info.st_mode, _reader(Path(entry.path), info.st_size, source), source)
    return skipped


def _reader(path: Path, size: int, source: str) -> Callable[[int], bytes]:
    def read(n: int) -> bytes:
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            with os.fdopen(fd, "rb") as handle:
                return handle.read(size if n < 0 else min(n, size))
        except OSError as exc:
            raise SbomSourceError(f"{source}: cannot read {path}: {exc.strerror or exc}") from None

    return read
