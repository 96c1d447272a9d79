"""Kubernetes objects as the API server returns them: kubectl's own shapes (``tests/assets/k8s``, from
``kubectl create ... --dry-run=client -o json``) with the metadata (uid, namespace, ownerReferences) and the
``status`` blocks a live cluster adds. Used by the API-server double's tests and the audit benchmark.

    workload("Deployment", "shop", "web", [("web", "reg/app:v1")], replicas=0)
    pod("shop", "web-1", [("web", "reg/app:v1")], owner=("ReplicaSet", "web-5d4f"),
        image_ids={"web": "reg/app@sha256:..."})          # None: still pulling (no imageID)
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

__all__ = ["ASSETS", "Containers", "pod", "workload"]

ASSETS = Path(__file__).resolve().parents[1] / "assets" / "k8s"
_CREATED = "2026-11-01T09:00:00Z"

Containers = Sequence[tuple[str, str]]


def _shape(name: str) -> dict[str, Any]:
    return dict(orjson.loads((ASSETS / f"{name}.json").read_bytes()))


def _containers(entries: Containers) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "image": image,
            "resources": {},
            "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File",
            "imagePullPolicy": "IfNotPresent",
        }
        for name, image in entries
    ]


def _metadata(namespace: str, name: str, owner: tuple[str, str] | None) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{namespace}/{name}")),
        "resourceVersion": "1",
        "creationTimestamp": _CREATED,
        "labels": {"app": name},
    }
    if owner is not None:
        kind, owner_name = owner
        api = "batch/v1" if kind in ("Job", "CronJob") else "v1" if kind == "ReplicationController" else "apps/v1"
        meta["ownerReferences"] = [
            {
                "apiVersion": api,
                "kind": kind,
                "name": owner_name,
                "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{namespace}/{owner_name}")),
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
    return meta


def workload(
    kind: str,
    namespace: str,
    name: str,
    containers: Containers,
    *,
    init: Containers = (),
    replicas: int = 1,
    owner: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """A Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob or ReplicationController."""
    shape = {"ReplicationController": "replicationcontroller"}.get(kind, kind.lower())
    obj = _shape(shape)
    obj["metadata"] = _metadata(namespace, name, owner)
    holder = obj["spec"]["jobTemplate"]["spec"] if kind == "CronJob" else obj["spec"]
    spec = holder["template"]["spec"]
    spec["containers"] = _containers(containers)
    spec.pop("initContainers", None)
    if init:
        spec["initContainers"] = _containers(init)
    if kind in ("Deployment", "ReplicaSet", "StatefulSet", "ReplicationController"):
        obj["spec"]["replicas"] = replicas
        obj["status"] = {"replicas": replicas, "readyReplicas": replicas, "observedGeneration": 1}
    return obj


def pod(
    namespace: str,
    name: str,
    containers: Containers,
    *,
    init: Containers = (),
    ephemeral: Containers = (),
    owner: tuple[str, str] | None = None,
    image_ids: Mapping[str, str | None] | None = None,
) -> dict[str, Any]:
    """A running Pod; ``image_ids`` gives each container's ``imageID`` (None: still pulling, no imageID)."""
    obj = _shape("pod")
    obj["metadata"] = _metadata(namespace, name, owner)
    obj["spec"]["containers"] = _containers(containers)
    obj["spec"].pop("initContainers", None)
    if init:
        obj["spec"]["initContainers"] = _containers(init)
    if ephemeral:
        obj["spec"]["ephemeralContainers"] = _containers(ephemeral)
    obj["spec"]["nodeName"] = "node-1"
    ids = image_ids or {}

    def status(entries: Containers, *, terminated: bool = False) -> list[dict[str, Any]]:
        out = []
        for cname, image in entries:
            image_id = ids.get(cname, "")
            running = image_id is not None
            state: dict[str, Any]
            if not running:
                state = {"waiting": {"reason": "ContainerCreating"}}
            elif terminated:
                state = {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": _CREATED}}
            else:
                state = {"running": {"startedAt": _CREATED}}
            container_id = hashlib.sha256(f"{namespace}/{name}/{cname}".encode()).hexdigest()
            out.append(
                {
                    "name": cname,
                    "state": state,
                    "lastState": {},
                    "ready": running and not terminated,
                    "restartCount": 0,
                    "image": image,
                    "imageID": image_id or "",
                    **({"containerID": f"containerd://{container_id}", "started": True} if running else {}),
                }
            )
        return out

    obj["status"] = {
        "phase": "Running",
        "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": _CREATED}],
        "hostIP": "127.0.0.1",
        "podIP": "127.0.0.1",
        "startTime": _CREATED,
        "qosClass": "BestEffort",
        "containerStatuses": status(containers),
    }
    if init:
        obj["status"]["initContainerStatuses"] = status(init, terminated=True)
    if ephemeral:
        obj["status"]["ephemeralContainerStatuses"] = status(ephemeral)
    return obj
