"""Which container images an admission request asks sealgate to verify, each with its field path.

Images come from the PodSpec's three container lists (``containers``, ``initContainers``,
``ephemeralContainers``: each entry's ``image``) and from its image volumes (``volumes[].image.reference``,
the ImageVolume source of Kubernetes 1.31+: the kubelet pulls that image too, so it is verified like a
container's).

Pure and total: it never raises. A kind sealgate does not know, or an object whose pod spec is not shaped
like one, gives :class:`Unsupported` (the webhook answers with a denial: fail closed). Where a workload keeps
its images is the core's knowledge (:mod:`verifier.workloads`); this adds what admission needs: operations,
the ephemeral-containers subresource and unchanged containers on UPDATE.
"""

from __future__ import annotations

import logging

from verifier.workloads import (
    CONTAINER_LISTS,
    IMAGE_LISTS,
    POD_SPEC_PATHS,
    ContainerImage,
    Unsupported,
    container_images,
    image_index,
    pod_spec,
)

from ._review import AdmissionRequest, GroupVersionKind

__all__ = ["CONTAINER_LISTS", "POD_SPEC_PATHS", "ContainerImage", "Unsupported", "images_to_verify"]

_logger = logging.getLogger(__name__)

_EPHEMERAL_SUBRESOURCE = "ephemeralcontainers"


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

    spec = pod_spec(req.object, path)
    if isinstance(spec, Unsupported):
        return spec
    lists: tuple[str, ...] = IMAGE_LISTS
    if req.kind.kind == "Pod" and req.sub_resource == _EPHEMERAL_SUBRESOURCE:
        lists = ("ephemeralContainers",)

    old: dict[tuple[str, str], set[str]] = {}
    if req.operation == "UPDATE" and req.old_object is not None:
        old_spec = pod_spec(req.old_object, path)
        if old_spec is not None and not isinstance(old_spec, Unsupported):
            old = image_index(old_spec, lists)

    found = container_images(spec, ".".join(path), lists, unchanged=old)
    if not isinstance(found, Unsupported):
        _logger.debug("request %s: %d image(s) to verify", req.uid, len(found))
    return found


def _unsupported_reason(kind: GroupVersionKind) -> str:
    if kind.kind == "EphemeralContainers":
        return "kind EphemeralContainers (the alpha API of Kubernetes 1.16-1.21) is not supported"
    return f"sealgate does not handle kind {kind}"
