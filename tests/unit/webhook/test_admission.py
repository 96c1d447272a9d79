"""The AdmissionReview contract: parsing, which images a request introduces, and the response documents."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from verifier.errors import InvalidReferenceError, SealgateError
from verifier.oci import Reference
from webhook.admission import (
    MAX_WARNING_CHARS,
    MAX_WARNINGS_TOTAL_CHARS,
    POD_SPEC_PATHS,
    AdmissionRequest,
    ContainerImage,
    GroupVersionKind,
    ReviewError,
    Unsupported,
    denial_line,
    images_to_verify,
    parse_review,
    review_response,
    safe_text,
    webhook_denial_message,
)

MAX = 1 << 20

# --- builders -------------------------------------------------------------------------------------------

KINDS: dict[str, tuple[str, str]] = {
    "Pod": ("", "v1"),
    "ReplicationController": ("", "v1"),
    "Deployment": ("apps", "v1"),
    "ReplicaSet": ("apps", "v1"),
    "StatefulSet": ("apps", "v1"),
    "DaemonSet": ("apps", "v1"),
    "Job": ("batch", "v1"),
    "CronJob": ("batch", "v1"),
}


def containers(*pairs: tuple[str, Any]) -> list[dict[str, Any]]:
    return [{"name": name, "image": image, "resources": {}} for name, image in pairs]


def pod_spec(
    main: list[dict[str, Any]] | None = None,
    init: list[dict[str, Any]] | None = None,
    ephemeral: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": main if main is not None else containers(("app", "reg.example/app:1"))}
    if init is not None:
        spec["initContainers"] = init
    if ephemeral is not None:
        spec["ephemeralContainers"] = ephemeral
    return spec


def wrap(kind: str, spec: dict[str, Any], **top: Any) -> dict[str, Any]:
    """An object of ``kind`` whose pod spec is ``spec``."""
    group, version = KINDS.get(kind, ("", "v1"))
    obj: dict[str, Any] = {"apiVersion": f"{group}/{version}" if group else version, "kind": kind}
    obj["metadata"] = {"name": "x", "namespace": "default"}
    node = obj
    path = POD_SPEC_PATHS.get((group, kind), ("spec",))
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = spec
    obj.update(top)
    return obj


def request(
    kind: str = "Pod",
    operation: str = "CREATE",
    obj: dict[str, Any] | None = None,
    old: dict[str, Any] | None = None,
    sub_resource: str = "",
    group: str | None = None,
) -> AdmissionRequest:
    g, version = KINDS.get(kind, ("", "v1"))
    return AdmissionRequest(
        uid="u-1",
        kind=GroupVersionKind(g if group is None else group, version, kind),
        resource=kind.lower() + "s",
        sub_resource=sub_resource,
        operation=operation,
        namespace="default",
        name="x",
        object=obj,
        old_object=old,
        dry_run=False,
        user="tester",
    )


def paths(result: list[ContainerImage] | Unsupported) -> list[tuple[str, str]]:
    assert isinstance(result, list), result
    return [(found.field_path, found.image) for found in result]


def review_bytes(request_doc: dict[str, Any] | None = None, **top: Any) -> bytes:
    doc: dict[str, Any] = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}
    if request_doc is not None:
        doc["request"] = request_doc
    doc.update(top)
    return orjson.dumps(doc)


def good_request(**fields: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
        "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "requestKind": {"group": "", "version": "v1", "kind": "Pod"},
        "requestResource": {"group": "", "version": "v1", "resource": "pods"},
        "name": "",
        "namespace": "default",
        "operation": "CREATE",
        "userInfo": {"username": "admin", "groups": ["system:authenticated"]},
        "object": wrap("Pod", pod_spec()),
        "oldObject": None,
        "dryRun": False,
        "options": {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1"},
    }
    for key, value in fields.items():
        if value is ...:
            doc.pop(key, None)
        else:
            doc[key] = value
    return doc


# --- images_to_verify: every kind and list on CREATE ----------------------------------------------------

ALL_LISTS = pod_spec(
    containers(("web", "reg.example/web:1"), ("shipper", "reg.example/ship@sha256:" + "a" * 64)),
    containers(("migrate", "reg.example/migrate:1")),
    containers(("debugger", "reg.example/debug:1")),
)


@pytest.mark.parametrize(
    ("kind", "prefix"),
    [
        pytest.param("Pod", "spec", id="a pod lists images from spec"),
        pytest.param("ReplicationController", "spec.template.spec", id="a replication controller uses its template"),
        pytest.param("Deployment", "spec.template.spec", id="a deployment uses its template"),
        pytest.param("ReplicaSet", "spec.template.spec", id="a replica set uses its template"),
        pytest.param("StatefulSet", "spec.template.spec", id="a stateful set uses its template"),
        pytest.param("DaemonSet", "spec.template.spec", id="a daemon set uses its template"),
        pytest.param("Job", "spec.template.spec", id="a job uses its template"),
        pytest.param("CronJob", "spec.jobTemplate.spec.template.spec", id="a cron job uses its job template"),
    ],
)
def test_create_lists_every_container_of_every_list_with_its_exact_field_path(kind: str, prefix: str) -> None:
    result = images_to_verify(request(kind, "CREATE", wrap(kind, ALL_LISTS)))
    assert paths(result) == [
        (f"{prefix}.containers[0].image", "reg.example/web:1"),
        (f"{prefix}.containers[1].image", "reg.example/ship@sha256:" + "a" * 64),
        (f"{prefix}.initContainers[0].image", "reg.example/migrate:1"),
        (f"{prefix}.ephemeralContainers[0].image", "reg.example/debug:1"),
    ]
    assert isinstance(result, list)
    assert [found.container for found in result] == ["web", "shipper", "migrate", "debugger"]


def test_images_are_returned_exactly_as_written() -> None:
    odd = ["  reg.example/a:1", "REG.example/B", "", "a" * 5000]
    obj = wrap("Pod", pod_spec(containers(*[(f"c{i}", image) for i, image in enumerate(odd)])))
    assert [image for _, image in paths(images_to_verify(request(obj=obj)))] == odd


# --- images_to_verify: UPDATE, ephemeral containers, DELETE ---------------------------------------------


def _dep(**images: str) -> dict[str, Any]:
    return wrap("Deployment", pod_spec(containers(*images.items())))


UPDATE_CASES = [
    pytest.param(
        _dep(web="r/web:1", log="r/log:1"),
        {**_dep(web="r/web:1", log="r/log:1"), "spec": {**_dep(web="r/web:1", log="r/log:1")["spec"], "replicas": 5}},
        [],
        id="scaling a deployment verifies nothing",
    ),
    pytest.param(
        _dep(web="r/web:1"),
        {**_dep(web="r/web:1"), "metadata": {"name": "x", "labels": {"team": "a"}}},
        [],
        id="a label change verifies nothing",
    ),
    pytest.param(
        _dep(web="r/web:1", log="r/log:1"),
        _dep(web="r/web:1", log="r/log:2"),
        [("spec.template.spec.containers[1].image", "r/log:2")],
        id="changing one image verifies only that container",
    ),
    pytest.param(
        _dep(web="r/web:1"),
        _dep(web="r/web:1", log="r/log:1"),
        [("spec.template.spec.containers[1].image", "r/log:1")],
        id="adding a container verifies only the new one",
    ),
    pytest.param(
        _dep(web="r/web:1"),
        _dep(api="r/web:1"),
        [("spec.template.spec.containers[0].image", "r/web:1")],
        id="a renamed container is verified as new",
    ),
    pytest.param(
        _dep(web="r/web:1", log="r/log:1"),
        _dep(log="r/log:1", web="r/web:1"),
        [],
        id="reordering containers verifies nothing",
    ),
    pytest.param(
        wrap("Deployment", pod_spec(containers(("app", "r/app:1")), containers(("mig", "r/mig:1")))),
        wrap("Deployment", pod_spec(containers(("app", "r/app:1"), ("mig", "r/mig:1")))),
        [("spec.template.spec.containers[1].image", "r/mig:1")],
        id="a container moved from initContainers to containers is verified",
    ),
    pytest.param(
        _dep(web="r/web:1"),
        _dep(web="r/web@sha256:" + "b" * 64),
        [("spec.template.spec.containers[0].image", "r/web@sha256:" + "b" * 64)],
        id="pinning a tag to a digest is a changed image",
    ),
    pytest.param(
        None,
        _dep(web="r/web:1"),
        [("spec.template.spec.containers[0].image", "r/web:1")],
        id="an update without oldObject verifies every container",
    ),
    pytest.param(
        {"kind": "Deployment", "spec": "broken"},
        _dep(web="r/web:1"),
        [("spec.template.spec.containers[0].image", "r/web:1")],
        id="a malformed oldObject verifies every container",
    ),
]


@pytest.mark.parametrize(("old", "new", "expected"), UPDATE_CASES)
def test_update_verifies_only_new_or_changed_containers(
    old: dict[str, Any] | None, new: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    assert paths(images_to_verify(request("Deployment", "UPDATE", new, old))) == expected


def _pod(ephemeral: list[dict[str, Any]] | None, web: str = "r/web:1") -> dict[str, Any]:
    return wrap("Pod", pod_spec(containers(("web", web)), ephemeral=ephemeral))


EPHEMERAL_CASES = [
    pytest.param(
        _pod(None),
        _pod(containers(("debugger", "r/debug:1"))),
        [("spec.ephemeralContainers[0].image", "r/debug:1")],
        id="the first debug container is verified",
    ),
    pytest.param(
        _pod(containers(("debugger", "r/debug:1"))),
        _pod(containers(("debugger", "r/debug:1"), ("debugger-2", "r/other:1"))),
        [("spec.ephemeralContainers[1].image", "r/other:1")],
        id="a second debug container is verified alone",
    ),
    pytest.param(
        _pod(containers(("debugger", "r/debug:1"))),
        _pod(containers(("debugger", "r/debug:2"))),
        [("spec.ephemeralContainers[0].image", "r/debug:2")],
        id="a changed ephemeral image is verified",
    ),
    pytest.param(
        _pod(None),
        _pod(containers(("debugger", "r/debug:1")), web="r/web:2"),
        [("spec.ephemeralContainers[0].image", "r/debug:1")],
        id="the subresource looks only at ephemeralContainers",
    ),
]


@pytest.mark.parametrize(("old", "new", "expected"), EPHEMERAL_CASES)
def test_ephemeral_containers_subresource_verifies_only_new_entries(
    old: dict[str, Any], new: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    req = request("Pod", "UPDATE", new, old, sub_resource="ephemeralcontainers")
    assert paths(images_to_verify(req)) == expected


@pytest.mark.parametrize(
    "operation",
    [pytest.param("DELETE", id="a delete verifies nothing"), pytest.param("CONNECT", id="a connect verifies nothing")],
)
def test_delete_and_connect_verify_nothing(operation: str) -> None:
    assert images_to_verify(request("Pod", operation, None, wrap("Pod", ALL_LISTS))) == []


@pytest.mark.parametrize(
    ("kind", "group", "fragment"),
    [
        pytest.param("ConfigMap", "", "sealgate does not handle kind v1 ConfigMap", id="a config map is unsupported"),
        pytest.param("Deployment", "extensions", "kind extensions/v1 Deployment", id="an old API group is unsupported"),
        pytest.param("Pod", "apps", "kind apps/v1 Pod", id="a pod in the wrong group is unsupported"),
        pytest.param("PodTemplate", "", "kind v1 PodTemplate", id="a pod template is unsupported"),
        pytest.param("EphemeralContainers", "", "alpha API", id="the alpha ephemeral containers kind is unsupported"),
    ],
)
def test_unknown_kinds_are_unsupported(kind: str, group: str, fragment: str) -> None:
    result = images_to_verify(request(kind, "CREATE", wrap("Pod", ALL_LISTS), group=group))
    assert isinstance(result, Unsupported)
    assert fragment in result.reason


# --- images_to_verify: malformed objects never crash ----------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "fragment"),
    [
        pytest.param({"spec": []}, "spec is not an object", id="a pod spec that is a list"),
        pytest.param({"spec": {"containers": {"a": 1}}}, "spec.containers is not a list", id="containers not a list"),
        pytest.param({"spec": {"containers": ["nginx"]}}, "spec.containers[0] is not an object", id="a string entry"),
        pytest.param(
            {"spec": {"containers": [], "initContainers": [None]}},
            "spec.initContainers[0] is not an object",
            id="a null init container",
        ),
    ],
)
def test_malformed_pod_specs_are_unsupported_with_the_field_named(obj: dict[str, Any], fragment: str) -> None:
    result = images_to_verify(request("Pod", "CREATE", obj))
    assert isinstance(result, Unsupported)
    assert fragment in result.reason


def test_a_deployment_whose_template_is_a_string_is_unsupported() -> None:
    result = images_to_verify(request("Deployment", "CREATE", {"spec": {"template": "x"}}))
    assert result == Unsupported("spec.template is not an object")


@pytest.mark.parametrize(
    ("entry", "image", "container"),
    [
        pytest.param({"name": "a"}, "<no image>", "a", id="a missing image"),
        pytest.param({"name": "a", "image": None}, "<no image>", "a", id="a null image"),
        pytest.param({"name": "a", "image": 123}, "<image is not a string: 123>", "a", id="a numeric image"),
        pytest.param({"name": "a", "image": ["x"]}, "<image is not a string: an array>", "a", id="a list image"),
        pytest.param({"name": 7, "image": "r/a:1"}, "r/a:1", "", id="a numeric container name"),
    ],
)
def test_broken_containers_come_back_as_images_that_never_parse(
    entry: dict[str, Any], image: str, container: str
) -> None:
    result = images_to_verify(request("Pod", "CREATE", {"spec": {"containers": [entry]}}))
    assert result == [ContainerImage("spec.containers[0].image", image, container)]
    if image.startswith("<"):
        with pytest.raises(InvalidReferenceError):
            Reference.parse(image)


def test_a_numeric_image_is_never_unchanged_on_update() -> None:
    obj = {"spec": {"containers": [{"name": "a", "image": 123}]}}
    assert paths(images_to_verify(request("Pod", "UPDATE", obj, obj))) == [
        ("spec.containers[0].image", "<image is not a string: 123>")
    ]


@pytest.mark.parametrize(
    "obj",
    [
        pytest.param({}, id="an object without spec"),
        pytest.param({"spec": {}}, id="a spec without containers"),
        pytest.param({"spec": {"containers": None}}, id="null containers"),
    ],
)
def test_objects_that_run_nothing_need_no_verification(obj: dict[str, Any]) -> None:
    assert images_to_verify(request("Pod", "CREATE", obj)) == []


def test_a_create_without_object_is_unsupported() -> None:
    assert isinstance(images_to_verify(request("Pod", "CREATE", None)), Unsupported)


# --- parse_review ---------------------------------------------------------------------------------------

PARSE_ERRORS = [
    pytest.param(b"x" * (MAX + 1), 413, "above the limit", id="a body over the cap is 413"),
    pytest.param(b"{not json", 400, "not valid JSON", id="non-JSON is rejected"),
    pytest.param(b"\xff\xfe", 400, "not valid JSON", id="invalid UTF-8 is rejected"),
    pytest.param(b"", 400, "not valid JSON", id="an empty body is rejected"),
    pytest.param(b"[1]", 400, "is an array, not a JSON object", id="a JSON array is rejected"),
    pytest.param(b"null", 400, "is null, not a JSON object", id="JSON null is rejected"),
    pytest.param(b"[" * 5000 + b"]" * 5000, 400, "not valid JSON", id="absurd nesting is rejected"),
    pytest.param(orjson.dumps({"kind": "AdmissionReview"}), 400, "no apiVersion", id="a missing apiVersion"),
    pytest.param(
        review_bytes(good_request(), apiVersion="admission.k8s.io/v1beta1"),
        400,
        "admission.k8s.io/v1beta1 is not supported",
        id="v1beta1 is named as unsupported",
    ),
    pytest.param(review_bytes(good_request(), apiVersion="v1"), 400, 'apiVersion "v1" is not', id="another apiVersion"),
    pytest.param(review_bytes(good_request(), apiVersion=[1]), 400, "apiVersion an array", id="a list apiVersion"),
    pytest.param(review_bytes(good_request(), kind="Pod"), 400, 'kind "Pod" is not AdmissionReview', id="wrong kind"),
    pytest.param(review_bytes(None), 400, "has no request", id="a missing request"),
    pytest.param(review_bytes(None, request="x"), 400, "request is a string", id="a string request"),
    pytest.param(review_bytes(good_request(uid=...)), 400, "request.uid is missing", id="a missing uid"),
    pytest.param(review_bytes(good_request(uid="")), 400, "request.uid is missing or empty", id="an empty uid"),
    pytest.param(review_bytes(good_request(uid=5)), 400, "request.uid is a number", id="a numeric uid"),
    pytest.param(review_bytes(good_request(kind=...)), 400, "request.kind is missing", id="a missing kind"),
    pytest.param(review_bytes(good_request(kind="Pod")), 400, "request.kind is a string", id="a string kind"),
    pytest.param(
        review_bytes(good_request(kind={"group": "", "version": "v1"})),
        400,
        "request.kind.kind is missing",
        id="a kind without kind",
    ),
    pytest.param(
        review_bytes(good_request(kind={"group": 1, "version": "v1", "kind": "Pod"})),
        400,
        "request.kind.group is a number",
        id="a numeric group",
    ),
    pytest.param(review_bytes(good_request(operation=...)), 400, "request.operation is missing", id="no operation"),
    pytest.param(
        review_bytes(good_request(operation="PATCH")), 400, 'request.operation "PATCH" is not one of', id="PATCH"
    ),
    pytest.param(review_bytes(good_request(object=[])), 400, "request.object is an array", id="a list object"),
    pytest.param(
        review_bytes(good_request(object=None)), 400, "request.object is missing for a CREATE", id="no object"
    ),
    pytest.param(
        review_bytes(good_request(operation="UPDATE", oldObject="x")),
        400,
        "request.oldObject is a string",
        id="a string oldObject",
    ),
    pytest.param(review_bytes(good_request(dryRun="yes")), 400, "request.dryRun is a string", id="a string dryRun"),
    pytest.param(review_bytes(good_request(namespace=3)), 400, "request.namespace is a number", id="a numeric ns"),
    pytest.param(review_bytes(good_request(subResource={})), 400, "request.subResource is an object", id="subResource"),
    pytest.param(
        review_bytes(good_request(resource={"resource": 1})), 400, "request.resource.resource", id="a bad resource"
    ),
    pytest.param(review_bytes(good_request(userInfo=[])), 400, "request.userInfo is an array", id="a list userInfo"),
]


@pytest.mark.parametrize(("body", "status", "fragment"), PARSE_ERRORS)
def test_bad_reviews_are_rejected_with_a_status_and_a_message_naming_the_field(
    body: bytes, status: int, fragment: str
) -> None:
    with pytest.raises(ReviewError) as caught:
        parse_review(body, max_bytes=MAX)
    assert caught.value.status == status
    assert fragment in caught.value.message
    assert isinstance(caught.value, SealgateError)
    assert len(caught.value.message) < 300


def test_errors_found_after_the_uid_carry_the_uid_so_a_denial_can_be_sent() -> None:
    with pytest.raises(ReviewError) as caught:
        parse_review(review_bytes(good_request(operation="PATCH")), max_bytes=MAX)
    assert caught.value.uid == "705ab4f5-6393-11e8-b7cc-42010a800002"
    with pytest.raises(ReviewError) as early:
        parse_review(review_bytes(good_request(uid="")), max_bytes=MAX)
    assert early.value.uid is None


def test_the_size_cap_is_inclusive() -> None:
    body = review_bytes(good_request())
    assert parse_review(body, max_bytes=len(body)).uid == "705ab4f5-6393-11e8-b7cc-42010a800002"
    with pytest.raises(ReviewError) as caught:
        parse_review(body, max_bytes=len(body) - 1)
    assert caught.value.status == 413


def test_a_good_review_is_parsed_into_every_field() -> None:
    parsed = parse_review(review_bytes(good_request(dryRun=True, namespace="team-a")), max_bytes=MAX)
    assert parsed == AdmissionRequest(
        uid="705ab4f5-6393-11e8-b7cc-42010a800002",
        kind=GroupVersionKind("", "v1", "Pod"),
        resource="pods",
        sub_resource="",
        operation="CREATE",
        namespace="team-a",
        name="",
        object=wrap("Pod", pod_spec()),
        old_object=None,
        dry_run=True,
        user="admin",
    )


def test_optional_fields_default_to_empty() -> None:
    minimal = {"uid": "u", "kind": {"kind": "Pod"}, "operation": "DELETE"}
    parsed = parse_review(review_bytes(minimal), max_bytes=MAX)
    assert (parsed.kind, parsed.resource, parsed.name, parsed.namespace, parsed.user, parsed.dry_run) == (
        GroupVersionKind("", "", "Pod"),
        "",
        "",
        "",
        "",
        False,
    )
    assert parsed.object is None and parsed.old_object is None


# --- the committed AdmissionReview documents ------------------------------------------------------------

REVIEWS = [
    pytest.param(
        "review-create-pod.json",
        ("CREATE", GroupVersionKind("", "v1", "Pod"), "", ""),
        [
            ("spec.containers[0].image", "registry.example.com/team/web:1.2"),
            ("spec.containers[1].image", "registry.example.com/team/log-shipper@sha256:" + "0123456789abcdef" * 4),
            ("spec.initContainers[0].image", "registry.example.com/team/migrate:1.2"),
        ],
        id="a controller-made pod has no name and verifies all three images",
    ),
    pytest.param(
        "review-update-deployment-scale.json",
        ("UPDATE", GroupVersionKind("apps", "v1", "Deployment"), "", "web"),
        [],
        id="scaling a deployment verifies nothing",
    ),
    pytest.param(
        "review-update-pod-ephemeralcontainers.json",
        ("UPDATE", GroupVersionKind("", "v1", "Pod"), "ephemeralcontainers", "web"),
        [("spec.ephemeralContainers[0].image", "registry.example.com/tools/debug:1.36")],
        id="kubectl debug verifies only the debug container",
    ),
    pytest.param(
        "review-delete-pod.json",
        ("DELETE", GroupVersionKind("", "v1", "Pod"), "", "web"),
        [],
        id="deleting a pod verifies nothing",
    ),
]


@pytest.mark.parametrize(("name", "header", "expected"), REVIEWS)
def test_committed_reviews_parse_and_list_the_expected_images(
    asset: Callable[[str], Path],
    name: str,
    header: tuple[str, GroupVersionKind, str, str],
    expected: list[tuple[str, str]],
) -> None:
    body = asset(f"k8s/{name}").read_bytes()
    parsed = parse_review(body, max_bytes=MAX)
    assert (parsed.operation, parsed.kind, parsed.sub_resource, parsed.name) == header
    assert parsed.uid == orjson.loads(body)["request"]["uid"]
    assert paths(images_to_verify(parsed)) == expected


# --- review_response ------------------------------------------------------------------------------------


def test_an_allowed_response_echoes_the_uid_and_carries_nothing_else() -> None:
    assert review_response("abc-123", allowed=True) == {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": {"uid": "abc-123", "allowed": True},
    }


def test_a_denial_carries_a_403_forbidden_status_with_the_message() -> None:
    doc = review_response("abc-123", allowed=False, message='spec.containers[0].image "x": unsigned')
    assert doc["response"] == {
        "uid": "abc-123",
        "allowed": False,
        "status": {"code": 403, "reason": "Forbidden", "message": 'spec.containers[0].image "x": unsigned'},
    }


def test_a_denial_may_name_its_own_reason_and_always_has_a_message() -> None:
    doc = review_response("u", allowed=False, reason="Unsupported")
    assert doc["response"]["status"] == {"code": 403, "reason": "Unsupported", "message": "denied by sealgate"}


@pytest.mark.parametrize("allowed", [True, False], ids=["an allowed response", "a denial"])
def test_no_response_ever_carries_a_patch(allowed: bool) -> None:
    doc = review_response("u", allowed=allowed, message="m", warnings=["w"], audit_annotations={"k": "v"})
    assert "patch" not in doc["response"] and "patchType" not in doc["response"]
    assert orjson.loads(orjson.dumps(doc)) == doc


def test_a_long_denial_message_is_capped() -> None:
    doc = review_response("u", allowed=False, message="x" * 100_000)
    assert 8000 < len(doc["response"]["status"]["message"]) <= 8192


def test_denial_messages_keep_newlines_but_lose_other_control_characters() -> None:
    doc = review_response("u", allowed=False, message="a\nb\x1b[31mc\x00")
    assert doc["response"]["status"]["message"] == "a\nb?[31mc?"


WARNING_CASES = [
    pytest.param(["a", "b", "a"], ["a", "b"], id="identical warnings are deduped in order"),
    pytest.param(["", "  ", "ok"], ["ok"], id="empty warnings are dropped"),
    pytest.param(["x" * 300], ["x" * 253 + "..."], id="a long warning is cut to 256 characters"),
    pytest.param(["line1\nline2\ttab"], ["line1 line2 tab"], id="newlines and tabs become spaces"),
    pytest.param(["bell\x07 esc\x1b del\x7f c1\x85"], ["bell? esc? del? c1?"], id="control characters are replaced"),
    pytest.param(["surrogate \ud800 here"], ["surrogate ? here"], id="lone surrogates are replaced"),
    pytest.param(
        ["policy \u201cprod\u201d: caf\u00e9 \u2713"],
        ["policy \u201cprod\u201d: caf\u00e9 \u2713"],
        id="non-ASCII is kept",
    ),
]


@pytest.mark.parametrize(("given", "expected"), WARNING_CASES)
def test_warnings_are_made_safe_for_a_warning_header(given: list[str], expected: list[str]) -> None:
    assert review_response("u", allowed=True, warnings=given)["response"]["warnings"] == expected


def test_warnings_past_the_total_cap_are_dropped_and_counted() -> None:
    given = [f"{i:03d} " + "w" * 200 for i in range(40)]
    out = review_response("u", allowed=True, warnings=given)["response"]["warnings"]
    assert sum(len(w) for w in out) <= MAX_WARNINGS_TOTAL_CHARS
    assert all(len(w) <= MAX_WARNING_CHARS for w in out)
    assert out[:-1] == given[: len(out) - 1]
    assert out[-1] == f"sealgate: {40 - (len(out) - 1)} more warning(s) not shown"


def test_no_warnings_key_without_warnings() -> None:
    assert "warnings" not in review_response("u", allowed=True, warnings=["", " "])["response"]


def test_audit_annotations_with_invalid_keys_are_dropped() -> None:
    doc = review_response("u", allowed=True, audit_annotations={"policy": "prod", "bad key": "x", "-x": "y"})
    assert doc["response"]["auditAnnotations"] == {"policy": "prod"}


# --- denial lines and messages --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(
            ("spec.containers[1].image", "reg/app:1.2", "prod", 'no signature verifies with key "ci"'),
            'spec.containers[1].image "reg/app:1.2": policy "prod": no signature verifies with key "ci"',
            id="a line names the field, image, policy and reason",
        ),
        pytest.param(
            ("spec.containers[1].image", "x", None, "invalid image reference"),
            'spec.containers[1].image "x": invalid image reference',
            id="a line without a policy",
        ),
        pytest.param(
            ("spec.containers[0].image", 'a"b\nc', None, "bad\nreason"),
            'spec.containers[0].image "a\\"b\\nc": bad reason',
            id="quotes and newlines in an image are escaped and the line stays one line",
        ),
        pytest.param(
            ("spec.containers[0].image", "a" * 1000, None, "r"),
            'spec.containers[0].image "' + "a" * 297 + '...": r',
            id="a huge image is cut short",
        ),
        pytest.param(
            ("spec.containers[0].image", "a\x7fb\x85c\ud800", None, "r"),
            'spec.containers[0].image "a?b?c?": r',
            id="other control characters and lone surrogates in an image are replaced",
        ),
    ],
)
def test_denial_lines(args: tuple[str, str, str | None, str], expected: str) -> None:
    assert denial_line(*args) == expected


def test_one_denial_line_is_the_whole_message() -> None:
    assert (
        webhook_denial_message(['spec.containers[0].image "x": unsigned']) == 'spec.containers[0].image "x": unsigned'
    )


def test_several_denial_lines_are_listed_under_a_count() -> None:
    assert webhook_denial_message(["a: r", "b: r"]) == "2 verification failures:\n- a: r\n- b: r"


def test_many_denial_lines_are_capped_with_a_count_of_the_rest() -> None:
    message = webhook_denial_message([f"line {i}" for i in range(30)], max_lines=5)
    assert message.splitlines() == [
        "30 verification failures:",
        "- line 0",
        "- line 1",
        "- line 2",
        "- line 3",
        "- line 4",
        "- ... and 25 more",
    ]


def test_no_denial_lines_still_give_a_message() -> None:
    assert webhook_denial_message([]) == "denied by sealgate"


def test_safe_text_leaves_clean_text_alone() -> None:
    text = 'spec.containers[0].image "r/a:1": caf\u00e9'
    assert safe_text(text) is text


# --- property: nothing but ReviewError, ever ------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)  # fmt: skip


def ok(draw: st.DrawFn) -> bool:
    """True nineteen times in twenty: when False the caller draws junk instead of a well-formed part."""
    return bool(draw(st.integers(0, 19)))


def mostly(draw: st.DrawFn, good: st.SearchStrategy[Any]) -> Any:
    return draw(good) if ok(draw) else draw(json_values)


@st.composite
def container_entries(draw: st.DrawFn) -> Any:
    if not ok(draw):
        return draw(json_values)
    entry: dict[str, Any] = {}
    if ok(draw):
        entry["name"] = mostly(draw, st.sampled_from(["a", "b", "c"]))
    if ok(draw):
        entry["image"] = mostly(draw, st.sampled_from(["r/a:1", "r/b:2", "", "None", "<x>"]))
    return entry


@st.composite
def pod_specs(draw: st.DrawFn) -> Any:
    if not ok(draw):
        return draw(json_values)
    spec: dict[str, Any] = {}
    for name in ("containers", "initContainers", "ephemeralContainers"):
        if draw(st.booleans()):
            spec[name] = mostly(draw, st.lists(container_entries(), max_size=3))
    return spec


@st.composite
def objects(draw: st.DrawFn, kind: str) -> Any:
    if not ok(draw):
        return draw(json_values)
    spec = draw(pod_specs())
    return wrap(kind, spec) if isinstance(spec, dict) else {"spec": spec}


@st.composite
def reviews(draw: st.DrawFn) -> bytes:
    if not ok(draw):
        return orjson.dumps(draw(json_values))
    kind = draw(st.sampled_from([*KINDS, "ConfigMap", "EphemeralContainers"]))
    group, version = KINDS.get(kind, ("", "v1"))
    request_doc: dict[str, Any] = {
        "uid": mostly(draw, st.just("u-1")),
        "kind": mostly(draw, st.just({"group": group, "version": version, "kind": kind})),
        "operation": mostly(draw, st.sampled_from(["CREATE", "UPDATE", "UPDATE", "DELETE", "CONNECT"])),
        "subResource": mostly(draw, st.sampled_from(["", "ephemeralcontainers", "status"])),
        "object": draw(objects(kind)),
        "oldObject": draw(st.one_of(st.none(), objects(kind))),
    }
    if not ok(draw):
        request_doc[draw(st.sampled_from(sorted(request_doc)))] = draw(json_values)
    return orjson.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request_doc})


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.one_of(reviews(), st.binary(max_size=64)))
def test_arbitrary_input_raises_nothing_but_review_error(body: bytes) -> None:
    try:
        req = parse_review(body, max_bytes=MAX)
    except ReviewError as exc:
        assert 400 <= exc.status < 500
        return
    result = images_to_verify(req)
    assert isinstance(result, list | Unsupported)
    if isinstance(result, list):
        lines = [denial_line(found.field_path, found.image, None, "r") for found in result]
        assert all("\n" not in line for line in lines)
        doc = review_response(req.uid, allowed=not lines, message=webhook_denial_message(lines), warnings=lines)
    else:
        doc = review_response(req.uid, allowed=False, message=result.reason)
    assert doc["response"]["uid"] == req.uid
    orjson.dumps(doc)


@settings(max_examples=200, deadline=None)
@given(kind=st.sampled_from(sorted(KINDS)), spec=pod_specs(), sub_resource=st.sampled_from(["", "ephemeralcontainers"]))
def test_an_update_that_changes_nothing_verifies_only_unreadable_or_unnamed_containers(
    kind: str, spec: Any, sub_resource: str
) -> None:
    obj = wrap(kind, spec) if isinstance(spec, dict) else {"spec": spec}
    result = images_to_verify(request(kind, "UPDATE", obj, obj, sub_resource=sub_resource))
    if isinstance(result, list):
        # unnamed containers cannot be matched with the old object, so they are verified again (fail closed)
        assert all(found.image.startswith("<") or found.container == "" for found in result)


@settings(max_examples=200, deadline=None)
@given(kind=st.sampled_from(sorted(KINDS)), spec=pod_specs())
def test_a_create_verifies_one_image_per_container_entry(kind: str, spec: Any) -> None:
    result = images_to_verify(request(kind, "CREATE", wrap(kind, spec) if isinstance(spec, dict) else {"spec": spec}))
    names = ("containers", "initContainers", "ephemeralContainers")
    lists = [spec.get(name) for name in names] if isinstance(spec, dict) else []
    if isinstance(spec, dict) and all(
        v is None or (isinstance(v, list) and all(isinstance(e, dict) for e in v)) for v in lists
    ):
        assert isinstance(result, list)
        assert len(result) == sum(len(v) for v in lists if v is not None)
    elif isinstance(spec, dict):
        assert isinstance(result, Unsupported)
