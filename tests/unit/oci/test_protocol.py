"""``RegistryClient`` (and the tests' in-memory registry) satisfy the ``Registry`` and ``RegistryWriter``
protocols, as mypy sees it.

The assignments below are type-checked by running mypy --strict on them; a class missing a method, or with a
method of another signature, must fail the same check (the control), so the check can fail.
"""

from __future__ import annotations

import os
from pathlib import Path

from mypy import api

REPO = Path(__file__).resolve().parents[3]

SATISFIES = """
from verifier.oci import Registry, RegistryWriter
from verifier.registry import RegistryClient
from tests.support.memregistry import MemRegistry

client: Registry = RegistryClient()
memory: Registry = MemRegistry()
client_writer: RegistryWriter = RegistryClient()
memory_writer: RegistryWriter = MemRegistry()
"""

CONTROL = """
from verifier.oci import Digest, Reference, Registry
from verifier.registry import RegistryClient

class NoBlobs(RegistryClient):
    async def get_blob(self, ref: Reference, digest: Digest) -> bytes:  # type: ignore[override]
        return b""

broken: Registry = NoBlobs()
"""


def _mypy(tmp_path: Path, name: str, source: str) -> tuple[str, int]:
    path = tmp_path / name
    path.write_text(source)
    cwd = os.getcwd()
    os.chdir(REPO)  # so mypy finds verifier/ and tests/ as packages, with the project's configuration
    try:
        out, err, status = api.run(["--strict", "--follow-imports=silent", str(path)])
    finally:
        os.chdir(cwd)
    return out + err, status


def test_the_registry_client_and_the_memory_registry_are_registries(tmp_path: Path) -> None:
    report, status = _mypy(tmp_path, "satisfies.py", SATISFIES)
    assert status == 0, report


def test_a_reader_without_the_protocols_get_blob_is_not_one(tmp_path: Path) -> None:
    report, status = _mypy(tmp_path, "control.py", CONTROL)
    assert status == 1, report
    assert 'Incompatible types in assignment (expression has type "NoBlobs", variable has type "Registry")' in report


WRITER_CONTROL = """
from verifier.oci import Descriptor, Reference, Registry, RegistryWriter
from verifier.registry import RegistryClient

class NoMediaType(RegistryClient):
    async def push_blob(self, ref: Reference, data: bytes) -> Descriptor:  # type: ignore[override]
        return await super().push_blob(ref, data)

def writer(reader: Registry) -> RegistryWriter:
    return reader

broken: RegistryWriter = NoMediaType()
"""


def test_a_reader_or_a_writer_without_the_protocols_push_blob_is_not_a_writer(tmp_path: Path) -> None:
    report, status = _mypy(tmp_path, "writer_control.py", WRITER_CONTROL)
    assert status == 1, report
    assert 'Incompatible return value type (got "Registry", expected "RegistryWriter")' in report, report
    assert (
        'Incompatible types in assignment (expression has type "NoMediaType", variable has type "RegistryWriter")'
        in report
    ), report
