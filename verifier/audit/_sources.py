"""Where the objects come from: a live cluster (through :mod:`verifier.kubeapi`) or files.

Live: Pods and the seven workload kinds are listed cluster-wide with ``-A`` (falling back to one namespace at
a time when RBAC forbids the cluster-wide list), or per ``-n`` namespace. A namespace (or the whole cluster)
that cannot be listed is a problem in the report, never fatal; the rest is audited.

Files: ``kubectl get ... -o json`` output (a List, or several concatenated), single objects, or manifests
(YAML or JSON, multi-document, Helm-rendered). Kinds that run no containers are ignored.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml

from verifier.errors import Reason, UsageError
from verifier.kubeapi import RESOURCES, KubeClient, KubeError, KubeForbiddenError
from verifier.limits import DEFAULT_LIMITS

from ._inventory import Inventory

__all__ = ["ListProblem", "Snapshot", "from_cluster", "from_files"]

_WORKLOADS = (
    "pods",
    "deployments",
    "replicasets",
    "statefulsets",
    "daemonsets",
    "jobs",
    "cronjobs",
    "replicationcontrollers",
)


@dataclass(slots=True)
class ListProblem:
    """Something that could not be listed: ``namespace`` "" is the whole cluster."""

    namespace: str
    resource: str
    message: str
    fatal: bool = False  # the cluster could not be reached (or its credentials are unusable) at all


@dataclass(slots=True)
class Snapshot:
    inventory: Inventory = field(default_factory=Inventory)
    problems: list[ListProblem] = field(default_factory=list)
    #: namespace -> labels (None when namespaces could not be listed)
    labels: dict[str, Mapping[str, str]] | None = None


def from_cluster(client: KubeClient, namespaces: list[str] | None) -> Snapshot:
    """List everything the audit needs; ``namespaces`` None means all of them."""
    snap = Snapshot()
    snap.labels = _namespace_labels(client, snap)
    if snap.problems and snap.problems[-1].fatal:
        return snap
    if snap.labels is None and namespaces is not None:  # may not list namespaces: read the ones asked for
        snap.labels = _labels_one_by_one(client, namespaces)
    jobs: list[tuple[str, str | None]] = []
    if namespaces is None:
        for resource in _WORKLOADS:
            jobs.append((resource, None))
    else:
        jobs = [(resource, ns) for ns in namespaces for resource in _WORKLOADS]
    forbidden_wide: list[str] = []
    lock = threading.Lock()

    def run(job: tuple[str, str | None]) -> tuple[str, str | None, KubeError | None]:
        return _list(client, job[0], job[1], snap.inventory, lock)

    with ThreadPoolExecutor(max_workers=4) as pool:
        for resource, namespace, problem in pool.map(run, jobs):
            if problem is None:
                continue
            if namespace is None and isinstance(problem, KubeForbiddenError) and problem.status == 403:
                forbidden_wide.append(resource)
                continue
            snap.problems.append(_problem(namespace or "", resource, problem))
        if forbidden_wide:  # RBAC allows some namespaces only: list those one by one
            names = sorted(snap.labels) if snap.labels is not None else []
            if not names:
                for resource in forbidden_wide:
                    snap.problems.append(
                        ListProblem("", resource, f"{client.name}: listing {resource} cluster-wide is forbidden and "
                                    "namespaces cannot be listed to go one by one")
                    )
            per_ns = [(resource, ns) for ns in names for resource in forbidden_wide]
            for resource, namespace, problem in pool.map(run, per_ns):
                if problem is not None:
                    snap.problems.append(_problem(namespace or "", resource, problem))
    if namespaces is not None:
        snap.inventory.namespaces.update(namespaces)
    elif snap.labels is not None:
        snap.inventory.namespaces.update(snap.labels)
    return snap


def _namespace_labels(client: KubeClient, snap: Snapshot) -> dict[str, Mapping[str, str]] | None:
    try:
        labels: dict[str, Mapping[str, str]] = {}
        for ns in client.objects(RESOURCES["namespaces"]):
            metadata = ns.get("metadata")
            if not isinstance(metadata, dict) or not isinstance(metadata.get("name"), str):
                continue
            raw = metadata.get("labels")
            good = isinstance(raw, dict) and all(isinstance(v, str) for v in raw.values())
            labels[metadata["name"]] = raw if good else {}  # type: ignore[assignment]
        return labels
    except KubeForbiddenError as exc:
        if exc.status == 401:  # the credentials are rejected: nothing else will work either
            snap.problems.append(ListProblem("", "namespaces", exc.message, fatal=True))
        return None
    except KubeError as exc:
        fatal = exc.code == Reason.KUBE_UNAVAILABLE
        snap.problems.append(ListProblem("", "namespaces", exc.message, fatal=fatal))
        return None


def _labels_one_by_one(client: KubeClient, namespaces: list[str]) -> dict[str, Mapping[str, str]] | None:
    labels: dict[str, Mapping[str, str]] = {}
    for name in namespaces:
        try:
            namespace = client.get(RESOURCES["namespaces"].path(None, name))
        except KubeError:
            continue  # unknown labels: a policy that selects by label reports the image as not checked
        metadata = namespace.get("metadata") if namespace else None
        raw = metadata.get("labels") if isinstance(metadata, dict) else None
        if isinstance(raw, dict) and all(isinstance(v, str) for v in raw.values()):
            labels[name] = raw
        elif namespace is not None:
            labels[name] = {}
    return labels or None


def _list(
    client: KubeClient, resource: str, namespace: str | None, inventory: Inventory, lock: threading.Lock
) -> tuple[str, str | None, KubeError | None]:
    """Feed one resource's objects into the inventory as they arrive; a failure is returned, not raised."""
    try:
        for obj in client.objects(RESOURCES[resource], namespace):
            with lock:
                inventory.add(obj, namespace or "default")
        return resource, namespace, None
    except KubeError as exc:
        return resource, namespace, exc


