"""The forward-only tar reader against what the standard library writes in every format, and broken input."""

from __future__ import annotations

import io
import random
import tarfile

import pytest

from verifier.errors import ImageInvalidError
from verifier.sbom._tar import TarReader, _byte_sum

LONG = "usr/lib/python3/dist-packages/" + "a-very-long-directory-name/" * 8 + "METADATA"


def _archive(fmt: int) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=fmt) as tar:
        for name, data, kind, link in [
            ("etc/os-release", b"ID=debian\n", tarfile.REGTYPE, ""),
            (LONG, b"Name: x\nVersion: 1\n", tarfile.REGTYPE, ""),
            ("usr/bin", b"", tarfile.DIRTYPE, ""),
            ("usr/bin/sh", b"", tarfile.SYMTYPE, "dash"),
            ("usr/bin/link", b"", tarfile.LNKTYPE, LONG),
            ("big", b"x" * 70_000, tarfile.REGTYPE, ""),
        ]:
            info = tarfile.TarInfo(name)
            info.type, info.linkname, info.size, info.mode = kind, link, len(data), 0o755
            tar.addfile(info, io.BytesIO(data) if data else None)
    return out.getvalue()


class _Chunks:
    """A stream that gives at most ``n`` bytes per read, as a decompressor may."""

    def __init__(self, data: bytes, n: int) -> None:
        self._data, self._n = data, n

    def read(self, size: int = -1) -> bytes:
        chunk, self._data = self._data[: min(size, self._n)], self._data[min(size, self._n) :]
        return chunk


@pytest.mark.parametrize(
    "fmt", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT], ids=["ustar", "gnu", "pax"]
)
@pytest.mark.parametrize("chunk", [7, 512, 1 << 20])
def test_entries_and_data_as_tarfile_sees_them(fmt, chunk):
    if fmt == tarfile.USTAR_FORMAT:  # ustar cannot hold LONG: the standard library refuses to write it
        with pytest.raises(ValueError):
            _archive(fmt)
        return
    raw = _archive(fmt)
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        expected = [(m.name, m.size if m.isreg() else 0, m.linkname) for m in tar.getmembers()]
        contents = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isreg()}  # type: ignore[union-attr]
    reader = TarReader(_Chunks(raw, chunk), "layer")
    got = []
    for entry in reader:
        got.append((entry.name.rstrip("/"), entry.size, entry.linkname))  # tarfile drops a directory's slash
        if entry.name in ("etc/os-release", "big"):  # read some, skip others
            buffer = bytearray(entry.size)
            reader.read_into(buffer)
            assert bytes(buffer) == contents[entry.name]
    assert got == expected


def test_ustar_prefix_field():
    name = "a" * 90 + "/" + "b" * 90
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        tar.addfile(info)
    assert [e.name for e in TarReader(io.BytesIO(out.getvalue()), "layer")] == [name]


def test_a_gnu_header_has_no_prefix_field():
    """GNU tar keeps access/change times where POSIX ustar keeps the name prefix (offset 345): bytes there must
    not become part of a GNU entry's name. Go's archive/tar (what container runtimes unpack layers with) reads the
    prefix only under the POSIX magic; Python's tarfile joins it for any non-GNU entry type, so it is no oracle."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as tar:
        tar.addfile(tarfile.TarInfo("etc/passwd"))
    raw = bytearray(out.getvalue())
    assert raw[257:265] == b"ustar  \x00"
    raw[345:345 + 12] = b"../../outsid"
    raw[148:156] = b" " * 8
    raw[148:156] = f"{sum(raw[:512]):06o}\x00 ".encode()
    assert [m.name for m in tarfile.open(fileobj=io.BytesIO(bytes(raw)))] == ["../../outsid/etc/passwd"]
    assert [e.name for e in TarReader(io.BytesIO(bytes(raw)), "layer")] == ["etc/passwd"]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda raw: raw[:100] + b"X" + raw[101:], "header checksum mismatch"),
        (lambda raw: raw[:700], "truncated"),
        (lambda raw: raw[: 512 * 3 + 100], "truncated"),
        (lambda raw: b"not a tar at all " * 40, "checksum mismatch|bad number"),
    ],
    ids=["flipped header byte", "cut in data", "cut in a header", "not a tar"],
)
def test_broken_archives(mutate, message):
    raw = mutate(_archive(tarfile.GNU_FORMAT))
    with pytest.raises(ImageInvalidError, match=message):
        reader = TarReader(io.BytesIO(raw), "layer")
        for entry in reader:
            if entry.size:
                reader.read_into(bytearray(entry.size))


@pytest.mark.parametrize("block", [bytes(512), b"\xff" * 512, bytes(range(256)) * 2, b"\x80" * 256 + b"\x7f" * 256])
def test_block_byte_sum_is_exact(block):
    assert _byte_sum(block) == sum(block)


def test_block_byte_sum_is_exact_on_random_blocks():
    rng = random.Random(10)  # noqa: S311  (reproducible test data, not secrets)
    for _ in range(500):
        block = rng.randbytes(512)
        assert _byte_sum(block) == sum(block)
