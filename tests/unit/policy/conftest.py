"""Fixtures for the policy tests: fresh public keys and policy files written into a temporary folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from verifier.cosign import generate_signing_key, public_key_pem

API = "sealgate.dev/v1alpha1"


def new_public_pem() -> str:
    return public_key_pem(generate_signing_key().public_key()).decode()


def policy_doc(name: str = "prod", **spec: Any) -> dict[str, Any]:
    """A valid ImagePolicy document (one authority with an inline key) with ``spec`` fields replaced."""
    body: dict[str, Any] = {
        "images": ["registry.example.com/team/**"],
        "authorities": [{"name": "ci", "key": {"data": new_public_pem()}}],
    }
    body.update(spec)
    return {"apiVersion": API, "kind": "ImagePolicy", "metadata": {"name": name}, "spec": body}


def settings_doc(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": API, "kind": "Settings", "spec": spec}


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary folder that is also the working directory, so sources print as short relative names."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def write_yaml(workdir: Path) -> Callable[..., Path]:
    """``write_yaml("p.yaml", doc1, doc2, ...)`` writes a multi-document YAML file; a str is written verbatim."""

    def _write(name: str, *docs: Any) -> Path:
        path = workdir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if len(docs) == 1 and isinstance(docs[0], str):
            path.write_text(docs[0])
        else:
            path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
        return path

    return _write
