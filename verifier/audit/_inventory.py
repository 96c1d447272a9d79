"""From Kubernetes objects (live lists or manifests) to the images a cluster runs or will run.

Pure: objects go in one at a time (so 10,000 pods never sit in memory as dicts), compact records stay.
Each pod's owner is resolved to its top-level workload (ReplicaSet -> Deployment, Job -> CronJob); a workload
with no pod running under it (a Deployment scaled to 0, a CronJob between runs, a manifest) is checked from
its pod template. Uses of the same image by the same container of the same workload are merged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from verifier.workloads import POD_SPEC_PATHS, STATUS_LISTS, Unsupported, container_images, pod_spec

from ._model import Workload

__all__ = ["ImageUse", "Inventory", "running_digest"]

_MAX_PODS_NAMED = 20


@dataclass(slots=True)
class ImageUse:
    """One container image in one workload: what the spec says and, for pods, what runs."""

    namespace: str
    workload: Workload
    container: str
    container_type: str
    field_path: str
    image: str
    running: str | None  # the digest the node pulled (sha256:...), None when unknown
    source: str  # "pod" or "template"
    pods: list[str] = field(default_factory=list)
    #: the file the object came from (``--from-file``), None for a live cluster
    file: str | None = None
    #: a pod reported the container without a registry digest: "" (no imageID yet: pending, pulling) or the
    #: imageID it gave instead (a bare local image id); None when the digest is known or there is no status
    unpinned_id: str | None = None


@dataclass(slots=True)
class _Pod:
    namespace: str
    name: str
    owner: Workload | None
    uses: list[tuple[str, str, str, str, str | None, str | None]]  # container, type, path, image, running, no-id
    file: str | None = None


@dataclass(slots=True)
class _Template:
    namespace: str
    workload: Workload
    owner: Workload | None
    uses: list[tuple[str, str, str, str]]  # container, type, path, image
    file: str | None = None


class Inventory:
    """``add(obj)`` each object, then ``uses()``; ``problems`` lists objects that could not be read."""

    def __init__(self) -> None:
        self._pods: list[_Pod] = []
        self._templates: list[_Template] = []
        self._owners: dict[tuple[str, str, str], Workload] = {}  # (namespace, kind, name) -> controller
        self.problems: list[tuple[str, Workload, str]] = []
        self.pods = 0
        self.workloads = 0
        self.namespaces: set[str] = set()

    def add(self, obj: Mapping[str, Any], default_namespace: str = "default", file: str | None = None) -> bool:
        """Take one object (read from ``file``, if from one); False when it is not a kind that runs containers."""
        kind = obj.get("kind")
        api_version = obj.get("apiVersion")
        if not isinstance(kind, str) or not isinstance(api_version, str):
            return False
        group = api_version.rpartition("/")[0]
        path = POD_SPEC_PATHS.get((group, kind))
        if path is None:
            return False
        metadata = obj.get("metadata")
        metadata = metadata if isinstance(metadata, Mapping) else {}
        name = metadata.get("name")
        name = name if isinstance(name, str) and name else "(unnamed)"
        namespace = metadata.get("namespace")
        namespace = namespace if isinstance(namespace, str) and namespace else default_namespace
        self.namespaces.add(namespace)
        me = Workload(kind, name)
        owner = _controller(metadata)
        if owner is not None and kind != "Pod":
            self._owners[(namespace, kind, name)] = owner
        spec = pod_spec(obj, path)
        images = container_images(spec if not isinstance(spec, Unsupported) else None, ".".join(path))
        if isinstance(spec, Unsupported) or isinstance(images, Unsupported):
            reason = spec.reason if isinstance(spec, Unsupported) else images.reason  # type: ignore[union-attr]
            self.problems.append((namespace, me, reason))
            return True
        if kind == "Pod":
            self.pods += 1
            statuses = _statuses(obj.get("status"))
            uses = []
            for image in images:
                status = statuses.get((image.list_name, image.container))
                running = running_digest(status.get("imageID")) if status is not None else None
                no_id = None if status is None or running is not None else str(status.get("imageID") or "")[:200]
                uses.append((image.container, image.list_name, image.field_path, image.image, running, no_id))
            self._pods.append(_Pod(namespace, name, owner, uses, file))
        else:
            self.workloads += 1
            uses_t = [(i.container, i.list_name, i.field_path, i.image) for i in images]
            self._templates.append(_Template(namespace, me, owner, uses_t, file))
        return True

    def _top(self, namespace: str, workload: Workload) -> Workload:
        seen = 0
        while seen < 4:  # Pod -> ReplicaSet -> Deployment; Pod -> Job -> CronJob
            parent = self._owners.get((namespace, workload.kind, workload.name))
            if parent is None:
                return workload
            workload, seen = parent, seen + 1
        return workload

    def uses(self) -> list[ImageUse]:
        """Every image use, merged per (namespace, workload, container, image, running digest)."""
        merged: dict[tuple[Any, ...], ImageUse] = {}
        covered: set[tuple[str, Workload]] = set()
        for pod in self._pods:
            me = Workload("Pod", pod.name)
            top = self._top(pod.namespace, pod.owner) if pod.owner is not None else me
            covered.add((pod.namespace, top))
            for container, ctype, path, image, running, no_id in pod.uses:
                key = (pod.namespace, top, ctype, container, image, running)
                use = merged.get(key)
                if use is None:
                    use = merged[key] = ImageUse(
                        pod.namespace, top, container, ctype, path, image, running, "pod", file=pod.file
                    )
                if len(use.pods) < _MAX_PODS_NAMED:
                    use.pods.append(pod.name)
                if no_id is not None and use.unpinned_id is None:
                    use.unpinned_id = no_id
        listed = {(t.namespace, t.workload) for t in self._templates}
        for template in self._templates:
            top = self._top(template.namespace, template.workload)
            if (template.namespace, top) in covered:
                continue  # pods run under it: what runs is checked
            if top != template.workload and (template.namespace, top) in listed:
                continue  # its owner's template is checked instead
            for container, ctype, path, image in template.uses:
                key = (template.namespace, top, ctype, container, image, None)
                merged.setdefault(
                    key,
                    ImageUse(template.namespace, top, container, ctype, path, image, None, "template",
                             file=template.file),
                )
        return list(merged.values())


def running_digest(image_id: object) -> str | None:
    """The manifest digest in a container status ``imageID`` (``docker-pullable://repo@sha256:...``,
    ``repo@sha256:...``); None when it carries none (empty, or a bare local image id)."""
    if not isinstance(image_id, str) or "@" not in image_id:
        return None
    digest = image_id.rpartition("@")[2]
    algorithm, _, hex_ = digest.partition(":")
    if algorithm != "sha256" or len(hex_) != 64 or any(c not in "0123456789abcdef" for c in hex_):
        return None
    return digest


def _controller(metadata: Mapping[str, Any]) -> Workload | None:
    refs = metadata.get("ownerReferences")
    if not isinstance(refs, list):
        return None
    chosen = None
    for ref in refs:
        if not isinstance(ref, Mapping):
            continue
        kind, name = ref.get("kind"), ref.get("name")
        if isinstance(kind, str) and isinstance(name, str) and kind and name:
            if ref.get("controller") is True:
                return Workload(kind, name)
            chosen = chosen or Workload(kind, name)
    return chosen


def _statuses(status: object) -> dict[tuple[str, str], Mapping[str, Any]]:
    """(spec list, container name) -> that container's status."""
    found: dict[tuple[str, str], Mapping[str, Any]] = {}
    if not isinstance(status, Mapping):
        return found
    for list_name, status_list in STATUS_LISTS.items():
        entries = status.get(status_list)
        if not isinstance(entries, list):
            continue
        for entry in entries:
            if isinstance(entry, Mapping) and isinstance(entry.get("name"), str):
                found[(list_name, entry["name"])] = entry
    return found
