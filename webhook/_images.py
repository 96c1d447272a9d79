"""Which container images an admission request asks sealgate to verify, each with its field path.

Images come from the PodSpec's three container lists (``containers``, ``initContainers``,
``ephemeralContainers``: each entry's ``image``) and from its image volumes (``volumes[].image.reference``,
the ImageVolume source of Kubernetes 1.31+: the kubelet pulls that image too, so it is verified like a
container's).

Pure and total: it never raises. A kind sealgate does not know, or an object whose pod spec is not shaped
like one, gives :class:`Unsupported` (the webhook answers with a denial: fail closed). A container whose
``image`` is missing or not a string is returned with a placeholder image that can never parse as a
reference (it starts with ``<``), so the engine denies it as an invalid reference.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._review import AdmissionRequest, GroupVersionKind

__all__ = ["CONTAINER_LISTS", "POD_SPEC_PATHS", "ContainerImage", "Unsupported", "images_to_verify"]

_logger = logging.getLogger(__name__)

#: the three lists of a PodSpec whose entries carry an image, in the order they are reported
CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")
#: where each list's entries keep their image: a container's ``image``; an image volume's ``image.reference``
_IMAGE_AT: Mapping[str, tuple[str, ...]] = dict.fromkeys(CONTAINER_LISTS, ("image",)) | {
    "volumes": ("image", "reference")
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

_EPHEMERAL_SUBRESOURCE = "ephemeralcontainers"
_REPR_MAX = 48


@dataclass(frozen=True)
class ContainerImage:
    """One image to verify."""

    #: where the image sits in the submitted object, e.g. ``spec.template.spec.initContainers[0].image``
    field_path: str
    #: the image exactly as written (or ``<...>`` when it is missing or not a string)
    image: str
    #: the container's name ("" when it has none)
    container: str


@dataclass(frozen=True)
class Unsupported:
    """The request cannot be checked; ``reason`` is a short lower-case sentence for the denial."""

    reason: str


def images_to_verify(req: AdmissionRequest) -> list[ContainerImage] | Unsupported:
    """The images ``req`` introduces: all of them on CREATE, new or changed ones on UPDATE, none on DELETE.

    For the ``pods/ephemeralcontainers`` subresource only ``spec.ephemeralContainers`` entries are considered.
    On UPDATE a container counts as unchanged when ``oldObject`` has a container of the same name in the
    same list with the identical image string.
    """
    if req.operation in ("DELETE", "CONNECT"):
        return []
    path = POD_SPEC_PATHS.get((req.kind.group, req.kind.kind))
    if path is None:
        return Unsupported(_unsupported_reason(req.kind))
    if req.object is None:
        return Unsupported(f"request for {req.kind.kind} has no object")

    spec = _walk(req.object, path)
    if isinstance(spec, Unsupported):
        return spec
    lists: tuple[str, ...] = (*CONTAINER_LISTS, "volumes")
    if req.kind.kind == "Pod" and req.sub_resource == _EPHEMERAL_SUBRESOURCE:
        lists = ("ephemeralContainers",)

    old: dict[tuple[str, str], set[str]] = {}
    if req.operation == "UPDATE" and req.old_object is not None:
        old_spec = _walk(req.old_object, path)
        if isinstance(old_spec, Mapping):
            old = _index(old_spec, lists)

    base = ".".join(path)
    found: list[ContainerImage] = []
    for list_name in lists:
        entries = spec.get(list_name) if spec is not None else None
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
    _logger.debug("request %s: %d image(s) to verify", req.uid, len(found))
    return found


def _unsupported_reason(kind: GroupVersionKind) -> str:
    if kind.kind == "EphemeralContainers":
        return "kind EphemeralContainers (the alpha API of Kubernetes 1.16-1.21) is not supported"
    return f"sealgate does not handle kind {kind}"


def _walk(obj: Mapping[str, Any], path: tuple[str, ...]) -> Mapping[str, Any] | None | Unsupported:
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


def _index(spec: Mapping[str, Any], lists: tuple[str, ...]) -> dict[tuple[str, str], set[str]]:
    """(list, container name) -> the image strings the old object had there; malformed entries are skipped."""
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
