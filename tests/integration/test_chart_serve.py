"""The chart's webhook pod, run as a process: the rendered policy ConfigMap and key Secret written out as the
kubelet would mount them, certificates from `sealgate certs`, and `sealgate serve` started with the Deployment's own
container arguments. Its probes answer, a Pod of a signed image on the loopback registry is admitted, an unsigned
one denied by the chart-rendered policy. The only change to what the chart renders: /etc/sealgate is moved under a
temporary folder, and the port is a free loopback one.
"""

from __future__ import annotations

import base64
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any

import helm_python as helm
import httpx
import pytest
import yaml

from tools.reviews import review, shape, with_images
from tools.webhookserver import free_port, wait_ready
from verifier.cli import main
from webhook.certs import write_bundle

pytestmark = pytest.mark.integration

CHART = Path(__file__).resolve().parents[2] / "charts" / "sealgate"
NAMESPACE = "sealgate"
PASSWORD = "chart-key-password"
MOUNT = "/etc/sealgate"

helm.disable_logging()


def _rendered(values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    manifests = helm.Chart.load(CHART).render(values, name="sealgate", namespace=NAMESPACE, is_install=True)
    docs = [
        d for path, text in manifests.items() if not path.endswith("NOTES.txt") for d in yaml.safe_load_all(text) if d
    ]
    return {d["kind"]: d for d in docs}


@pytest.fixture(scope="module")
def pod(tmp_path_factory: pytest.TempPathFactory, registry: Any) -> Any:
    tmp = tmp_path_factory.mktemp("chart-pod")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COSIGN_PASSWORD", PASSWORD)
        assert main(["keygen", "--output-key-prefix", str(tmp / "ci")]) == 0
    values = {
        "tls": {"caBundle": base64.b64encode(b"unused here").decode()},
        "keys": {"publicKeys": {"ci.pub": (tmp / "ci.pub").read_text()}},
        "policy": {
            "policies": [
                {
                    "name": "chart-signed",
                    "spec": {
                        "images": [f"{registry.host}/chart/**"],
                        "authorities": [{"name": "ci", "key": {"path": f"{MOUNT}/keys/ci.pub"}}],
                    },
                }
            ]
        },
    }
    objects = _rendered(values)
    root = tmp / "root"
    spec = objects["Deployment"]["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    mounts = {m["name"]: Path(str(root) + m["mountPath"]) for m in container["volumeMounts"]}
    for name, text in objects["ConfigMap"]["data"].items():  # the kubelet's projection of the ConfigMap
        mounts["policies"].mkdir(parents=True, exist_ok=True)
        (mounts["policies"] / name).write_text(text.replace(MOUNT, str(root) + MOUNT))
    for name, data in objects["Secret"]["data"].items():
        mounts["keys"].mkdir(parents=True, exist_ok=True)
        (mounts["keys"] / name).write_bytes(base64.b64decode(data))
    write_bundle(mounts["tls"], service="sealgate", namespace=NAMESPACE, ip_addresses=["127.0.0.1"])
    args = [a.replace(MOUNT, str(root) + MOUNT) for a in container["args"]]
    port = free_port()
    args[args.index("--port") + 1] = str(port)
    log = (tmp / "serve.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "verifier.cli", *args, "--host", "127.0.0.1"], stdout=log, stderr=subprocess.STDOUT
    )
    ca = ssl.create_default_context(cafile=str(mounts["tls"] / "ca.crt"))
    try:
        wait_ready(f"https://127.0.0.1:{port}/readyz", ca, process, timeout=60)
        yield {"url": f"https://127.0.0.1:{port}", "ca": ca, "container": container, "tmp": tmp, "registry": registry}
    finally:
        process.terminate()
        process.wait(10)
        log.close()


def test_the_probes_the_chart_declares_answer(pod: Any) -> None:
    with httpx.Client(verify=pod["ca"], timeout=5) as http:
        for probe in ("livenessProbe", "readinessProbe"):
            get = pod["container"][probe]["httpGet"]
            assert get["scheme"] == "HTTPS"
            assert http.get(pod["url"] + get["path"]).status_code == 200


def test_signed_image_admitted_unsigned_denied_by_the_chart_policy(pod: Any, pushed_image: Any) -> None:
    signed, _ = pushed_image(pod["registry"], repo="chart/app", tag="signed")
    unsigned, _ = pushed_image(pod["registry"], repo="chart/app", tag="unsigned")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COSIGN_PASSWORD", PASSWORD)
        assert main(["sign", "--key", str(pod["tmp"] / "ci.key"), signed]) == 0
    with httpx.Client(verify=pod["ca"], timeout=15) as http:
        answers = {}
        for name, image in (("signed", signed), ("unsigned", unsigned)):
            response = http.post(f"{pod['url']}/validate", json=review(with_images(shape("pod"), [image])))
            assert response.status_code == 200
            answers[name] = response.json()["response"]
    assert answers["signed"]["allowed"] is True
    assert answers["unsigned"]["allowed"] is False
    assert 'policy "chart-signed"' in answers["unsigned"]["status"]["message"]
