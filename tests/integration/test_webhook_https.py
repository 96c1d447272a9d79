"""The webhook through its HTTPS contract: `sealgate serve` as a process, real AdmissionReview shapes, a real
registry with images signed by `sealgate sign`."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tools.reviews import review, shape, with_images
from tools.webhookserver import RunningWebhook, free_port, start_webhook
from verifier.cli import main
from verifier.cosign import attachment_tag
from verifier.oci import OCI_MANIFEST, Digest, Reference
from verifier.registry import RegistryClient
from webhook.certs import write_bundle

pytestmark = pytest.mark.integration

#: a policy file that compiles (its key is the examples' public key)
POLICY_OK = Path(__file__).resolve().parents[2] / "policies" / "examples" / "prod-signed.yaml"

PASSWORD = "hook-key-password"


class Webhook:
    """A running `sealgate serve` (tools.webhookserver) with an HTTPS client that checks the review contract."""

    def __init__(self, server: RunningWebhook) -> None:
        self.server = server
        self.url, self.log = server.url, server.log
        self.http = httpx.Client(verify=server.ca, timeout=15)

    def post(self, body: dict | bytes, **kw) -> httpx.Response:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.http.post(
            f"{self.url}/validate", content=content, headers={"Content-Type": "application/json"}, **kw
        )

    def admit(self, doc: dict) -> dict:
        response = self.post(doc)
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["apiVersion"] == "admission.k8s.io/v1"
        assert answer["kind"] == "AdmissionReview"
        assert answer["response"]["uid"] == doc["request"]["uid"]
        assert "patch" not in answer["response"] and "patchType" not in answer["response"]
        return answer["response"]

    def stop(self) -> None:
        self.http.close()
        self.server.stop()


POLICIES = """\
apiVersion: sealgate.dev/v1alpha1
kind: ImagePolicy
metadata: {{name: prod-signed}}
spec:
  images: ["{reg}/prod/**"]
  namespaces: {{exclude: [kube-system]}}
  authorities:
    - name: ci
      key: {{path: ci.pub}}
---
apiVersion: sealgate.dev/v1alpha1
kind: ImagePolicy
metadata: {{name: pinned}}
spec:
  images: ["{reg}/pinned/**"]
  requireDigest: true
  authorities:
    - name: ci
      key: {{path: ci.pub}}
---
apiVersion: sealgate.dev/v1alpha1
kind: ImagePolicy
metadata: {{name: audit-only}}
spec:
  images: ["{reg}/audit/**"]
  mode: warn
  authorities:
    - name: ci
      key: {{path: ci.pub}}
---
apiVersion: sealgate.dev/v1alpha1
kind: Settings
spec:
  noMatch: {no_match}
  exemptions: {{namespaces: ["exempt-*"]}}
