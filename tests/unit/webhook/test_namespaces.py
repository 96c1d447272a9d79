"""Namespace labels from a loopback Kubernetes API double: bearer token, 404, errors, TTL caching."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from verifier.errors import SealgateError
from verifier.kubeapi import KubeClient
from webhook.namespaces import KubeNamespaceLabels

TOKEN = "test-token"
NAMESPACES = {"payments": {"env": "prod", "team": "pay"}, "sandbox": {}}


class _Api(BaseHTTPRequestHandler):
    hits: list[str] = []

    def log_message(self, format, *args):  # noqa: A002
        pass

    def do_GET(self):  # noqa: N802
        _Api.hits.append(self.path)
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self._send(401, {"kind": "Status", "code": 401})
        name = self.path.rsplit("/", 1)[-1]
        if name == "broken":
            return self._send(500, {"kind": "Status", "code": 500})
        if name not in NAMESPACES:
            return self._send(404, {"kind": "Status", "code": 404})
        labels = NAMESPACES[name]
        return self._send(
            200, {"kind": "Namespace", "metadata": {"name": name, **({"labels": labels} if labels else {})}}
        )

    def _send(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def api(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    _Api.hits = []
    yield f"http://127.0.0.1:{server.server_address[1]}", token
    server.shutdown()
    server.server_close()


async def test_labels_are_read_with_the_token_and_cached(api):
    url, token = api
    labels = KubeNamespaceLabels(KubeClient.from_url(url, token_file=str(token)), ttl=60)
    try:
        assert await labels("payments") == {"env": "prod", "team": "pay"}
        assert await labels("payments") == {"env": "prod", "team": "pay"}
        assert await labels("sandbox") == {}
        assert _Api.hits == ["/api/v1/namespaces/payments", "/api/v1/namespaces/sandbox"]
    finally:
        await labels.aclose()


async def test_a_missing_namespace_is_none(api):
    url, token = api
    labels = KubeNamespaceLabels(KubeClient.from_url(url, token_file=str(token)))
    try:
        assert await labels("ghost") is None
    finally:
        await labels.aclose()


@pytest.mark.parametrize(
    ("name", "token_text", "fragment"),
    [
        pytest.param("broken", TOKEN, "HTTP 500", id="server error"),
        pytest.param("payments", "wrong", "HTTP 401", id="wrong token"),
    ],
)
async def test_api_failures_are_sealgate_errors(api, tmp_path, name, token_text, fragment):
    url, _ = api
    token = tmp_path / "other-token"
    token.write_text(token_text)
    labels = KubeNamespaceLabels(KubeClient.from_url(url, token_file=str(token)))
    try:
        with pytest.raises(SealgateError, match=fragment):
            await labels(name)
    finally:
        await labels.aclose()


async def test_an_unreachable_api_is_a_sealgate_error(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    labels = KubeNamespaceLabels(KubeClient.from_url(f"http://127.0.0.1:{port}"))
    try:
        with pytest.raises(SealgateError, match="Kubernetes API unavailable"):
            await labels("payments")
    finally:
        await labels.aclose()


def test_the_webhook_selects_policies_by_namespace_labels(api):
    """Settings kube_api/kube_token_file wire the lookup into the app: a label-selected policy applies only
    where the labels match, and fails closed where they cannot be read."""
    from fastapi.testclient import TestClient

    from tests.support.faultregistry import FaultRegistry
    from tools.reviews import review, shape, with_images
    from verifier.cosign import generate_signing_key, public_key_pem
    from verifier.policy import compile_documents
    from webhook.app import create_app
    from webhook.settings import WebhookSettings

    url, token = api
    key = generate_signing_key()
    with FaultRegistry() as reg:
        reg.add_image("team/app", "v1")  # unsigned
        policy = {
            "apiVersion": "sealgate.dev/v1alpha1",
            "kind": "ImagePolicy",
            "metadata": {"name": "prod-only"},
            "spec": {
                "images": [f"{reg.host}/**"],
                "namespaces": {"matchLabels": {"env": "prod"}},
                "authorities": [{"name": "ci", "key": {"data": public_key_pem(key.public_key()).decode()}}],
            },
        }
        settings_doc = {"apiVersion": "sealgate.dev/v1alpha1", "kind": "Settings", "spec": {"noMatch": "allow"}}
        policies = compile_documents([("t.yaml", 1, policy), ("t.yaml", 2, settings_doc)])
        settings = WebhookSettings(policy_paths=("unused",), kube_api=url, kube_token_file=str(token))
        pod = with_images(shape("pod"), [f"{reg.host}/team/app:v1"])
        with TestClient(create_app(settings, policies=policies)) as client:
            prod = client.post("/validate", json=review(pod, namespace="payments")).json()["response"]
            sandbox = client.post("/validate", json=review(pod, namespace="sandbox")).json()["response"]
            broken = client.post("/validate", json=review(pod, namespace="broken")).json()["response"]
    assert prod["allowed"] is False
    assert 'policy "prod-only": no signatures found' in prod["status"]["message"]
    assert sandbox["allowed"] is True  # the policy does not select it; noMatch allow
    assert broken["allowed"] is False
    assert "labels of namespace 'broken'" in broken["status"]["message"]
