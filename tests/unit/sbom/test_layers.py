"""Layers applied in order (whiteouts, opaque directories, overwrites), every source kind, platform choice, and
hostile input: corrupt or truncated streams, path traversal, links, bombs, huge files, tampered blobs."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import tarfile
import tracemalloc
import zlib
from pathlib import Path

import pytest
import zstandard

from tests.unit.sbom.images import (
    docker_archive,
    image_blobs,
    index_blob,
    layer_tar,
    oci_archive,
    oci_layout,
    write_layout,
)
from verifier.errors import DigestMismatchError, ImageInvalidError, LimitExceededError, SbomSourceError
from verifier.limits import Limits
from verifier.sbom import generate
from verifier.sbom._walk import normalise


def dist(name: str, version: str) -> bytes:
    return f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()


SITE = "usr/lib/python3.11/site-packages"
BASE = {
    f"{SITE}/alpha-1.0.dist-info/METADATA": dist("alpha", "1.0"),
    f"{SITE}/beta-1.0.dist-info/METADATA": dist("beta", "1.0"),
    f"{SITE}/gamma-1.0.dist-info/METADATA": dist("gamma", "1.0"),
    "opt/app/node_modules/left-pad/package.json": b'{"name": "left-pad", "version": "1.3.0"}',
    "opt/app/node_modules/is-odd/package.json": b'{"name": "is-odd", "version": "3.0.1"}',
}
TOP = {
    f"{SITE}/.wh.beta-1.0.dist-info": b"",  # pip uninstall beta
    f"{SITE}/gamma-1.0.dist-info/METADATA": dist("gamma", "2.0"),  # upgraded in place
    "opt/app/node_modules/.wh..wh..opq": b"",  # rm -rf node_modules && npm install
    "opt/app/node_modules/is-even/package.json": b'{"name": "is-even", "version": "1.0.0"}',
}
FINAL = ["pkg:npm/is-even@1.0.0", "pkg:pypi/alpha@1.0", "pkg:pypi/gamma@2.0"]


def purls(sbom) -> list[str]:
    return sorted(p.purl for p in sbom.packages)


@pytest.mark.parametrize("compression", ["gzip", "zstd", ""])
def test_whiteouts_opaque_directories_and_overwrites_in_every_compression(tmp_path, compression):
    layout = oci_layout(tmp_path / "img", [layer_tar(BASE), layer_tar(TOP)], compression=compression)
    sbom = generate(f"oci:{layout}")
    assert purls(sbom) == FINAL
    top_layer = sbom.layers[1]
    assert {p.name: p.layer for p in sbom.packages} == {
        "alpha": sbom.layers[0],
        "gamma": top_layer,
        "is-even": top_layer,
    }


def test_every_source_kind_gives_the_same_packages(tmp_path):
    layers = [layer_tar(BASE), layer_tar(TOP)]
    archive = oci_archive(tmp_path / "img.tar", layers)
    docker = docker_archive(tmp_path / "docker.tar", layers, repo_tag="demo/app:v1")
    rootfs = tmp_path / "rootfs"
    for name, data in BASE.items():
        if "node_modules" in name or "beta" in name:
            continue
        (rootfs / name).parent.mkdir(parents=True, exist_ok=True)
        (rootfs / name).write_bytes(data)
    (rootfs / f"{SITE}/gamma-1.0.dist-info/METADATA").write_bytes(dist("gamma", "2.0"))
    (rootfs / "opt/app/node_modules/is-even").mkdir(parents=True)
    (rootfs / "opt/app/node_modules/is-even/package.json").write_bytes(TOP["opt/app/node_modules/is-even/package.json"])
    for source in (
        f"oci-archive:{archive}",
        f"oci-archive:{archive}:v1",
        f"docker-archive:{docker}",
        f"docker-archive:{docker}:demo/app:v1",
        f"dir:{rootfs}",
    ):
        assert purls(generate(source)) == FINAL, source
    image = generate(f"docker-archive:{docker}").image
    assert (image.name, image.platform, image.digest) == ("demo/app:v1", "linux/amd64", None)
    assert image.image_id is not None and image.image_id.startswith("sha256:")


def test_dir_source_does_not_follow_symlinks_or_loop(tmp_path):
    rootfs = tmp_path / "rootfs"
    (rootfs / "a").mkdir(parents=True)
    (rootfs / "a" / "loop").symlink_to("..")
    (rootfs / "a" / "self").symlink_to("self")
    outside = tmp_path / "outside.dist-info"
    outside.mkdir()
    (outside / "METADATA").write_bytes(dist("secret", "1"))
    (rootfs / SITE).mkdir(parents=True)
    (rootfs / SITE / "secret-1.dist-info").symlink_to(outside)
    (rootfs / SITE / "real-1.dist-info").mkdir()
    (rootfs / SITE / "real-1.dist-info" / "METADATA").symlink_to(outside / "METADATA")
    assert generate(f"dir:{rootfs}").packages == []


@pytest.mark.parametrize("mounted", [False, True], ids=["an unpacked root's plain dirs", "a running system's mounts"])
def test_dir_source_leaves_out_proc_sys_dev_only_when_they_are_mounts(tmp_path, monkeypatch, mounted):
    rootfs = tmp_path / "rootfs"
    for top in ("proc", "sys", "dev", "usr"):
        (rootfs / top / SITE).mkdir(parents=True)
        (rootfs / top / SITE / f"in-{top}-1.dist-info").mkdir()
        (rootfs / top / SITE / f"in-{top}-1.dist-info" / "METADATA").write_bytes(dist(f"in-{top}", "1"))
    real = os.path.ismount
    virtual = {str(rootfs / name) for name in ("proc", "sys", "dev")} if mounted else set()
    monkeypatch.setattr(os.path, "ismount", lambda path: str(path) in virtual or real(path))
    notes: list[str] = []
    sbom = generate(f"dir:{rootfs}", notes=notes)
    kept = ["usr"] if mounted else ["dev", "proc", "sys", "usr"]
    assert [p.purl for p in sbom.packages] == [f"pkg:pypi/in-{top}@1" for top in kept]
    assert notes == (["proc, sys, dev: mounted virtual file systems (a running system's), not read"] if mounted else [])


def _index_layout(tmp_path: Path, platforms: list[str]) -> Path:
    blobs: dict[str, bytes] = {}
    children = []
    for platform in platforms:
        files = {f"{SITE}/p-1.dist-info/METADATA": dist(platform.replace("/", "-"), "1")}
        children.append((platform, image_blobs([layer_tar(files)], blobs, platform=platform)))
    children.append(("unknown/unknown", image_blobs([layer_tar({})], blobs, platform="unknown/unknown")))
    return write_layout(tmp_path / "index", index_blob(children, blobs), blobs)


def test_index_platform_choice(tmp_path):
    layout = _index_layout(tmp_path, ["linux/arm64/v8", "linux/amd64"])
    notes: list[str] = []
    assert purls(generate(f"oci:{layout}", notes=notes)) == ["pkg:pypi/linux-amd64@1"]
    assert notes == ["platform linux/amd64 chosen from the index"]
    sbom = generate(f"oci:{layout}:v1", platform="linux/arm64")
    assert purls(sbom) == ["pkg:pypi/linux-arm64-v8@1"]
    assert sbom.image.platform == "linux/arm64/v8"
    with pytest.raises(
        ImageInvalidError,
        match=r"no image for platform linux/s390x in the index \(it has linux/amd64, "
        r"linux/arm64/v8\)",
    ):
        generate(f"oci:{layout}", platform="linux/s390x")


def test_index_without_amd64_takes_its_only_image_or_asks(tmp_path):
    only = _index_layout(tmp_path / "one", ["linux/arm64/v8"])
    assert purls(generate(f"oci:{only}")) == ["pkg:pypi/linux-arm64-v8@1"]
    two = _index_layout(tmp_path / "two", ["linux/arm64/v8", "linux/ppc64le"])
    with pytest.raises(ImageInvalidError, match="no linux/amd64 image in the index; choose one with --platform"):
        generate(f"oci:{two}")


# --- hostile input ---------------------------------------------------------------------------------------


def test_path_traversal_absolute_paths_and_hard_links(tmp_path):
    raw = layer_tar(
        {
            "../../etc/evil.dist-info/METADATA": dist("evil", "1"),
            f"/{SITE}/abs-1.dist-info/METADATA": dist("abs", "1"),
            f"./{SITE}/dot-1.dist-info/METADATA": dist("dot", "1"),
            f"{SITE}/link-1.dist-info/METADATA": ("hardlink", f"{SITE}/dot-1.dist-info/METADATA"),
            f"{SITE}/out-1.dist-info/METADATA": ("hardlink", "../../../etc/shadow"),
            f"{SITE}/nowhere-1.dist-info/METADATA": ("hardlink", "etc/nothing"),
            f"{SITE}/sym-1.dist-info/METADATA": ("symlink", "/etc/passwd"),
        }
    )
    layout = oci_layout(tmp_path / "img", [raw])
    before = set(os.listdir(tmp_path))
    sbom = generate(f"oci:{layout}")
    assert purls(sbom) == ["pkg:pypi/abs@1", "pkg:pypi/dot@1", "pkg:pypi/dot@1"]
    assert sorted(p.path for p in sbom.packages)[-1].endswith("link-1.dist-info/METADATA")
    assert any("climbs out of the root" in w for w in sbom.warnings)
    assert any("hard link" in w and "points out of the root" in w for w in sbom.warnings)
    assert set(os.listdir(tmp_path)) == before  # nothing unpacked anywhere


def _layout_with_raw_layer(tmp_path: Path, data: bytes, media: str = "gzip") -> Path:
    layout = oci_layout(tmp_path / "img", [layer_tar({"a": b"x"})], compression=media)
    index = json.loads((layout / "index.json").read_text())
    manifest_path = layout / "blobs/sha256" / index["manifests"][0]["digest"].split(":")[1]
    manifest = json.loads(manifest_path.read_text())
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    (layout / "blobs/sha256" / digest.split(":")[1]).write_bytes(data)
    manifest["layers"][0].update(digest=digest, size=len(data))
    raw = json.dumps(manifest).encode()
    new = "sha256:" + hashlib.sha256(raw).hexdigest()
    (layout / "blobs/sha256" / new.split(":")[1]).write_bytes(raw)
    index["manifests"][0].update(digest=new, size=len(raw))
    (layout / "index.json").write_text(json.dumps(index))
    return layout


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("corrupt gzip", b"\x1f\x8b\x08\x00" + b"\x00" * 6 + b"garbage" * 50, "corrupt gzip stream"),
        (
            "truncated gzip",
            gzip.compress(layer_tar({"big": os.urandom(50_000)}))[:3000],
            "corrupt gzip stream: truncated",
        ),
        ("corrupt zstd", b"\x28\xb5\x2f\xfd" + b"\xff" * 100, "corrupt zstd stream"),
        ("truncated tar", layer_tar({"big": os.urandom(50_000)})[:20_000], "corrupt tar"),
        ("not a tar", b"hello world, this is not a tar archive at all" * 20, "corrupt tar"),
    ],
)
def test_corrupt_layers_are_one_clear_error(tmp_path, name, data, message):
    layout = _layout_with_raw_layer(tmp_path, data)
    with pytest.raises(ImageInvalidError, match=message):
        generate(f"oci:{layout}")


@pytest.mark.parametrize("kind", ["gzip", "zstd"])
def test_decompression_bomb_stops_at_the_ratio_limit_in_bounded_memory(tmp_path, kind):
    header = tarfile.TarInfo("zeros")
    header.size = 512 * 1024 * 1024
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31) if kind == "gzip" else zstandard.ZstdCompressor().compressobj()
    parts = [compressor.compress(header.tobuf())]
    chunk = b"\0" * (1024 * 1024)
    for _ in range(512):
        parts.append(compressor.compress(chunk))
    parts.append(compressor.flush())
    bomb = b"".join(parts)
    assert len(bomb) < 1024 * 1024
    layout = _layout_with_raw_layer(tmp_path, bomb)
    tracemalloc.start()
    try:
        with pytest.raises(LimitExceededError, match="max_decompression_ratio"):
            generate(f"oci:{layout}", limits=Limits(decompression_slack=8 * 1024 * 1024))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 * 1024 * 1024


def test_image_byte_and_file_limits(tmp_path):
    layout = oci_layout(tmp_path / "img", [layer_tar({f"f{i}": b"x" * 1000 for i in range(50)})])
    with pytest.raises(LimitExceededError, match="max_image_files"):
        generate(f"oci:{layout}", limits=Limits(max_image_files=10))
    with pytest.raises(LimitExceededError, match="max_image_bytes"):
        generate(f"oci:{layout}", limits=Limits(max_image_bytes=20_000))


def test_a_huge_single_file_is_not_read_into_memory(tmp_path):
    big = f"{SITE}/huge-1.dist-info/METADATA"
    layout = oci_layout(tmp_path / "img", [layer_tar({big: dist("huge", "1") + b"x" * 3_000_000, **BASE})])
    sbom = generate(f"oci:{layout}", limits=Limits(max_file_read_bytes=1_000_000))
    assert "pkg:pypi/huge@1" not in purls(sbom) and "pkg:pypi/alpha@1.0" in purls(sbom)
    assert any("huge-1.dist-info/METADATA not read" in w and "max_file_read_bytes" in w for w in sbom.warnings)


def test_tampered_blob_is_a_digest_mismatch(tmp_path):
    layout = oci_layout(tmp_path / "img", [layer_tar(BASE)], compression="")
    manifest = json.loads((layout / "index.json").read_text())["manifests"][0]["digest"]
    body = json.loads((layout / "blobs/sha256" / manifest.split(":")[1]).read_text())
    layer = layout / "blobs/sha256" / body["layers"][0]["digest"].split(":")[1]
    data = bytearray(layer.read_bytes())
    data[600] ^= 1
    layer.write_bytes(bytes(data))
    with pytest.raises(DigestMismatchError, match="content hashes to"):
        generate(f"oci:{layout}")


def test_docker_archive_layer_that_does_not_match_its_diff_id(tmp_path):
    archive = docker_archive(tmp_path / "d.tar", [layer_tar(BASE)])
    with tarfile.open(archive) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]
    name = next(n for n in members if n.endswith("layer.tar"))
    members[name] = layer_tar({**BASE, "extra": b"x"})
    with tarfile.open(archive, "w") as tar:
        for member, data in members.items():
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, __import__("io").BytesIO(data))
    with pytest.raises(DigestMismatchError, match="not its diff_id"):
        generate(f"docker-archive:{archive}")


@pytest.mark.parametrize("altered", [False, True], ids=["same tar", "altered tar"])
def test_docker_archive_gzip_layer_is_checked_by_its_uncompressed_digest(tmp_path, altered):
    """A gzip layer.tar's diff_id is the digest of what it decompresses to (a plain one's of its bytes, hashed once)."""
    archive = docker_archive(tmp_path / "d.tar", [layer_tar(BASE)])
    with tarfile.open(archive) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]
    name = next(n for n in members if n.endswith("layer.tar"))
    members[name] = gzip.compress(layer_tar({**BASE, "extra": b"x"} if altered else BASE), mtime=0)
    with tarfile.open(archive, "w") as tar:
        for member, data in members.items():
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, __import__("io").BytesIO(data))
    if altered:
        with pytest.raises(DigestMismatchError, match="not its diff_id"):
            generate(f"docker-archive:{archive}")
    else:
        assert sorted(p.purl for p in generate(f"docker-archive:{archive}").packages) == sorted(
            p.purl
            for p in generate(f"docker-archive:{docker_archive(tmp_path / 'plain.tar', [layer_tar(BASE)])}").packages
        )


@pytest.mark.parametrize(
    ("source", "error", "message"),
    [
        ("oci:/nonexistent/layout", SbomSourceError, "no such directory"),
        ("oci-archive:/nonexistent.tar", SbomSourceError, "no such file"),
        ("docker-archive:/nonexistent.tar", SbomSourceError, "no such file"),
        ("dir:/nonexistent", SbomSourceError, "not a directory"),
    ],
)
def test_missing_sources(source, error, message):
    with pytest.raises(error, match=message):
        generate(source)


def test_archive_that_is_not_a_tar_and_layout_without_the_tag(tmp_path):
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"\x00\x01" * 1000)
    with pytest.raises((ImageInvalidError, SbomSourceError)):
        generate(f"oci-archive:{junk}")
    layout = oci_layout(tmp_path / "img", [layer_tar(BASE)])
    with pytest.raises(SbomSourceError, match="no image tagged 'v2'"):
        generate(f"oci:{layout}:v2")


def test_a_file_or_link_replacing_a_directory_hides_what_was_under_it(tmp_path):
    upper = {f"{SITE}/alpha-1.0.dist-info": ("symlink", "/dev/null"), "opt/app/node_modules": b"not a dir any more"}
    layout = oci_layout(tmp_path / "img", [layer_tar(BASE), layer_tar(upper)])
    assert purls(generate(f"oci:{layout}")) == ["pkg:pypi/beta@1.0", "pkg:pypi/gamma@1.0"]


def test_progress_says_layer_and_bytes(tmp_path):
    layout = oci_layout(tmp_path / "img", [layer_tar({"noise": os.urandom(9 * 1024 * 1024)}), layer_tar(BASE)])
    seen: list[tuple[str, int, int]] = []
    sbom = generate(f"oci:{layout}", progress=lambda what, done, total: seen.append((what, done, total)))
    short = sbom.layers[0][:19]
    assert seen[0] == (f"layer 1/2 {short}", 0, 2)
    assert (f"layer 1/2 {short} 4/9 MiB", 0, 2) in seen and (f"layer 1/2 {short} 8/9 MiB", 0, 2) in seen
    assert seen[-1] == ("layers read", 2, 2)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("usr/bin/x", "usr/bin/x"),
        ("usr/lib/", "usr/lib"),
        ("./usr/bin/x", "usr/bin/x"),
        ("/usr//bin/./x/", "usr/bin/x"),
        ("usr/.hidden/x", "usr/.hidden/x"),
        (".wh..wh..opq", ".wh..wh..opq"),
        ("usr\\bin\\x", "usr/bin/x"),
        ("usr/../etc/os-release", "etc/os-release"),
        ("usr/../../etc/passwd", None),
        ("../x", None),
        ("", ""),
        (".", ""),
    ],
)
def test_entry_names_are_normalised_and_escapes_refused(name, expected):
    assert normalise(name) == expected
