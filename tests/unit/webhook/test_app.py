"""The app's failure behaviour: the deadline, internal errors and onError, through `create_app` + TestClient."""

from __future__ import annotations

import asyncio
import time

import pytest
from fastapi.testclient import TestClient

from tests.support.faultregistry import Fault, FaultRegistry
from tools.reviews import review, shape, with_images
from verifier.cosign import generate_signing_key, public_key_pem
from verifier.engine import Engine
from verifier.policy import compile_documents
from webhook.app import create_app
from webhook.settings import WebhookSettings

KEY = generate_signing_key()


def _policy_doc(host: str, **spec) -> dict:
    return {
        "apiVersion": "sealgate.dev/v1alpha1",
        "kind": "ImagePolicy",
        "metadata": {"name": "prod"},
        "spec": {
            "images": [f"{host}/**"],
            "authorities": [{"name": "ci", "key": {"data": public_key_pem(KEY.public_key()).decode()}}],
            **spec,
        },
    }


def _policies(host: str, *, spec: dict | None = None, **settings):
    docs = [
        _policy_doc(host, **(spec or {})),
        {"apiVersion": "sealgate.dev/v1alpha1", "kind": "Settings", "spec": settings},
    ]
    return compile_documents([("t.yaml", i + 1, d) for i, d in enumerate(docs)])


@pytest.fixture
def reg():
    with FaultRegistry() as registry:
        yield registry


def _client(policies, **settings) -> TestClient:
    return TestClient(create_app(WebhookSettings(policy_paths=("unused",), **settings), policies=policies))


def _pod(*images):
    return review(with_images(shape("pod"), list(images)))


def test_a_hanging_registry_costs_one_deadline_and_is_a_clear_denial(reg):
    reg.add_image("team/app", "v1")
    reg.inject(Fault("hang", method="HEAD", path="/manifests/", seconds=5, times=-1))
    with _client(_policies(reg.host, deadlineSeconds=0.5)) as client:
        started = time.monotonic()
        answer = client.post("/validate", json=_pod(f"{reg.host}/team/app:v1")).json()["response"]
        elapsed = time.monotonic() - started
    assert answer["allowed"] is False
    assert answer["status"]["code"] == 403
    # registry calls get 90 % of the deadline: the hang ends as a denial naming the registry
    assert f"registry {reg.host} unavailable: no answer within the request deadline" in answer["status"]["message"]
    assert elapsed < 3


def test_on_error_allow_admits_with_a_warning_past_the_deadline(reg):
    reg.add_image("team/app", "v1")
    reg.inject(Fault("hang", method="HEAD", path="/manifests/", seconds=5, times=-1))
    with _client(_policies(reg.host, deadlineSeconds=0.5, onError="allow")) as client:
        answer = client.post("/validate", json=_pod(f"{reg.host}/team/app:v1")).json()["response"]
    assert answer["allowed"] is True
    assert any("unavailable" in w and "(admitted: onError is allow)" in w for w in answer["warnings"])


@pytest.mark.parametrize("on_error", ["deny", "allow"])
def test_an_image_undecided_at_the_deadline_follows_on_error_and_is_counted(reg, on_error):
    """The engine applies the deadline (here a namespace-label lookup that never answers in time)."""

    async def slow_labels(namespace: str) -> dict[str, str]:
        await asyncio.sleep(5)
        return {"env": "prod"}

    labelled = {"namespaces": {"matchLabels": {"env": "prod"}}}
    policies = _policies(reg.host, spec=labelled, deadlineSeconds=0.3, onError=on_error)
    image = f"{reg.host}/team/app@sha256:{'ab' * 32}"
    app = create_app(WebhookSettings(policy_paths=("unused",)), policies=policies, namespace_labels=slow_labels)
    with TestClient(app) as client:
        started = time.monotonic()
        answer = client.post("/validate", json=_pod(image)).json()["response"]
        elapsed = time.monotonic() - started
        metrics = client.get("/metrics").text
    assert elapsed < 3
    line = f'spec.containers[0].image "{image}": sealgate could not finish verification within its 0.3s deadline'
    if on_error == "deny":
        assert answer["allowed"] is False
        assert answer["status"]["message"] == line
    else:
        assert answer["allowed"] is True
        assert answer["warnings"] == [f"{line} (admitted: onError is allow)"]
    assert 'sealgate_admission_requests_total{result="deadline"} 1.0' in metrics
    assert reg.count() == 0


def test_an_internal_error_fails_closed_and_is_never_a_500(reg, monkeypatch):
    async def broken(self, images, namespace=None):
        raise RuntimeError("boom")

    monkeypatch.setattr(Engine, "decide_many", broken)
    with _client(_policies(reg.host)) as client:
        response = client.post("/validate", json=_pod(f"{reg.host}/team/app:v1"))
    assert response.status_code == 200
    answer = response.json()["response"]
    assert answer["allowed"] is False
    assert answer["status"]["message"] == "sealgate internal error (failing closed)"


def test_too_many_images_is_a_denial_naming_the_limit(reg):
    images = [f"{reg.host}/team/app{i}:v1" for i in range(5)]
    with _client(_policies(reg.host), max_images_per_request=4) as client:
        answer = client.post("/validate", json=_pod(*images)).json()["response"]
    assert answer["allowed"] is False
    assert "5 images in one object, above the limit of 4" in answer["status"]["message"]
    assert reg.count() == 0


def test_a_declared_oversized_body_is_refused_before_reading(reg):
    with _client(_policies(reg.host), max_body_bytes=1000) as client:
        response = client.post(
            "/validate", content=b"{" + b" " * 2000 + b"}", headers={"content-type": "application/json"}
        )
    assert response.status_code == 413
    assert "1000-byte limit" in response.json()["error"]


def test_a_well_formed_review_above_the_body_limit_is_a_denial_by_uid(reg):
    pod = _pod(f"{reg.host}/team/app:v1")
    pod["request"]["object"]["metadata"]["annotations"] = {"padding": "x" * 5000}
    with _client(_policies(reg.host), max_body_bytes=2000, max_read_bytes=60000) as client:
        response = client.post("/validate", json=pod)
        above_read = client.post("/validate", content=b" " * 70000, headers={"content-type": "application/json"})
    assert response.status_code == 200
    answer = response.json()["response"]
    assert answer["uid"] == pod["request"]["uid"] and answer["allowed"] is False
    assert "is above the 2000-byte limit" in answer["status"]["message"]
    assert reg.count() == 0
    assert above_read.status_code == 413


def test_readyz_is_503_until_policies_are_loaded(reg):
    app = create_app(WebhookSettings(policy_paths=("unused",)), policies=_policies(reg.host))
    client = TestClient(app)  # no context manager: the lifespan has not run
    assert client.get("/readyz").status_code == 503
    # a review is still answered by sealgate, closed, not left to the API server's failurePolicy
    response = client.post("/validate", json=_pod("x"))
    assert response.status_code == 200
    answer = response.json()["response"]
    assert answer["allowed"] is False and "webhook is not ready" in answer["status"]["message"]
    assert client.post("/validate", content=b"{}").status_code == 503  # no uid to answer: the HTTP error
    with client:
        assert client.get("/readyz").status_code == 200
