"""Regenerate ``tests/assets/k8s``: object shapes made by kubectl, and AdmissionReview documents built from them.

    python -m tools.k8s_shapes                      # writes tests/assets/k8s/*.json and README.md
    python -m tools.k8s_shapes --kubectl /opt/kubectl-1.20 --out /tmp/k8s

kubectl makes the Pod, Deployment, Job and CronJob with ``--dry-run=client -o json``, and the entry
``kubectl debug`` adds to ``spec.ephemeralContainers`` (captured from the PATCH it sends). ``kubectl run`` and
``kubectl debug`` need an API server for discovery: :class:`FakeAPIServer` answers them on 127.0.0.1 with the
few documents they read. Everything else is derived here (see :data:`EDITS`), and the README says which is which.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

from .localregistry import ToolError

__all__ = [
    "COMMANDS",
    "EDITS",
    "FakeAPIServer",
    "build_assets",
    "dumps",
    "kubectl_objects",
    "kubectl_version",
    "main",
    "object_names",
    "readme",
]

_logger = logging.getLogger(__name__)

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "tests" / "assets" / "k8s"

WEB = "registry.example.com/team/web:1.2"
SHIPPER = "registry.example.com/team/log-shipper@sha256:" + "0123456789abcdef" * 4
MIGRATE = "registry.example.com/team/migrate:1.2"
REPORT = "registry.example.com/team/report:2.0"
DEBUG = "registry.example.com/tools/debug:1.36"

#: file (without .json) -> the kubectl arguments that made it
COMMANDS: Mapping[str, Sequence[str]] = {
    "pod": ["run", "web", f"--image={WEB}", "--dry-run=client", "-o", "json"],
    "deployment": [
        "create",
        "deployment",
        "web",
        f"--image={WEB}",
        f"--image={SHIPPER}",
        "--dry-run=client",
        "-o",
        "json",
    ],
    "job": [
        "create",
        "job",
        "migrate",
        f"--image={MIGRATE}",
        "--dry-run=client",
        "-o",
        "json",
        "--",
        "/migrate",
        "--once",
    ],
    "cronjob": [
        "create",
        "cronjob",
        "report",
        f"--image={REPORT}",
        "--schedule=0 3 * * *",
        "--dry-run=client",
        "-o",
        "json",
        "--",
        "/report",
    ],
    "ephemeral-patch": ["debug", "web", "-c", "debugger", f"--image={DEBUG}", "--target=web"],
}

#: file -> what the tool changed or built by hand (for the README)
EDITS: Mapping[str, str] = {
    "pod": f"kubectl output, plus `spec.initContainers` [migrate `{MIGRATE}`] added by the tool",
    "deployment": f"kubectl output, plus `spec.template.spec.initContainers` [migrate `{MIGRATE}`] added by the tool",
    "job": "kubectl output, unchanged",
    "cronjob": "kubectl output, unchanged",
    "ephemeral-patch": "the strategic-merge patch body `kubectl debug` PATCHes to `pods/web/ephemeralcontainers`",
    "replicaset": "written by the tool from deployment.json (kubectl cannot create a ReplicaSet)",
    "statefulset": "written by the tool from deployment.json (kubectl cannot create a StatefulSet)",
    "daemonset": "written by the tool from deployment.json (kubectl cannot create a DaemonSet)",
    "replicationcontroller": "written by the tool from deployment.json (kubectl cannot create one)",
    "review-create-pod": 'CREATE of a Pod a ReplicaSet of deployment.json makes (generateName, so `name` is "")',
    "review-update-deployment-scale": "UPDATE of deployment.json changing only `spec.replicas` (1 -> 3), kubectl edit",
    "review-update-pod-ephemeralcontainers": "UPDATE of `pods/ephemeralcontainers` adding ephemeral-patch.json's entry",
    "review-delete-pod": "DELETE of the Pod (object null, oldObject the Pod)",
}

_TIME = "2026-01-15T10:00:00Z"
_POD_UID = "5b0b7a51-3b0e-4a55-8a36-0d3f6c1e2a01"
_DEPLOY_UID = "9c3e2d1f-6a7b-4c8d-9e0f-1a2b3c4d5e02"
_RS_UID = "0d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c03"


class FakeAPIServer:
    """The handful of API-server answers ``kubectl run`` and ``kubectl debug`` need, on 127.0.0.1.

    Serves discovery for the core group, ``GET`` of ``pod`` in namespace default, and records every
    ``PATCH`` (path, content type, decoded body) in :attr:`patches`, answering with the unchanged Pod.
    """

    def __init__(self, pod: Mapping[str, Any] | None = None) -> None:
        self.pod = dict(pod or {})
        self.patches: list[tuple[str, str, Any]] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise ToolError("fake API server is not running")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def _documents(self) -> dict[str, Any]:
        pod_resource = {
            "name": "pods",
            "singularName": "pod",
            "namespaced": True,
            "kind": "Pod",
            "verbs": ["create", "get", "list", "patch", "delete"],
            "shortNames": ["po"],
        }
        docs: dict[str, Any] = {
            "/api": {
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}],
            },
            "/apis": {"kind": "APIGroupList", "apiVersion": "v1", "groups": []},
            "/api/v1": {
                "kind": "APIResourceList",
                "groupVersion": "v1",
                "resources": [
                    pod_resource,
                    {
                        "name": "pods/ephemeralcontainers",
                        "singularName": "",
                        "namespaced": True,
                        "kind": "Pod",
                        "verbs": ["get", "patch", "update"],
                    },
                ],
            },
        }
        name = self.pod.get("metadata", {}).get("name")
        if name:
            docs[f"/api/v1/namespaces/default/pods/{name}"] = self.pod
        return docs

    def __enter__(self) -> FakeAPIServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _send(self, code: int, doc: Any) -> None:
                body = json.dumps(doc).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _not_found(self) -> None:
                self._send(
                    404,
                    {
                        "kind": "Status",
                        "apiVersion": "v1",
                        "status": "Failure",
                        "code": 404,
                        "reason": "NotFound",
                        "message": f"{self.path} not found",
                    },
                )

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                doc = server._documents().get(self.path.split("?")[0])
                if doc is None:
                    self._not_found()
                else:
                    self._send(200, doc)

            def do_PATCH(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path = self.path.split("?")[0]
                server.patches.append((path, self.headers.get("Content-Type", ""), json.loads(raw or b"null")))
                self._send(200, server.pod)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                _logger.debug("fake apiserver: " + format, *args)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-apiserver", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None


def _run(kubectl: str, args: Sequence[str], server: FakeAPIServer, workdir: Path) -> str:
    argv = [kubectl, f"--server={server.url}", f"--cache-dir={workdir / 'cache'}", *args]
    # no kubeconfig of the user's is read, and nothing is written to ~/.kube
    env = {**os.environ, "KUBECONFIG": str(workdir / "absent-kubeconfig"), "HOME": str(workdir)}
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ToolError(f"cannot run {kubectl}: {exc}") from exc
    if done.returncode != 0:
        raise ToolError(f"kubectl {' '.join(args[:2])} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


def kubectl_version(kubectl: str = "kubectl") -> tuple[str, int]:
    """kubectl's ``gitVersion`` and minor version number, e.g. ``("v1.32.4", 32)``."""
    try:
        done = subprocess.run(
            [kubectl, "version", "--client", "-o", "json"], capture_output=True, text=True, timeout=30, check=True
        )
        client = json.loads(done.stdout)["clientVersion"]
        return str(client["gitVersion"]), int(str(client["minor"]).rstrip("+"))
    except (OSError, subprocess.SubprocessError, ValueError, KeyError) as exc:
        raise ToolError(f"cannot read the version of {kubectl}: {exc}") from exc


