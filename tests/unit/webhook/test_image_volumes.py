"""Image volumes (``volumes[].image.reference``, Kubernetes 1.31+): the kubelet pulls them like container images,
so they are verified like container images, with their own field path."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.webhook.test_admission import paths, request, wrap
from webhook.admission import Unsupported, images_to_verify

VOLUMES = [
    {"name": "config", "configMap": {"name": "c"}},
    {"name": "tools", "image": {"reference": "reg.example/tools:1", "pullPolicy": "IfNotPresent"}},
]


def _spec(volumes: list[Any], image: str = "reg.example/app:1") -> dict[str, Any]:
    return {"containers": [{"name": "app", "image": image}], "volumes": volumes}


@pytest.mark.parametrize(
    ("kind", "prefix"),
    [("Pod", "spec"), ("Deployment", "spec.template.spec"), ("CronJob", "spec.jobTemplate.spec.template.spec")],
)
def test_an_image_volume_is_verified_with_its_field_path(kind: str, prefix: str) -> None:
    assert paths(images_to_verify(request(kind, "CREATE", wrap(kind, _spec(VOLUMES))))) == [
        (f"{prefix}.containers[0].image", "reg.example/app:1"),
        (f"{prefix}.volumes[1].image.reference", "reg.example/tools:1"),
    ]


@pytest.mark.parametrize(
    ("volume", "image"),
    [
        pytest.param({"name": "v", "image": {}}, "<no image>", id="no reference"),
        pytest.param(
            {"name": "v", "image": "reg.example/x:1"},
            "<image is not an object>",
            id="image not an object",
        ),
        pytest.param(
            {"name": "v", "image": {"reference": 7}}, "<image is not a string: 7>", id="reference not a string"
        ),
    ],
)
def test_a_broken_image_volume_comes_back_as_an_image_that_never_parses(volume: dict[str, Any], image: str) -> None:
    found = paths(images_to_verify(request("Pod", "CREATE", wrap("Pod", _spec([volume])))))
    assert found[1] == ("spec.volumes[0].image.reference", image)


def test_an_unchanged_image_volume_is_not_verified_again_on_update() -> None:
    old = wrap("Deployment", _spec(VOLUMES))
    changed = wrap("Deployment", _spec([VOLUMES[0], {"name": "tools", "image": {"reference": "reg.example/evil:1"}}]))
    assert paths(images_to_verify(request("Deployment", "UPDATE", old, old))) == []
    assert paths(images_to_verify(request("Deployment", "UPDATE", changed, old))) == [
        ("spec.template.spec.volumes[1].image.reference", "reg.example/evil:1")
    ]


def test_volumes_that_are_not_a_list_are_unsupported() -> None:
    result = images_to_verify(request("Pod", "CREATE", wrap("Pod", _spec({"a": 1}))))  # type: ignore[arg-type]
    assert isinstance(result, Unsupported) and "spec.volumes is not a list" in result.reason


def test_the_ephemeral_containers_subresource_ignores_volumes() -> None:
    obj = wrap("Pod", {**_spec(VOLUMES), "ephemeralContainers": [{"name": "dbg", "image": "reg.example/dbg:1"}]})
    req = request("Pod", "UPDATE", obj, wrap("Pod", _spec(VOLUMES)), sub_resource="ephemeralcontainers")
    assert paths(images_to_verify(req)) == [("spec.ephemeralContainers[0].image", "reg.example/dbg:1")]
