"""AdmissionReview documents for tests, built from the committed real object shapes (tests/assets/k8s)."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

SHAPES = Path(__file__).resolve().parents[1] / "tests" / "assets" / "k8s"

_RESOURCES = {
    "Pod": ("", "pods"),
    "Deployment": ("apps", "deployments"),
    "ReplicaSet": ("apps", "replicasets"),
    "StatefulSet": ("apps", "statefulsets"),
    "DaemonSet": ("apps", "daemonsets"),
    "Job": ("batch", "jobs"),
    "CronJob": ("batch", "cronjobs"),
    "ReplicationController": ("", "replicationcontrollers"),
}


def shape(name: str) -> dict[str, Any]:
    """A committed object (``pod``, ``deployment``, ``cronjob``, ...) or review (``review-create-pod``)."""
    loaded: dict[str, Any] = json.loads((SHAPES / f"{name}.json").read_text())
    return loaded


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    kind = obj["kind"]
    path = {"Pod": ("spec",), "CronJob": ("spec", "jobTemplate", "spec", "template", "spec")}.get(
        kind, ("spec", "template", "spec")
    )
    node: dict[str, Any] = obj
    for key in path:
        node = node[key]
    return node


def with_images(obj: dict[str, Any], containers: list[str], init: list[str] | None = None) -> dict[str, Any]:
    """A copy of ``obj`` whose containers (and initContainers) run exactly these images."""
    out = copy.deepcopy(obj)
    spec = pod_spec(out)
    template = spec["containers"][0]
    spec["containers"] = [dict(template, name=f"c{i}", image=image) for i, image in enumerate(containers)]
    if init is None:
        spec.pop("initContainers", None)
    else:
        spec["initContainers"] = [dict(template, name=f"init{i}", image=image) for i, image in enumerate(init)]
    return out


def review(
    obj: dict[str, Any] | None,
    *,
    operation: str = "CREATE",
    namespace: str = "prod",
    old: dict[str, Any] | None = None,
    sub_resource: str | None = None,
    kind: str | None = None,
) -> dict[str, Any]:
    """An ``admission.k8s.io/v1`` AdmissionReview request as the API server sends it (FORMATS.md §10)."""
    kind = kind or (obj or old or {})["kind"]
    group, resource = _RESOURCES.get(kind, ("example.com", kind.lower() + "s"))
    version = "v1"
    gvk = {"group": group, "version": version, "kind": kind}
    gvr = {"group": group, "version": version, "resource": resource}
    request: dict[str, Any] = {
        "uid": str(uuid.uuid4()),
        "kind": gvk,
        "resource": gvr,
        "requestKind": gvk,
        "requestResource": gvr,
        "name": (obj or old or {}).get("metadata", {}).get("name", ""),
        "namespace": namespace,
        "operation": operation,
        "userInfo": {"username": "kubernetes-admin", "groups": ["system:masters", "system:authenticated"]},
        "object": obj,
        "oldObject": old,
        "dryRun": False,
        "options": {"kind": f"{operation.capitalize()}Options", "apiVersion": "meta.k8s.io/v1"},
    }
    if sub_resource:
        request["subResource"] = request["requestSubResource"] = sub_resource
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}
