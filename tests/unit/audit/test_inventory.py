"""The audit's inventory, pure: kubectl's shapes of every workload kind, owner resolution, template fallback,
and what an imageID says about the running digest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.k8sobjects import pod, workload
from verifier.audit._inventory import Inventory, running_digest
from verifier.audit._model import Workload

ASSETS = Path(__file__).resolve().parents[2] / "assets" / "k8s"
DIGEST = "sha256:" + "0123456789abcdef" * 4


@pytest.mark.parametrize(
    ("asset", "kind", "expected"),
    [
        ("pod", "Pod", {("web", "containers"), ("migrate", "initContainers")}),
        ("deployment", "Deployment", {("web", "containers"), ("log-shipper", "containers"),
                                      ("migrate", "initContainers")}),
        ("replicaset", "ReplicaSet", {("web", "containers"), ("log-shipper", "containers"),
                                      ("migrate", "initContainers")}),
        ("statefulset", "StatefulSet", {("web", "containers"), ("log-shipper", "containers"),
                                        ("migrate", "initContainers")}),
        ("daemonset", "DaemonSet", {("web", "containers"), ("log-shipper", "containers"),
                                    ("migrate", "initContainers")}),
        ("replicationcontroller", "ReplicationController", {("web", "containers"), ("log-shipper", "containers"),
                                                            ("migrate", "initContainers")}),
        ("job", "Job", {("migrate", "containers")}),
        ("cronjob", "CronJob", {("report", "containers")}),
    ],
)
def test_every_kind_of_kubectl_shape(asset, kind, expected):
    inventory = Inventory()
    assert inventory.add(json.loads((ASSETS / f"{asset}.json").read_text())) is True
    uses = inventory.uses()
    assert {(u.container, u.container_type) for u in uses} == expected
    assert {u.workload.kind for u in uses} == {kind}
    assert {u.namespace for u in uses} == {"default"}  # kubectl's dry-run objects carry no namespace
    assert all(u.running is None for u in uses)


def test_pods_resolve_to_their_top_level_owner_and_cover_its_template():
    inventory = Inventory()
    inventory.add(workload("Deployment", "shop", "web", [("web", "reg.test/web:1")]))
    inventory.add(workload("ReplicaSet", "shop", "web-1", [("web", "reg.test/web:1")], owner=("Deployment", "web")))
    inventory.add(workload("CronJob", "shop", "nightly", [("job", "reg.test/job:1")]))
    inventory.add(workload("Job", "shop", "nightly-1", [("job", "reg.test/job:1")], owner=("CronJob", "nightly")))
    for i in range(3):
        inventory.add(pod("shop", f"web-1-{i}", [("web", "reg.test/web:1")], owner=("ReplicaSet", "web-1"),
                          image_ids={"web": f"reg.test/web@{DIGEST}"}))
    inventory.add(pod("shop", "nightly-1-x", [("job", "reg.test/job:1")], owner=("Job", "nightly-1"),
                      image_ids={"job": f"reg.test/job@{DIGEST}"}))
    inventory.add({"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "c"}})  # ignored
    uses = sorted(inventory.uses(), key=lambda u: u.workload)
    assert [(u.workload, u.source, u.running, u.pods) for u in uses] == [
        (Workload("CronJob", "nightly"), "pod", DIGEST, ["nightly-1-x"]),
        (Workload("Deployment", "web"), "pod", DIGEST, ["web-1-0", "web-1-1", "web-1-2"]),
    ]
    assert (inventory.pods, inventory.workloads) == (4, 4)


def test_a_workload_without_pods_is_checked_from_its_template_once():
    inventory = Inventory()
    inventory.add(workload("Deployment", "shop", "idle", [("app", "reg.test/app:1")], replicas=0))
    inventory.add(workload("ReplicaSet", "shop", "idle-1", [("app", "reg.test/app:1")], owner=("Deployment", "idle"),
                           replicas=0))
    inventory.add(workload("ReplicaSet", "shop", "orphan-1", [("app", "reg.test/app:2")],
                           owner=("Deployment", "gone")))
    uses = sorted(inventory.uses(), key=lambda u: u.workload)
    assert [(u.workload, u.image, u.source) for u in uses] == [
        (Workload("Deployment", "gone"), "reg.test/app:2", "template"),  # its owner is not listed: its own template
        (Workload("Deployment", "idle"), "reg.test/app:1", "template"),
    ]


def test_malformed_objects_are_problems_not_crashes():
    inventory = Inventory()
    assert inventory.add({"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "p"}, "spec": {"containers": 3}})
    assert inventory.add({"kind": "Deployment", "apiVersion": "apps/v1", "metadata": "x", "spec": {"template": []}})
    assert inventory.uses() == []
    assert [(w, r) for _, w, r in inventory.problems] == [
        (Workload("Pod", "p"), "spec.containers is not a list"),
        (Workload("Deployment", "(unnamed)"), "spec.template is not an object"),
    ]


@pytest.mark.parametrize(
    ("image_id", "digest"),
    [
        (f"docker.io/library/nginx@{DIGEST}", DIGEST),  # containerd
        (f"docker-pullable://nginx@{DIGEST}", DIGEST),  # dockershim
        (f"127.0.0.1:5000/a/b@{DIGEST}", DIGEST),
        (DIGEST, None),  # a bare image id is the config digest, not the manifest's
        (f"docker://{DIGEST}", None),
        ("", None),
        (None, None),
        ("repo@sha256:" + "G" * 64, None),
        ("repo@sha512:" + "a" * 128, None),
        ("repo@sha256:abc", None),
    ],
)
def test_running_digest(image_id, digest):
    assert running_digest(image_id) == digest
