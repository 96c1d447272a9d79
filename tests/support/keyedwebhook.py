"""A real `sealgate serve` over HTTPS for integration tests, with cosign key pairs made by `sealgate keygen`
and one policy file beside the public keys; `Hook` posts AdmissionReviews to it."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tools.reviews import review, shape, with_images
from tools.webhookserver import RunningWebhook, start_webhook
from verifier.cli import main

__all__ = ["Hook", "keyed_webhook"]


class Hook:
    def __init__(self, server: RunningWebhook) -> None:
        self.server = server
        self.http = httpx.Client(verify=server.ca, timeout=15)

    def post(self, doc: dict) -> tuple[int, dict]:
        response = self.http.post(f"{self.server.url}/validate", content=json.dumps(doc).encode())
        return response.status_code, response.json()

    def admit(self, *images: str) -> dict:
        return self.admit_object(with_images(shape("pod"), list(images)))

    def admit_object(self, obj: dict) -> dict:
        doc = review(obj)
        status, answer = self.post(doc)
        assert status == 200, answer
        assert answer["response"]["uid"] == doc["request"]["uid"]
        return answer["response"]


@contextmanager
def keyed_webhook(
    tmp: Path,
    policy: str,
    *,
    password: str,
    keys: Sequence[str] = ("ci", "release"),
    env: Mapping[str, str] | None = None,
) -> Iterator[Hook]:
    """Key pairs ``tmp/<name>.key|.pub`` (encrypted with ``password``), ``policy`` in ``tmp/policies`` beside the
    public keys, and the webhook serving that folder (``env``: settings read by `sealgate serve`)."""
    folder = tmp / "policies"
    folder.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COSIGN_PASSWORD", password)
        for name in keys:
            assert main(["keygen", "--output-key-prefix", str(tmp / name)]) == 0
            (folder / f"{name}.pub").write_bytes((tmp / f"{name}.pub").read_bytes())
        (folder / "policies.yaml").write_text(policy)
        for key, value in (env or {}).items():
            mp.setenv(key, value)
        hook = Hook(start_webhook(tmp / "serve", folder))
    try:
        yield hook
    finally:
        hook.http.close()
        hook.server.stop()
