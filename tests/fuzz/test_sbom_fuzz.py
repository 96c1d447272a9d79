"""Hostile images for `sealgate sbom`: whatever a layer's bytes or a package record say, generation ends with an
SBOM or one of sealgate's own errors (a clear line, never an internal error), and one bad record never costs the
records beside it.

- "sbom layers": a small real layer (PAX and GNU tar, plain or gzip) with bytes replaced, cut or inserted.
- "sbom records": one package record (dpkg status, METADATA, package.json, apk database, os-release, pom.properties
  in a jar, a Go binary's build info) replaced by random bytes, by byte-level mutations of a real one, or by the
  real one with names, versions and paths swapped for hostile values (empty, ``/``, ``@x/``, ``..``, NUL, 5,000
  characters), beside a control distribution that must always be listed.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import tarfile
import zipfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz._support import examples
from tests.fuzz.conftest import COUNTS
from tests.unit.sbom.elf import go_binary_inline
from tests.unit.sbom.images import layer_tar, oci_layout
from verifier.errors import SealgateError
from verifier.sbom import Sbom, generate, render

LAYERS = examples(600)
RECORDS = examples(900)
FUZZ = settings(deadline=None, database=None, suppress_health_check=list(HealthCheck), print_blob=True)
SITE = "usr/lib/python3/dist-packages"
CONTROL = f"{SITE}/control-1.0.dist-info/METADATA"
CONTROL_PURL = "pkg:pypi/control@1.0"


def _jar(properties: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as jar:
        jar.writestr("META-INF/maven/org.example/lib/pom.properties", properties)
        jar.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
    return out.getvalue()


GO_MODINFO = "path\tex.com/app\nmod\tex.com/app\tv1.0.0\th1:a=\ndep\tex.com/lib\tv0.1.0\th1:b=\n=>\t./lib\t\t\n"
#: path -> a real record (a jar's pom.properties, a Go binary's module info: wrapped by _record_file)
RECORDS_AT: dict[str, bytes] = {
    "var/lib/dpkg/status": (
        b"Package: libc6\nStatus: install ok installed\nVersion: 2.36-9\nArchitecture: amd64\nSource: glibc\n\n"
        b"Package: zlib1g\nStatus: install ok installed\nVersion: 1:1.2.13\nArchitecture: amd64\n"
    ),
    f"{SITE}/six-1.16.0.dist-info/METADATA": (
        b"Metadata-Version: 2.1\nName: six\nVersion: 1.16.0\nLicense-Expression: MIT\n"
        b"Classifier: License :: OSI Approved :: MIT License\n"
    ),
    "app/node_modules/@scope/pkg/package.json": (
        b'{"name": "@scope/pkg", "version": "1.2.3", "license": "(MIT OR Apache-2.0)"}'
    ),
    "lib/apk/db/installed": b"C:Q1abc=\nP:musl\nV:1.2.4-r2\nA:x86_64\nL:MIT\no:musl\n\n",
    "etc/os-release": b'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n',
    "app/lib.jar": b"groupId=org.example\nartifactId=lib\nversion=1.0\n",
    "usr/bin/app": GO_MODINFO.encode(),
}


def _record_file(path: str, data: bytes) -> bytes | tuple[object, ...]:
    if path == "app/lib.jar":
        return _jar(data)
    if path == "usr/bin/app":
        return ("file", go_binary_inline("go1.22.1", data.decode("utf-8", "replace")), 0o755)
    return data


def _generate(tmp: Path, layer: bytes, compression: str = "") -> Sbom:
    """An SBOM of a one-layer image, or a SealgateError: anything else fails the test."""
    layout = oci_layout(tmp, [layer], compression=compression)
    try:
        return generate(f"oci:{layout}")
    finally:
        for blob in sorted(tmp.rglob("*"), reverse=True):
            blob.unlink() if blob.is_file() else blob.rmdir()


def _mutated(data: bytes, edits: list[tuple[int, int, bytes]]) -> bytes:
    out = bytearray(data)
    for kind, at, chunk in edits:
        at %= max(len(out), 1)
        if kind == 0:
            out[at : at + len(chunk)] = chunk  # overwrite
        elif kind == 1:
            del out[at:]  # cut
        else:
            out[at:at] = chunk  # insert
    return bytes(out)


#: what a hostile record puts where a name, version or path belongs
NASTY = [b"", b"/", b" ", b"@", b"@/", b"@x/", b"x/", b"/x", b".", b"..", b"./x", b"-", b"\x00", b"\xff\xfe", b"%",
         "\u202e\u00e9".encode(), b"a" * 5000, b"1" * 400, b"null", b"[]", b"{}", b"\\", b"?x=y#z"]  # fmt: skip
_TOKENS = re.compile(rb'([\n\t:="/ ,@()])')


def _replaced_tokens(data: bytes, picks: list[tuple[int, bytes]]) -> bytes:
    """``data`` with some of its tokens (what lies between separators) replaced by hostile values."""
    parts = _TOKENS.split(data)
    tokens = [i for i in range(0, len(parts), 2) if parts[i]]
    for at, value in picks:
        parts[tokens[at % len(tokens)]] = value
    return b"".join(parts)


PICKS = st.lists(st.tuples(st.integers(0, 1 << 16), st.sampled_from(NASTY)), min_size=1, max_size=3)
EDITS = st.lists(st.tuples(st.integers(0, 2), st.integers(0, 1 << 20), st.binary(min_size=1, max_size=24)), max_size=6)


def _layer(fmt: int) -> bytes:
    files = {path: _record_file(path, data) for path, data in RECORDS_AT.items()}
    files[CONTROL] = b"Name: control\nVersion: 1.0\n"
    files["usr/share/doc/libc6/copyright"] = (
        b"Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nLicense: LGPL-2.1\n"
    )
    files["usr/lib/libfoo.so"] = ("hardlink", "usr/bin/app")
    files["etc/alternatives/x"] = ("symlink", "../../usr/bin/app")
    files[f"{SITE}/gone-1.dist-info/.wh..wh..opq"] = b""
    files["usr/.wh.share"] = b""
    layer = layer_tar(files)
    if fmt == tarfile.GNU_FORMAT:  # the same entries as GNU tar writes them
        with tarfile.open(fileobj=io.BytesIO(layer)) as src:
            out = io.BytesIO()
            with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as dst:
                for member in src:
                    dst.addfile(member, src.extractfile(member) if member.isreg() else None)
        layer = out.getvalue()
    return layer


BASE_LAYERS = {fmt: _layer(fmt) for fmt in (tarfile.PAX_FORMAT, tarfile.GNU_FORMAT)}


def test_mutated_layers_give_an_sbom_or_a_clear_error(tmp_path: Path) -> None:
    count = 0
    outcomes: dict[str, int] = {}

    @settings(FUZZ, max_examples=LAYERS)
    @given(st.sampled_from(sorted(BASE_LAYERS)), st.sampled_from(["", "gzip"]), st.booleans(), EDITS)
    def prop(fmt: int, compression: str, after: bool, edits: list[tuple[int, int, bytes]]) -> None:
        nonlocal count
        count += 1
        layer = BASE_LAYERS[fmt]
        if compression and after:  # the compressed bytes mutated (a corrupt stream), else the tar inside
            raw = _mutated(gzip.compress(layer, mtime=0), edits)
            sbom_or_error = _outcome(tmp_path, raw, "")
        else:
            sbom_or_error = _outcome(tmp_path, _mutated(layer, edits), compression)
        kind = type(sbom_or_error).__name__
        outcomes[kind] = outcomes.get(kind, 0) + 1
        if isinstance(sbom_or_error, Sbom):
            json.loads(render(sbom_or_error))
        else:
            text = str(sbom_or_error)
            assert text and "\n" not in text and len(text) < 1000, text

    prop()
    COUNTS["sbom layers"] = count
    assert count >= LAYERS
    assert outcomes.get("Sbom", 0) and len(outcomes) > 1, outcomes  # both ends of the space were reached


def _outcome(tmp: Path, raw: bytes, compression: str) -> Sbom | SealgateError:
    try:
        return _generate(tmp / "img", raw, compression)
    except SealgateError as exc:
        return exc


def test_a_hostile_record_is_at_most_a_warning_and_never_costs_its_neighbours(tmp_path: Path) -> None:
    count = warned = 0
    paths = sorted(RECORDS_AT)

    @settings(FUZZ, max_examples=RECORDS)
    @given(st.sampled_from(paths), st.integers(0, 2), EDITS, PICKS, st.binary(max_size=2048))
    def prop(
        path: str, how: int, edits: list[tuple[int, int, bytes]], picks: list[tuple[int, bytes]], noise: bytes
    ) -> None:
        nonlocal count, warned
        count += 1
        record = RECORDS_AT[path]
        data = noise if how == 0 else _mutated(record, edits) if how == 1 else _replaced_tokens(record, picks)
        files = {path: _record_file(path, data), CONTROL: b"Name: control\nVersion: 1.0\n"}
        sbom = _generate(tmp_path / "img", layer_tar(files))  # no error at all: a record is never fatal
        assert CONTROL_PURL in {p.purl for p in sbom.packages}, sbom.warnings
        assert all(p.purl.startswith("pkg:") for p in sbom.packages)
        json.loads(render(sbom))
        warned += bool(sbom.warnings)

    prop()
    COUNTS["sbom records"] = count
    assert count >= RECORDS
    assert warned > RECORDS // 10, f"only {warned} of {count} records were bad enough for a warning"