"""


@pytest.fixture(scope="module")
def env(tmp_path_factory, registry):
    """Keys, and two running webhooks over the same policies (noMatch deny and noMatch allow)."""
    tmp = tmp_path_factory.mktemp("webhook")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COSIGN_PASSWORD", PASSWORD)
        for name in ("ci", "stranger"):
            assert main(["keygen", "--output-key-prefix", str(tmp / name)]) == 0
    hooks = {}
    for no_match in ("deny", "allow"):
        folder = tmp / f"policies-{no_match}"
        folder.mkdir()
        (folder / "ci.pub").write_bytes((tmp / "ci.pub").read_bytes())
        (folder / "policies.yaml").write_text(POLICIES.format(reg=registry.host, no_match=no_match))
        hooks[no_match] = Webhook(start_webhook(tmp / no_match, folder))
    yield {"tmp": tmp, "hook": hooks["deny"], "lenient": hooks["allow"], "registry": registry}
    for hook in hooks.values():
        hook.stop()


def _sign(env, image: str, key: str = "ci") -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COSIGN_PASSWORD", PASSWORD)
        assert main(["sign", "--key", str(env["tmp"] / f"{key}.key"), image]) == 0


@pytest.fixture
def signed(env, pushed_image):
    ref, digest = pushed_image(env["registry"], repo="prod/app", tag="signed")
    _sign(env, ref)
    return ref, digest


def _pod(*images: str, init: list[str] | None = None) -> dict:
    return with_images(shape("pod"), list(images), init=init)


def test_signed_pod_is_allowed_and_the_tag_resolution_is_reported(env, signed):
    ref, digest = signed
    answer = env["hook"].admit(review(_pod(ref)))
    assert answer["allowed"] is True
    assert any(f"verified as {digest}" in w for w in answer.get("warnings", []))
    assert json.loads(answer["auditAnnotations"]["resolved-digests"]) == {ref: digest}


def test_unsigned_image_is_denied_with_its_container_path(env, pushed_image):
    ref, _ = pushed_image(env["registry"], repo="prod/app", tag="unsigned")
    answer = env["hook"].admit(review(_pod(ref)))
    assert answer["allowed"] is False
    assert answer["status"]["code"] == 403
    assert f'spec.containers[0].image "{ref}": policy "prod-signed": no signatures found' in answer["status"]["message"]


def test_wrong_key_is_denied(env, pushed_image):
    ref, _ = pushed_image(env["registry"], repo="prod/app", tag="stranger")
    _sign(env, ref, key="stranger")
    answer = env["hook"].admit(review(_pod(ref)))
    assert answer["allowed"] is False
    assert 'policy "prod-signed": no signature verifies with key of "ci"' in answer["status"]["message"]


def test_tampered_signature_is_denied_as_a_digest_mismatch(env, signed, pushed_image):
    good, good_digest = signed
    evil, evil_digest = pushed_image(env["registry"], repo="prod/app", tag="evil")

    async def replay():
        async with RegistryClient() as client:
            repo = Reference.parse(good)
            manifest = await client.get_manifest(repo.with_tag(attachment_tag(Digest.parse(good_digest))))
            await client.put_manifest(
                repo.with_tag(attachment_tag(Digest.parse(evil_digest))), manifest.raw, OCI_MANIFEST
            )

    asyncio.run(replay())
    answer = env["hook"].admit(review(_pod(good, evil)))
    assert answer["allowed"] is False
    message = answer["status"]["message"]
    assert f'spec.containers[1].image "{evil}": policy "prod-signed": payload digest mismatch' in message
    assert "containers[0]" not in message


def test_tag_is_denied_where_digest_is_required_and_the_digest_is_allowed(env, pushed_image):
    ref, digest = pushed_image(env["registry"], repo="pinned/app", tag="v1")
    _sign(env, ref)
    answer = env["hook"].admit(review(_pod(ref)))
    assert answer["allowed"] is False
    assert (
        f'spec.containers[0].image "{ref}": policy "pinned": image must be referenced by digest'
        in (answer["status"]["message"])
    )
    by_digest = f"{env['registry'].host}/pinned/app@{digest}"
    assert env["hook"].admit(review(_pod(by_digest)))["allowed"] is True


def test_warn_mode_admits_with_a_warning(env, pushed_image):
    ref, _ = pushed_image(env["registry"], repo="audit/app", tag="unsigned")
    answer = env["hook"].admit(review(_pod(ref)))
    assert answer["allowed"] is True
    assert any('policy "audit-only": no signatures found' in w for w in answer["warnings"])


def test_exempt_and_excluded_namespaces_are_admitted(env, pushed_image):
    ref, _ = pushed_image(env["registry"], repo="prod/app", tag="exempt")
    assert env["hook"].admit(review(_pod(ref), namespace="exempt-tools"))["allowed"] is True
    # kube-system is excluded from prod-signed, and nothing else matches: noMatch (deny) applies
    answer = env["hook"].admit(review(_pod(ref), namespace="kube-system"))
    assert answer["allowed"] is False
    assert "no policy matches" in answer["status"]["message"]


def test_no_match_follows_settings(env, pushed_image):
    ref, _ = pushed_image(env["registry"], repo="elsewhere/app", tag="v1")
    denied = env["hook"].admit(review(_pod(ref)))
    assert denied["allowed"] is False
    assert (
        f'spec.containers[0].image "{ref}": no policy matches {env["registry"].host}/elsewhere/app'
        in (denied["status"]["message"])
    )
    assert env["lenient"].admit(review(_pod(ref)))["allowed"] is True


def test_deployment_init_container_is_checked(env, signed, pushed_image):
    ref, _ = signed
    unsigned, _ = pushed_image(env["registry"], repo="prod/app", tag="init-unsigned")
    deployment = with_images(shape("deployment"), [ref], init=[unsigned])
    answer = env["hook"].admit(review(deployment))
    assert answer["allowed"] is False
    assert f'spec.template.spec.initContainers[0].image "{unsigned}"' in answer["status"]["message"]


def test_cronjob_containers_are_checked(env, pushed_image):
    unsigned, _ = pushed_image(env["registry"], repo="prod/app", tag="cron-unsigned")
    answer = env["hook"].admit(review(with_images(shape("cronjob"), [unsigned])))
    assert answer["allowed"] is False
    assert f'spec.jobTemplate.spec.template.spec.containers[0].image "{unsigned}"' in answer["status"]["message"]


def test_ephemeral_container_added_through_the_subresource_is_checked(env, signed, pushed_image):
    ref, _ = signed
    debug, _ = pushed_image(env["registry"], repo="prod/debug", tag="unsigned")
    old = _pod(ref)
    new = json.loads(json.dumps(old))
    new["spec"]["ephemeralContainers"] = [{"name": "debugger", "image": debug, "targetContainerName": "c0"}]
    doc = review(new, operation="UPDATE", old=old, sub_resource="ephemeralcontainers")
    answer = env["hook"].admit(doc)
    assert answer["allowed"] is False
    assert f'spec.ephemeralContainers[0].image "{debug}"' in answer["status"]["message"]
    assert "spec.containers" not in answer["status"]["message"]


def test_scale_update_and_delete_are_allowed_without_verification(env, pushed_image):
    unsigned, _ = pushed_image(env["registry"], repo="prod/app", tag="old-unsigned")
    before = with_images(shape("deployment"), [unsigned])
    after = json.loads(json.dumps(before))
    after["spec"]["replicas"] = 0
    assert env["hook"].admit(review(after, operation="UPDATE", old=before))["allowed"] is True
    assert env["hook"].admit(review(None, operation="DELETE", old=before, kind="Deployment"))["allowed"] is True
    # but an UPDATE that changes the image is verified
    changed = with_images(shape("deployment"), [unsigned.replace("old-unsigned", "new-unsigned")])
    assert env["hook"].admit(review(changed, operation="UPDATE", old=before))["allowed"] is False


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        pytest.param(b"{not json", 400, "JSON", id="non-JSON body"),
        pytest.param(b"[]", 400, "object", id="JSON that is not an object"),
        pytest.param(
            json.dumps(
                {"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview", "request": {"uid": "x"}}
            ).encode(),
            400,
            "v1beta1",
            id="v1beta1 review",
        ),
        pytest.param(
            json.dumps(
                {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"operation": "CREATE"}}
            ).encode(),
            400,
            "uid",
            id="missing uid",
        ),
        pytest.param(b"{" + b" " * (4 * 1024 * 1024) + b"}", 413, "limit", id="huge body"),
    ],
)
def test_malformed_requests_get_a_4xx_with_a_clear_error(env, body, status, fragment):
    response = env["hook"].post(body)
    assert response.status_code == status
    assert fragment.lower() in response.json()["error"].lower()


def test_unknown_kind_gets_a_well_formed_denial(env):
    obj = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {}}
    answer = env["hook"].admit(review(obj, kind="Widget"))
    assert answer["allowed"] is False
    assert "Widget" in answer["status"]["message"]


def test_health_readiness_and_metrics(env, signed):
    hook = env["hook"]
    assert hook.http.get(f"{hook.url}/healthz").json()["status"] == "ok"
    ready = hook.http.get(f"{hook.url}/readyz").json()
    assert ready == {"status": "ready", "policies": 3, "detail": None}
    hook.admit(review(_pod(signed[0])))
    metrics = hook.http.get(f"{hook.url}/metrics").text
    assert 'sealgate_admission_requests_total{result="allowed"}' in metrics
    assert 'sealgate_policy_decisions_total{policy="prod-signed",result="pass"}' in metrics
    assert "sealgate_admission_duration_seconds_bucket" in metrics
    assert "sealgate_registry_requests_total" in metrics
    assert "sealgate_cache_hits_total" in metrics


def test_logs_are_json_with_uid_namespace_and_digest(env, signed):
    doc = review(_pod(signed[0]), namespace="logs-ns")
    env["hook"].admit(doc)
    mine: list[dict] = []
    deadline = time.monotonic() + 3  # info lines are flushed in batches (at most every 0.2 s)
    while not mine and time.monotonic() < deadline:
        time.sleep(0.1)
        lines = [json.loads(line) for line in env["hook"].log.read_text().splitlines() if line.startswith("{")]
        mine = [line for line in lines if line.get("uid") == doc["request"]["uid"]]
    assert mine, "no log line for the request"
    assert mine[0]["namespace"] == "logs-ns"
    assert mine[0]["images"][0]["digest"] == signed[1]
    assert PASSWORD not in json.dumps(lines)  # no secret in the logs


def test_broken_policy_stops_start_up_with_its_errors(tmp_path):
    (tmp_path / "bad.yaml").write_text(
        "apiVersion: sealgate.dev/v1alpha1\nkind: ImagePolicy\nmetadata: {name: Bad_Name}\n"
        "spec: {images: [], authorities: [], surprise: 1}\n"
    )
    write_bundle(tmp_path / "c", service="s", namespace="n")  # the server must stop before it needs them
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "verifier.cli",
            "serve",
            "--policy",
            str(tmp_path / "bad.yaml"),
            "--tls-cert",
            str(tmp_path / "c" / "tls.crt"),
            "--tls-key",
            str(tmp_path / "c" / "tls.key"),
            "--port",
            str(free_port()),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "bad.yaml" in result.stderr
    assert "surprise" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_busy_port_is_one_clear_line_and_exit_2(tmp_path):
    import socket

    write_bundle(tmp_path / "c", service="s", namespace="n", ip_addresses=["127.0.0.1"])
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "verifier.cli",
                "serve",
                "--policy",
                str(POLICY_OK),
                "--tls-cert",
                str(tmp_path / "c" / "tls.crt"),
                "--tls-key",
                str(tmp_path / "c" / "tls.key"),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: cannot listen on 127.0.0.1:{port}: Address already in use"
