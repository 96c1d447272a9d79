"""verifier.kubeapi against the API-server double: pagination, 410 restarts, every way of authenticating
(bearer token, client certificate, exec plugin, in-cluster service account) and clear errors."""

from __future__ import annotations

import base64
import socket
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.k8sobjects import pod
from tests.support.kubeapi import KubeAPIDouble
from verifier.kubeapi import (
    RESOURCES,
    KubeClient,
    KubeConfigError,
    KubeError,
    KubeForbiddenError,
    KubeUnavailableError,
    kubeconfig_contexts,
)
from verifier.limits import Limits

SMALL = Limits(kube_page_size=2)


@pytest.fixture
def api():
    with KubeAPIDouble(tls=True) as double:
        for ns in ("a", "b"):
            double.add(*[pod(ns, f"p{i}", [("c", "reg.test/x:1")]) for i in range(4 if ns == "a" else 3)])
        yield double


def _names(client: KubeClient, namespace: str | None = None) -> list[str]:
    pods = client.objects(RESOURCES["pods"], namespace)
    return [f"{p['metadata']['namespace']}/{p['metadata']['name']}" for p in pods]


def test_lists_are_paginated_with_continue(api, tmp_path):
    config = api.kubeconfig(tmp_path / "config", {"u": api.token_user("u")})
    client = KubeClient.from_kubeconfig(config, "u", limits=SMALL)
    pods = list(client.objects(RESOURCES["pods"]))
    assert len(pods) == 7 and len({p["metadata"]["uid"] for p in pods}) == 7
    assert pods[0]["kind"] == "Pod" and pods[0]["apiVersion"] == "v1"  # items carry neither in a list
    assert client.requests == 4 == api.requests.count("/api/v1/pods")
    assert _names(client, "b") == ["b/p0", "b/p1", "b/p2"]


def test_an_expired_continue_restarts_the_list_once(api, tmp_path):
    config = api.kubeconfig(tmp_path / "config", {"u": api.token_user("u")})
    client = KubeClient.from_kubeconfig(config, "u", limits=SMALL)
    api.expire_continue = 1
    names = _names(client)
    assert sorted(names) == sorted(set(names)) and len(names) == 7  # restarted, nothing twice, nothing lost
    assert client.requests == 1 + 1 + 4  # first page, the 410, the whole list again
    api.expire_continue = 2
    with pytest.raises(KubeError, match="HTTP 410"):
        _names(client)


def test_client_certificate_and_bad_token(api, tmp_path):
    config = api.kubeconfig(tmp_path / "config", {"cert": api.cert_user("alice"), "bad": {"token": "nope"}})
    assert len(_names(KubeClient.from_kubeconfig(config, "cert"))) == 7
    with pytest.raises(KubeForbiddenError, match="HTTP 401: credentials rejected") as err:
        _names(KubeClient.from_kubeconfig(config, "bad"))
    assert err.value.status == 401
    assert kubeconfig_contexts(config) == (["cert", "bad"], "cert")


def test_rbac_forbidden_namespace_is_a_403(api, tmp_path):
    config = api.kubeconfig(tmp_path / "config", {"u": api.token_user("u")})
    api.forbidden["u"] = {"b"}
    client = KubeClient.from_kubeconfig(config, "u")
    assert len(_names(client, "a")) == 4
    with pytest.raises(KubeForbiddenError, match='cannot list resource "pods" in the namespace "b"'):
        _names(client, "b")


def test_exec_credential_plugin(api, tmp_path):
    token = api.token_user("robot")["token"]
    plugin = tmp_path / "plugin.py"
    plugin.write_text(
        "import json\nprint(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1', "
        f"'kind': 'ExecCredential', 'status': {{'token': {token!r}}}}}))\n"
    )
    user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": sys.executable,
                     "args": [str(plugin)], "interactiveMode": "Never"}}
    config = api.kubeconfig(tmp_path / "config", {"robot": user})
    assert len(_names(KubeClient.from_kubeconfig(config, "robot"))) == 7
    plugin.write_text("import sys\nsys.exit(3)\n")
    with pytest.raises(KubeConfigError, match="context 'robot' of kubeconfig .*: credential plugin failed: .*3"):
        KubeClient.from_kubeconfig(config, "robot")


def test_in_cluster_service_account(api, tmp_path, monkeypatch):
    account = tmp_path / "sa"
    account.mkdir()
    (account / "token").write_text(api.token_user("system:serviceaccount:sealgate:sealgate")["token"])
    config = yaml.safe_load(Path(api.kubeconfig(tmp_path / "c", {"x": {}})).read_text())
    (account / "ca.crt").write_bytes(base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"]))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(api.port))
    client = KubeClient.in_cluster(account=account)
    assert client.get("/api/v1/namespaces/a")["metadata"]["labels"]["kubernetes.io/metadata.name"] == "a"
    assert client.get("/api/v1/namespaces/ghost") is None
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST")
    with pytest.raises(KubeConfigError, match="in-cluster configuration"):
        KubeClient.in_cluster(account=account)


def test_missing_context_file_and_unreachable_server(tmp_path):
    with pytest.raises(KubeConfigError, match="kubeconfig"):
        KubeClient.from_kubeconfig(str(tmp_path / "absent"), "x")
    broken = tmp_path / "broken"
    broken.write_text("clusters: [unclosed\n")
    with pytest.raises(KubeConfigError, match=f"kubeconfig {broken}: while parsing"):
        kubeconfig_contexts(str(broken))
    with pytest.raises(KubeConfigError, match=f"kubeconfig {broken}: while parsing"):
        KubeClient.from_kubeconfig(str(broken))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = KubeClient.from_url(f"http://127.0.0.1:{port}")
    with pytest.raises(KubeUnavailableError, match="Kubernetes API unavailable"):
        client.get("/api/v1/namespaces/a")


@pytest.mark.parametrize(
    ("namespace", "name"),
    [("../kube-system", None), ("a/b", None), ("A", None), ("x" * 64, None), ("a?watch=1", None),
     ("a", "../../secrets"), ("a", "x/y"), ("a", ""), ("a", "x" * 254), ("a", "r?dryRun=All")],
)
def test_names_that_would_change_a_url_path_are_refused(namespace, name):
    """Namespaces and object names reach URL paths (``-n``, an AdmissionReview's namespace, reports being
    written): anything Kubernetes would not accept as a name is an error before a request is made."""
    with pytest.raises(KubeError, match="is not a valid"):
        RESOURCES["pods"].path(namespace, name)


def test_valid_names_make_the_expected_paths():
    assert RESOURCES["pods"].path("team-a") == "/api/v1/namespaces/team-a/pods"
    assert RESOURCES["deployments"].path("a", "web.v2") == "/apis/apps/v1/namespaces/a/deployments/web.v2"
    assert RESOURCES["namespaces"].path(None, "kube-system") == "/api/v1/namespaces/kube-system"