def _problem(namespace: str, resource: str, exc: KubeError) -> ListProblem:
    return ListProblem(namespace, resource, exc.message)


# --- files ---------------------------------------------------------------------------------------------


def from_files(paths: list[str]) -> Snapshot:
    snap = Snapshot()
    for path in paths:
        found = 0
        for obj in _documents(path):
            if isinstance(obj, dict) and isinstance(obj.get("kind"), str):
                found += 1
                _add_tree(snap.inventory, obj, path)
        if not found:
            raise UsageError(f"--from-file {path}: no Kubernetes objects (documents with a kind) in it")
    return snap


def _add_tree(inventory: Inventory, obj: Any, file: str, depth: int = 0) -> None:
    if not isinstance(obj, dict) or depth > 2:
        return
    kind = obj.get("kind")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(obj.get("items"), list):
        for item in obj["items"]:
            _add_tree(inventory, item, file, depth + 1)
        return
    inventory.add(obj, file=file)


def _documents(path: str) -> Iterator[Any]:
    try:
        file = Path(path)
        if file.stat().st_size > DEFAULT_LIMITS.max_audit_file_bytes:
            cap = DEFAULT_LIMITS.max_audit_file_bytes
            raise UsageError(f"--from-file {path}: larger than {cap // (1024 * 1024)} MiB (max_audit_file_bytes)")
        data = file.read_bytes()
    except OSError as exc:
        raise UsageError(f"--from-file {path}: {exc.strerror or exc}") from None
    text = data.decode("utf-8", errors="replace")
    if text.lstrip().startswith(("{", "[")):
        try:
            yield from _json_documents(text)
            return
        except ValueError:
            pass  # not JSON after all (a YAML flow mapping?): try YAML
    try:
        yield from list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise UsageError(f"--from-file {path}: neither JSON nor YAML{where}") from None


def _json_documents(text: str) -> Iterator[Any]:
    """One JSON document, or several written one after another (``kubectl get a -o json; kubectl get b``)."""
    try:
        yield orjson.loads(text)
        return
    except orjson.JSONDecodeError:
        pass
    decoder = json.JSONDecoder()
    docs: list[Any] = []
    index = 0
    while index < len(text):
        while index < len(text) and text[index].isspace():
            index += 1
        if index >= len(text):
            break
        doc, index = decoder.raw_decode(text, index)
        docs.append(doc)
    yield from docs
