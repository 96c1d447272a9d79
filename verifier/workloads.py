"""Where a Kubernetes object keeps its container images: the PodSpec of each workload kind, every container list.

Images come from the PodSpec's three container lists (each entry's ``image``) and from its image volumes
(``volumes[].image.reference``, the ImageVolume source of Kubernetes 1.31+: the kubelet pulls that image too).

Pure and total: it never raises. Shared by the admission webhook (what a request introduces) and
``sealgate audit`` (what a cluster runs). An object whose pod spec is not shaped like one gives
:class:`Unsupported`. A container whose ``image`` is missing or not a string is returned with a placeholder
image that can never parse as a reference (it starts with ``<``), so the engine denies it as invalid.

    path = POD_SPEC_PATHS[("apps", "Deployment")]            # ("spec", "template", "spec")
    spec = pod_spec(deployment, path)                        # Mapping, None (nothing to run) or Unsupported
    images = container_images(spec, ".".join(path))          # [ContainerImage(field_path, image, container)]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CONTAINER_LISTS",
    "IMAGE_LISTS",
    "POD_SPEC_PATHS",
    "STATUS_LISTS",
    "ContainerImage",
    "Unsupported",
    "container_images",
    "image_index",
    "pod_spec",
]

#: the three lists of a PodSpec whose entries carry an image, in the order they are reported
CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")
#: every PodSpec list whose entries name an image the kubelet pulls: the containers, then image volumes
IMAGE_LISTS = (*CONTAINER_LISTS, "volumes")
#: where each list's entries keep their image: a container's ``image``; an image volume's ``image.reference``
_IMAGE_AT: Mapping[str, tuple[str, ...]] = dict.fromkeys(CONTAINER_LISTS, ("image",)) | {
    "volumes": ("image", "reference")
}
#: PodSpec list -> the PodStatus list that reports what runs for it
STATUS_LISTS: Mapping[str, str] = {
    "containers": "containerStatuses",
    "initContainers": "initContainerStatuses",
    "ephemeralContainers": "ephemeralContainerStatuses",
}

_TEMPLATE = ("spec", "template", "spec")
#: (API group, kind) -> where the PodSpec sits in the object; the core group is ""
POD_SPEC_PATHS: Mapping[tuple[str, str], tuple[str, ...]] = {
    ("", "Pod"): ("spec",),
    ("", "ReplicationController"): _TEMPLATE,
    ("apps", "Deployment"): _TEMPLATE,
    ("apps", "ReplicaSet"): _TEMPLATE,
    ("apps", "StatefulSet"): _TEMPLATE,
    ("apps", "DaemonSet"): _TEMPLATE,
    ("batch", "Job"): _TEMPLATE,
    ("batch", "CronJob"): ("spec", "jobTemplate", "spec", "template", "spec"),
}

_REPR_MAX = 48


@dataclass(frozen=True)
class ContainerImage:
    """One container's image."""

    #: where the image sits in the object, e.g. ``spec.template.spec.initContainers[0].image``
    field_path: str
    #: the image exactly as written (or ``<...>`` when it is missing or not a string)
    image: str
    #: the container's (or image volume's) name ("" when it has none)
    container: str

    @property
    def list_name(self) -> str:
        """``containers``, ``initContainers``, ``ephemeralContainers`` or ``volumes``."""
        indexed = [part for part in self.field_path.split(".") if "[" in part]
        return indexed[-1].partition("[")[0] if indexed else ""


@dataclass(frozen=True)
class Unsupported:
    """The object cannot be checked; ``reason`` is a short lower-case sentence."""

    reason: str


def pod_spec(obj: Mapping[str, Any], path: tuple[str, ...]) -> Mapping[str, Any] | None | Unsupported:
    """The mapping at ``path``; None when a step is absent (nothing to run); Unsupported for a wrong type."""
    node: Mapping[str, Any] = obj
    for depth, key in enumerate(path):
        child = node.get(key)
        if child is None:
            return None
        if not isinstance(child, Mapping):
            return Unsupported(f"{'.'.join(path[: depth + 1])} is not an object")
        node = child
    return node


def container_images(
    spec: Mapping[str, Any] | None,
    base: str,
    lists: tuple[str, ...] = IMAGE_LISTS,
    *,
    unchanged: Mapping[tuple[str, str], set[str]] | None = None,
) -> list[ContainerImage] | Unsupported:
    """Every container image of a PodSpec at field path ``base``, in list order.

    ``unchanged`` (from :func:`image_index` of an older spec) skips a container whose name and image string
    are the same as before.
    """
    found: list[ContainerImage] = []
    if spec is None:
        return found
    old = unchanged or {}
    for list_name in lists:
        entries = spec.get(list_name)
        if entries is None:
            continue
        if not isinstance(entries, list):
            return Unsupported(f"{base}.{list_name} is not a list")
        for index, entry in enumerate(entries):
            where = f"{base}.{list_name}[{index}]"
            if not isinstance(entry, Mapping):
                return Unsupported(f"{where} is not an object")
            if list_name == "volumes" and "image" not in entry:
                continue  # another volume source (configMap, emptyDir, ...): nothing to pull
            name = entry.get("name")
            raw = _image_of(entry, _IMAGE_AT[list_name])
            if isinstance(name, str) and isinstance(raw, str) and raw in old.get((list_name, name), ()):
                continue
            found.append(
                ContainerImage(
                    field_path=".".join((where, *_IMAGE_AT[list_name])),
                    image=_image_text(raw),
                    container=name if isinstance(name, str) else "",
                )
            )
    return found


def image_index(spec: Mapping[str, Any], lists: tuple[str, ...]) -> dict[tuple[str, str], set[str]]:
    """(list, container name) -> the image strings ``spec`` has there; malformed entries are skipped."""
    index: dict[tuple[str, str], set[str]] = {}
    for list_name in lists:
        entries = spec.get(list_name)
        if not isinstance(entries, list):
            continue
        for entry in entries:
            if not isinstance(entry, Mapping):
                continue
            name, image = entry.get("name"), _image_of(entry, _IMAGE_AT[list_name])
            if isinstance(name, str) and isinstance(image, str):
                index.setdefault((list_name, name), set()).add(image)
    return index


@dataclass(frozen=True)
class _NotAnObject:
    """A step on the way to an image that is not an object (``volumes[0].image: "x"``)."""

    field: str


def _image_of(entry: Mapping[str, Any], path: tuple[str, ...]) -> object:
    """The value at ``path`` in ``entry`` (None when a step is absent)."""
    node: object = entry
    for depth, key in enumerate(path):
        if not isinstance(node, Mapping):
            return _NotAnObject(".".join(path[:depth]))
        node = node.get(key)
    return node


def _image_text(raw: object) -> str:
    if isinstance(raw, str):
        return raw
    if raw is None:
        return "<no image>"
    if isinstance(raw, _NotAnObject):
        return f"<{raw.field} is not an object>"
    if isinstance(raw, bool | int | float):
        text = repr(raw)[:_REPR_MAX]
    else:  # never repr a container: it may be nested a thousand levels deep
        text = "an array" if isinstance(raw, list) else "an object"
    return f"<image is not a string: {text}>"