def kubectl_objects(kubectl: str = "kubectl", *, names: Sequence[str] = tuple(COMMANDS)) -> dict[str, Any]:
    """The raw kubectl output for each of ``names`` (keys of :data:`COMMANDS`), decoded."""
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="k8s-shapes-") as tmp:
        workdir = Path(tmp)
        with FakeAPIServer() as server:
            for name in names:
                if name != "ephemeral-patch":
                    out[name] = json.loads(_run(kubectl, COMMANDS[name], server, workdir))
            if "ephemeral-patch" in names:
                pod = out.get("pod") or json.loads(_run(kubectl, COMMANDS["pod"], server, workdir))
        if "ephemeral-patch" in names:
            pod = copy.deepcopy(pod)
            pod["metadata"]["namespace"] = "default"
            with FakeAPIServer(pod) as server:
                _run(kubectl, COMMANDS["ephemeral-patch"], server, workdir)
            patches = [body for path, _, body in server.patches if path.endswith("/ephemeralcontainers")]
            if len(patches) != 1:
                raise ToolError(
                    f"kubectl debug sent {len(server.patches)} PATCH requests, not one to ephemeralcontainers"
                )
            out["ephemeral-patch"] = patches[0]
    return out


def object_names(minor: int) -> tuple[str, ...]:
    """The keys of :data:`COMMANDS` a kubectl of this minor version can make (debug needs 1.22 or later)."""
    return tuple(name for name in COMMANDS if name != "ephemeral-patch" or minor >= 22)


