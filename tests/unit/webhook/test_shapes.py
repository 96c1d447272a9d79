"""The committed Kubernetes object shapes (tests/assets/k8s) and what sealgate finds in them.

When kubectl is on PATH the shapes are made again (``tools.k8s_shapes``, against a fake API server on
127.0.0.1) and sealgate must find the same images in the fresh and the committed files.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tools.k8s_shapes import EDITS, build_assets, kubectl_objects, kubectl_version, object_names
from webhook.admission import AdmissionRequest, GroupVersionKind, images_to_verify, parse_review

ASSETS = Path(__file__).resolve().parents[2] / "assets" / "k8s"

WEB = "registry.example.com/team/web:1.2"
SHIPPER = "registry.example.com/team/log-shipper@sha256:" + "0123456789abcdef" * 4
MIGRATE = "registry.example.com/team/migrate:1.2"
T = "spec.template.spec"
TEMPLATE_IMAGES = [
    (f"{T}.containers[0].image", WEB),
    (f"{T}.containers[1].image", SHIPPER),
    (f"{T}.initContainers[0].image", MIGRATE),
]

OBJECTS = [
    pytest.param("pod", [("spec.containers[0].image", WEB), ("spec.initContainers[0].image", MIGRATE)], id="pod"),
    pytest.param("deployment", TEMPLATE_IMAGES, id="deployment"),
    pytest.param("replicaset", TEMPLATE_IMAGES, id="replica set"),
    pytest.param("statefulset", TEMPLATE_IMAGES, id="stateful set"),
    pytest.param("daemonset", TEMPLATE_IMAGES, id="daemon set"),
    pytest.param("replicationcontroller", TEMPLATE_IMAGES, id="replication controller"),
    pytest.param("job", [(f"{T}.containers[0].image", MIGRATE)], id="job"),
    pytest.param(
        "cronjob",
        [("spec.jobTemplate.spec.template.spec.containers[0].image", "registry.example.com/team/report:2.0")],
        id="cron job",
    ),
    pytest.param(
        "ephemeral-patch",
        [("spec.ephemeralContainers[0].image", "registry.example.com/tools/debug:1.36")],
        id="kubectl debug patch",
    ),
]


def create_request(obj: dict[str, Any]) -> AdmissionRequest:
    """A CREATE of ``obj`` (the kubectl debug patch, which has no kind, as a Pod)."""
    api_version = obj.get("apiVersion", "v1")
    group, _, version = api_version.rpartition("/")
    return AdmissionRequest(
        uid="u",
        kind=GroupVersionKind(group, version, obj.get("kind", "Pod")),
        resource="",
        sub_resource="",
        operation="CREATE",
        namespace="default",
        name="",
        object=obj,
        old_object=None,
        dry_run=False,
        user="",
    )


def found(name: str, doc: Any) -> list[tuple[str, str]]:
    """(field path, image) sealgate finds in an asset: a review as sent, an object as created."""
    if name.startswith("review-"):
        result = images_to_verify(parse_review(json.dumps(doc).encode(), max_bytes=1 << 22))
    else:
        result = images_to_verify(create_request(doc))
    assert isinstance(result, list), result
    return [(item.field_path, item.image) for item in result]


def committed(name: str) -> Any:
    return json.loads((ASSETS / f"{name}.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize(("name", "expected"), OBJECTS)
def test_committed_objects_give_the_images_kubectl_was_asked_for(name: str, expected: list[tuple[str, str]]) -> None:
    assert found(name, committed(name)) == expected


def test_every_committed_asset_is_described_in_the_readme_and_nothing_else_is() -> None:
    files = {path.stem for path in ASSETS.glob("*.json")}
    assert files == set(EDITS)
    readme = (ASSETS / "README.md").read_text(encoding="utf-8")
    assert all(f"| {name}.json |" in readme for name in EDITS)


def test_the_committed_pod_has_a_generated_name_in_its_create_review() -> None:
    request = committed("review-create-pod")["request"]
    assert request["name"] == ""
    assert request["object"]["metadata"]["generateName"].startswith("web-")
    assert request["dryRun"] is False
    assert request["requestKind"] == request["kind"]


@pytest.fixture(scope="module")
def fresh() -> dict[str, Any]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not on PATH; the committed shapes are checked on their own")
    _, minor = kubectl_version(kubectl)
    return build_assets(kubectl_objects(kubectl, names=object_names(minor)))


@pytest.mark.parametrize("name", sorted(EDITS))
def test_fresh_kubectl_shapes_give_the_same_images_as_the_committed_ones(fresh: dict[str, Any], name: str) -> None:
    if name not in fresh:
        pytest.skip(f"this kubectl cannot make {name} (kubectl debug needs 1.22 or later)")
    assert found(name, fresh[name]) == found(name, committed(name))