# --- derived objects ------------------------------------------------------------------------------------


def _with_init(pod_spec: dict[str, Any]) -> None:
    pod_spec["initContainers"] = [{"name": "migrate", "image": MIGRATE, "resources": {}}]


def _from_deployment(deployment: Mapping[str, Any], kind: str) -> dict[str, Any]:
    obj = copy.deepcopy(dict(deployment))
    spec = obj["spec"]
    spec.pop("strategy", None)
    if kind == "ReplicationController":
        obj["apiVersion"] = "v1"
        spec["selector"] = dict(spec["selector"]["matchLabels"])
    elif kind == "StatefulSet":
        spec["serviceName"] = "web"
        spec["updateStrategy"] = {}
    elif kind == "DaemonSet":
        spec.pop("replicas", None)
        spec["updateStrategy"] = {}
    obj["kind"] = kind
    return obj


def _server_pod_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """``spec`` as the API server stores it after defaulting and the ServiceAccount admission plugin."""
    out = copy.deepcopy(dict(spec))
    mount = {
        "name": "kube-api-access-7xk2p",
        "readOnly": True,
        "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
    }
    for key in ("initContainers", "containers"):
        for container in out.get(key, []):
            container.setdefault("volumeMounts", []).append(dict(mount))
            container.setdefault("terminationMessagePath", "/dev/termination-log")
            container.setdefault("terminationMessagePolicy", "File")
            container.setdefault("imagePullPolicy", "IfNotPresent")
    out.setdefault("restartPolicy", "Always")
    out.update(
        {
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst",
            "serviceAccountName": "default",
            "serviceAccount": "default",
            "securityContext": {},
            "schedulerName": "default-scheduler",
            "tolerations": [
                {
                    "key": "node.kubernetes.io/not-ready",
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": 300,
                },
                {
                    "key": "node.kubernetes.io/unreachable",
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": 300,
                },
            ],
            "priority": 0,
            "enableServiceLinks": True,
            "preemptionPolicy": "PreemptLowerPriority",
            "volumes": [
                {
                    "name": "kube-api-access-7xk2p",
                    "projected": {
                        "defaultMode": 420,
                        "sources": [
                            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                            {
                                "downwardAPI": {
                                    "items": [
                                        {
                                            "path": "namespace",
                                            "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                                        }
                                    ]
                                }
                            },
                        ],
                    },
                }
            ],
        }
    )
    return out


def _gvk(group: str, version: str, kind: str) -> dict[str, str]:
    return {"group": group, "version": version, "kind": kind}


def _gvr(group: str, version: str, resource: str) -> dict[str, str]:
    return {"group": group, "version": version, "resource": resource}


_ADMIN = {"username": "kubernetes-admin", "groups": ["kubeadm:cluster-admins", "system:authenticated"]}


def _review(
    uid: str,
    *,
    kind: dict[str, str],
    resource: dict[str, str],
    sub_resource: str = "",
    name: str,
    operation: str,
    user: Mapping[str, Any],
    obj: Any,
    old: Any,
    options: Mapping[str, Any],
) -> dict[str, Any]:
    request: dict[str, Any] = {"uid": uid, "kind": kind, "resource": resource}
    if sub_resource:
        request["subResource"] = sub_resource
    request.update({"requestKind": kind, "requestResource": resource})
    if sub_resource:
        request["requestSubResource"] = sub_resource
    request.update(
        {
            "name": name,
            "namespace": "default",
            "operation": operation,
            "userInfo": dict(user),
            "object": obj,
            "oldObject": old,
            "dryRun": False,
            "options": dict(options),
        }
    )
    return {"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1", "request": request}


def _running_pod(pod: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(dict(pod))
    out["metadata"].update(
        {"namespace": "default", "uid": _POD_UID, "resourceVersion": "48211", "creationTimestamp": _TIME}
    )
    out["spec"] = _server_pod_spec(out["spec"])
    out["spec"]["nodeName"] = "node-1"
    out["status"] = {"phase": "Running", "qosClass": "BestEffort", "startTime": _TIME}
    return out


def build_assets(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Every asset file (name without ``.json`` -> document) from the raw kubectl output of :func:`kubectl_objects`."""
    assets: dict[str, Any] = {name: copy.deepcopy(doc) for name, doc in raw.items()}
    _with_init(assets["pod"]["spec"])
    _with_init(assets["deployment"]["spec"]["template"]["spec"])
    for kind in ("ReplicaSet", "StatefulSet", "DaemonSet", "ReplicationController"):
        assets[kind.lower()] = _from_deployment(assets["deployment"], kind)

    # CREATE of a controller-made Pod: generateName, so the request's name is "".
    template = assets["deployment"]["spec"]["template"]
    hash_ = "5c8f7d9b6d"
    made = {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {
            "generateName": f"web-{hash_}-",
            "namespace": "default",
            "creationTimestamp": None,
            "labels": {**template["metadata"]["labels"], "pod-template-hash": hash_},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": f"web-{hash_}",
                    "uid": _RS_UID,
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": _server_pod_spec(template["spec"]),
        "status": {},
    }
    rs_controller = {
        "username": "system:serviceaccount:kube-system:replicaset-controller",
        "uid": "2f6c0e1d-8b9a-4c7d-a6e5-f4d3c2b1a004",
        "groups": ["system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"],
    }
    assets["review-create-pod"] = _review(
        "a1b2c3d4-0001-4000-8000-000000000001",
        kind=_gvk("", "v1", "Pod"),
        resource=_gvr("", "v1", "pods"),
        name="",
        operation="CREATE",
        user=rs_controller,
        obj=made,
        old=None,
        options={"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1"},
    )

    # UPDATE of a Deployment that changes only the replica count.
    old = copy.deepcopy(assets["deployment"])
    old["metadata"].update(
        {
            "namespace": "default",
            "uid": _DEPLOY_UID,
            "resourceVersion": "48100",
            "generation": 1,
            "creationTimestamp": _TIME,
            "annotations": {"deployment.kubernetes.io/revision": "1"},
        }
    )
    old["spec"]["template"]["spec"] = _server_pod_spec(old["spec"]["template"]["spec"])
    old["spec"].update(
        {
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600,
        }
    )
    old["status"] = {
        "observedGeneration": 1,
        "replicas": 1,
        "updatedReplicas": 1,
        "readyReplicas": 1,
        "availableReplicas": 1,
    }
    new = copy.deepcopy(old)
    new["spec"]["replicas"] = 3
    assets["review-update-deployment-scale"] = _review(
        "a1b2c3d4-0002-4000-8000-000000000002",
        kind=_gvk("apps", "v1", "Deployment"),
        resource=_gvr("apps", "v1", "deployments"),
        name="web",
        operation="UPDATE",
        user=_ADMIN,
        obj=new,
        old=old,
        options={"kind": "UpdateOptions", "apiVersion": "meta.k8s.io/v1", "fieldManager": "kubectl-edit"},
    )

    running = _running_pod(assets["pod"])
    assets["review-delete-pod"] = _review(
        "a1b2c3d4-0004-4000-8000-000000000004",
        kind=_gvk("", "v1", "Pod"),
        resource=_gvr("", "v1", "pods"),
        name="web",
        operation="DELETE",
        user=_ADMIN,
        obj=None,
        old=running,
        options={"kind": "DeleteOptions", "apiVersion": "meta.k8s.io/v1", "propagationPolicy": "Background"},
    )
    if "ephemeral-patch" not in assets:  # kubectl older than 1.22 cannot debug with the Pod-kind subresource
        return assets

    # UPDATE of pods/ephemeralcontainers: the whole Pod, with the entry kubectl debug adds.
    debugged = copy.deepcopy(running)
    entries = copy.deepcopy(assets["ephemeral-patch"]["spec"]["ephemeralContainers"])
    for entry in entries:
        entry.setdefault("terminationMessagePath", "/dev/termination-log")
        entry.setdefault("imagePullPolicy", "IfNotPresent")
    debugged["spec"]["ephemeralContainers"] = entries
    assets["review-update-pod-ephemeralcontainers"] = _review(
        "a1b2c3d4-0003-4000-8000-000000000003",
        kind=_gvk("", "v1", "Pod"),
        resource=_gvr("", "v1", "pods"),
        sub_resource="ephemeralcontainers",
        name="web",
        operation="UPDATE",
        user=_ADMIN,
        obj=debugged,
        old=running,
        options={"kind": "UpdateOptions", "apiVersion": "meta.k8s.io/v1", "fieldManager": "kubectl-debug"},
    )

    return assets


def readme(version: str) -> str:
    """The README of the asset directory: which command and kubectl version made each file."""
    lines = [
        "# Kubernetes object shapes and AdmissionReview documents",
        "",
        f"Generated by `python -m tools.k8s_shapes` with kubectl {version}; do not edit by hand, re-run the tool.",
        "Committed because CI machines may only have Debian's kubernetes-client 1.20 (or no kubectl).",
        "`tests/unit/webhook/test_shapes.py` regenerates them when kubectl is on PATH and checks that sealgate",
        "finds the same images in the committed and the fresh files.",
        "",
        "`kubectl run` and `kubectl debug` need an API server: the tool answers their discovery requests (and the",
        "GET of the Pod) from a fake server on 127.0.0.1, and records the PATCH `kubectl debug` sends.",
        "",
        "The `review-*.json` documents are **constructed** by the tool to the AdmissionReview v1 shape of",
        "`shared/FORMATS.md` §10 (requestKind/requestResource always set, userInfo, options, dryRun always present,",
        '`name` "" for a generateName Pod); they were not captured from a live API server. Their objects carry the',
        "defaults an API server adds (imagePullPolicy, terminationMessagePath, the service-account token volume).",
        "",
        "| file | made by | notes |",
        "| --- | --- | --- |",
    ]
    for name, note in EDITS.items():
        command = COMMANDS.get(name)
        made_by = f"`kubectl {' '.join(_shell_quote(arg) for arg in command)}`" if command else "tools/k8s_shapes.py"
        lines.append(f"| {name}.json | {made_by} | {note} |")
    return "\n".join(lines) + "\n"


def _shell_quote(arg: str) -> str:
    return arg if all(ch.isalnum() or ch in "-_=./:@" for ch in arg) else "'" + arg.replace("'", "'\\''") + "'"


def dumps(doc: Any) -> str:
    """The committed text of an asset: 2-space JSON in kubectl's key order, with a final newline."""
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.k8s_shapes", description=__doc__.splitlines()[0])
    parser.add_argument("--kubectl", default="kubectl", help="kubectl to run (default: kubectl on PATH)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"directory to write (default: {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    try:
        version, minor = kubectl_version(args.kubectl)
        assets = build_assets(kubectl_objects(args.kubectl, names=object_names(minor)))
    except ToolError as exc:
        print(f"k8s_shapes: {exc}", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    for name, doc in assets.items():
        (args.out / f"{name}.json").write_text(dumps(doc), encoding="utf-8")
    (args.out / "README.md").write_text(readme(version), encoding="utf-8")
    print(f"wrote {len(assets)} files and README.md to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
