"""Hostile AdmissionReviews against the real app (create_app + TestClient, real engine, loopback registry).

Properties, for every generated request: no 5xx, no unhandled exception (the app answers), a 200 echoes the
uid, and **no allow of an image that should be denied**: an answer that allows a CREATE/UPDATE must have every
image the object introduces (new, or changed against ``oldObject``) among the signed images. Registries no
policy names (the trap port) are never contacted (checked when the module's gate closes).

The oracle knows where pod specs and containers are from the Kubernetes API reference, written out below, not
from the product's own lists (a list the product missed must not be missed by the oracle as well).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz._support import examples
from tests.fuzz.conftest import COUNTS, Gate
from tools.reviews import pod_spec, review, shape

# --- the oracle's own map of the Kubernetes API (API reference v1.31, not webhook/) -------------------------
#: where each admitted kind keeps its PodSpec: Pod ``.spec``; the PodTemplateSpec of ReplicationController
#: (core/v1), Deployment, ReplicaSet, StatefulSet, DaemonSet (apps/v1) and Job (batch/v1) at ``.spec.template``;
#: CronJob (batch/v1) at ``.spec.jobTemplate.spec.template``
ORACLE_POD_SPEC_PATHS: dict[tuple[str, str], tuple[str, ...]] = {
    ("", "Pod"): ("spec",),
    ("", "ReplicationController"): ("spec", "template", "spec"),
    ("apps", "Deployment"): ("spec", "template", "spec"),
    ("apps", "ReplicaSet"): ("spec", "template", "spec"),
    ("apps", "StatefulSet"): ("spec", "template", "spec"),
    ("apps", "DaemonSet"): ("spec", "template", "spec"),
    ("batch", "Job"): ("spec", "template", "spec"),
    ("batch", "CronJob"): ("spec", "jobTemplate", "spec", "template", "spec"),
}
#: PodSpec fields whose entries (Container, Container, EphemeralContainer) each carry an ``image``
ORACLE_CONTAINER_LISTS: tuple[str, ...] = ("containers", "initContainers", "ephemeralContainers")
#: PodSpec ``volumes``: a Volume whose ``image`` (ImageVolumeSource, 1.31+) names an OCI image in ``reference``
ORACLE_VOLUMES = "volumes"


def _entry_image(list_name: str, entry: Mapping[str, Any]) -> tuple[bool, Any]:
    """(does the entry pull an image, which): a container's ``image``; an image volume's ``image.reference``."""
    if list_name != ORACLE_VOLUMES:
        return True, entry.get("image")
    if "image" not in entry:
        return False, None  # another volume source
    source = entry["image"]
    return True, source.get("reference") if isinstance(source, Mapping) else ["not an object"]


FUZZ = settings(
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
    print_blob=True,
)

SHAPES = ["pod", "deployment", "replicaset", "statefulset", "daemonset", "job", "cronjob", "replicationcontroller"]
ODD_IMAGES = [
    "",
    " ",
    "nginx",
    "nginx:latest",
    "docker.io/library/nginx@sha256:" + "b" * 64,
    "UPPER/Case:tag",
    "a" * 300,
    "reg.example/app:../../etc",
    "reg.example/app@sha256:" + "z" * 64,
    "http://reg.example/app:1",
    "reg.example/app:1\n",
    "reg.example/app:\u00e9",
    "user:pass@reg.example/app:1",
    "[::1]:5000/app:1",
    "0.0.0.0:80/app:1",  # noqa: S104 - a string under test, never a target
    "localhost/app:1",
]
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=5,
)
_SHAPES = {name: shape(name) for name in [*SHAPES, "review-update-pod-ephemeralcontainers"]}
_STRATEGIES: dict[int, tuple[st.SearchStrategy[Any], st.SearchStrategy[list[Any]], st.SearchStrategy[list[Any]]]] = {}


def _shape(name: str) -> dict[str, Any]:
    return copy.deepcopy(_SHAPES[name])


def image_strategy(gate: Gate) -> st.SearchStrategy[Any]:
    return _strategies(gate)[0]


def containers(gate: Gate) -> st.SearchStrategy[list[Any]]:
    return _strategies(gate)[1]


def volumes(gate: Gate) -> st.SearchStrategy[list[Any]]:
    return _strategies(gate)[2]


def _strategies(
    gate: Gate,
) -> tuple[st.SearchStrategy[Any], st.SearchStrategy[list[Any]], st.SearchStrategy[list[Any]]]:
    """Built once per gate: building strategies costs more than drawing from them."""
    if id(gate) not in _STRATEGIES:
        images = _image_strategy(gate)
        names = st.sampled_from(["a", "b", "c", "init", "debugger"])
        entry = st.fixed_dictionaries({"name": names, "image": images})
        image_volume = st.fixed_dictionaries(
            {"name": names, "image": st.one_of(st.fixed_dictionaries({"reference": images}), JSON)}
        )
        other_volume = st.fixed_dictionaries({"name": names, "emptyDir": st.just({})})
        _STRATEGIES[id(gate)] = (
            images,
            st.lists(st.one_of(entry, entry, entry, JSON), max_size=4),
            st.lists(st.one_of(image_volume, image_volume, other_volume, JSON), max_size=3),
        )
    return _STRATEGIES[id(gate)]


def _image_strategy(gate: Gate) -> st.SearchStrategy[Any]:
    pool = sorted(gate.good) + list(gate.bad) + list(gate.trapped) + ODD_IMAGES
    return st.one_of(
        st.sampled_from(pool),
        st.sampled_from(pool),  # weight the pool over free text
        st.text(max_size=60),
        st.sampled_from([None, 1, True, [], {}]),  # not a string
        st.builds(lambda base, tail: base + tail, st.sampled_from(pool), st.text(max_size=5)),
    )


@st.composite
def hostile_review(draw: st.DrawFn, gate: Gate) -> dict[str, Any]:
    obj = _shape(draw(st.sampled_from(SHAPES)))
    spec = pod_spec(obj)
    for list_name in ORACLE_CONTAINER_LISTS:
        if draw(st.booleans()):
            spec[list_name] = draw(containers(gate))
        else:
            spec.pop(list_name, None)
    if draw(st.booleans()):
        spec[ORACLE_VOLUMES] = draw(volumes(gate))
    operation = draw(st.sampled_from(["CREATE", "CREATE", "UPDATE", "UPDATE", "DELETE", "CONNECT", "create", ""]))
    old = None
    if operation == "UPDATE" or draw(st.booleans()):
        old = copy.deepcopy(obj)
        old_spec = pod_spec(old)
        for list_name in ORACLE_CONTAINER_LISTS:
            if draw(st.booleans()):
                old_spec[list_name] = draw(containers(gate))
        if draw(st.booleans()):
            old_spec[ORACLE_VOLUMES] = draw(volumes(gate))
    sub = draw(st.sampled_from([None, None, "ephemeralcontainers", "status", "exec"]))
    doc = review(obj, operation=operation, old=old, sub_resource=sub)
    # structural damage: overwrite or drop random fields of the request
    request = doc["request"]
    for key in draw(st.lists(st.sampled_from(sorted(request)), max_size=3)):
        if draw(st.booleans()):
            request.pop(key, None)
        else:
            request[key] = draw(JSON)
    if draw(st.integers(0, 9)) == 0:
        doc[draw(st.sampled_from(["apiVersion", "kind", "request"]))] = draw(JSON)
    return doc


# --- the oracle: which images must a CREATE/UPDATE have verified before it may be allowed? ------------------


def must_verify(doc: Any) -> list[Any] | None:
    """Images the request introduces, or None when it must not be allowed at all (malformed or unknown kind).

    Written from FORMATS.md §10 and the Kubernetes API reference, independently of webhook/_review_images.py.
    """
    request = doc.get("request") if isinstance(doc, Mapping) else None
    if not isinstance(request, Mapping):
        return None
    if request.get("operation") in ("DELETE", "CONNECT"):
        return []
    kind = request.get("kind")
    if not isinstance(kind, Mapping):
        return None
    path = ORACLE_POD_SPEC_PATHS.get((kind.get("group"), kind.get("kind")))  # type: ignore[arg-type]
    obj = request.get("object")
    if path is None or not isinstance(obj, Mapping):
        return None
    spec = _walk(obj, path)
    if spec is False:
        return None
    lists = (*ORACLE_CONTAINER_LISTS, ORACLE_VOLUMES)
    if kind.get("kind") == "Pod" and request.get("subResource") == "ephemeralcontainers":
        lists = ("ephemeralContainers",)
    old_images: set[tuple[str, str, str]] = set()
    old_obj = request.get("oldObject")
    if request.get("operation") == "UPDATE" and isinstance(old_obj, Mapping):
        old_spec = _walk(old_obj, path)
        if isinstance(old_spec, Mapping):
            for list_name in lists:
                entries = old_spec.get(list_name)
                for entry in entries if isinstance(entries, list) else []:
                    name, image = (
                        (entry.get("name"), _entry_image(list_name, entry)[1]) if isinstance(entry, Mapping) else (0, 0)
                    )
                    if isinstance(name, str) and isinstance(image, str):
                        old_images.add((list_name, name, image))
    needed: list[Any] = []
    for list_name in lists:
        entries = spec.get(list_name) if isinstance(spec, Mapping) else None
        if entries is None:
            continue
        if not isinstance(entries, list):
            return None
        for entry in entries:
            if not isinstance(entry, Mapping):
                return None
            pulls, image = _entry_image(list_name, entry)
            if not pulls:
                continue
            key = (list_name, entry.get("name"), image)
            if isinstance(image, str) and key in old_images:
                continue
            needed.append(image)
    return needed


def _walk(obj: Mapping[str, Any], path: tuple[str, ...]) -> Mapping[str, Any] | None | bool:
    node: Any = obj
    for key in path:
        node = node.get(key)
        if node is None:
            return None
        if not isinstance(node, Mapping):
            return False
    return node  # type: ignore[no-any-return]


def check_answer(gate: Gate, doc: Any, status: int, body: bytes) -> None:
    assert status < 500, f"HTTP {status}: {body[:300]!r}"
    if status != 200:
        assert status in (400, 413, 422), status
        assert "error" in json.loads(body)
        return
    answer = json.loads(body)
    assert answer["apiVersion"] == "admission.k8s.io/v1" and answer["kind"] == "AdmissionReview"
    response = answer["response"]
    assert response["uid"] == doc["request"]["uid"]
    assert "patch" not in response and "patchType" not in response
    if not response["allowed"]:
        assert response["status"]["code"] == 403
        return
    needed = must_verify(doc)
    assert needed is not None, f"allowed a request that must be denied: {json.dumps(doc)[:400]}"
    wrong = [image for image in needed if image not in gate.good]
    assert not wrong, f"allowed images that should be denied: {wrong!r}"


def post(gate: Gate, content: bytes) -> tuple[int, bytes]:
    response = gate.client.post("/validate", content=content, headers={"content-type": "application/json"})
    return response.status_code, response.content


# --- properties --------------------------------------------------------------------------------------------

REVIEWS = examples(4000)
BODIES = examples(1500)
EPHEMERAL = examples(1000)


def test_hostile_reviews_are_answered_and_never_wrongly_allowed(gate: Gate) -> None:
    count = 0

    @settings(FUZZ, max_examples=REVIEWS)
    @given(hostile_review(gate))
    def prop(doc: dict[str, Any]) -> None:
        nonlocal count
        count += 1
        status, body = post(gate, json.dumps(doc).encode())
        check_answer(gate, doc, status, body)

    prop()
    COUNTS["hostile reviews"] = count
    assert count >= REVIEWS


@st.composite
def raw_body(draw: st.DrawFn, gate: Gate) -> bytes:
    good = json.dumps(review({"kind": "Pod", "spec": {"containers": [{"name": "a", "image": sorted(gate.good)[0]}]}}))
    choice = draw(st.integers(0, 5))
    if choice == 0:
        return draw(st.binary(max_size=200))
    if choice == 1:
        return good.encode()[: draw(st.integers(0, len(good)))]  # truncated JSON
    if choice == 2:
        return json.dumps(draw(JSON)).encode()
    if choice == 3:  # deep nesting
        depth = draw(st.integers(1, 3000))
        return ("[" * depth + "]" * depth).encode()
    if choice == 4:  # odd encodings and duplicate keys
        return draw(st.sampled_from([good.encode("utf-16"), b"\xef\xbb\xbf" + good.encode(), good.encode() * 2]))
    return good.replace('"uid"', '"uid": 1, "x"').encode()


def test_malformed_bodies_get_a_4xx_never_a_5xx(gate: Gate) -> None:
    count = 0

    @settings(FUZZ, max_examples=BODIES)
    @given(raw_body(gate))
    def prop(content: bytes) -> None:
        nonlocal count
        count += 1
        status, body = post(gate, content)
        assert status < 500, f"HTTP {status} for {content[:100]!r}: {body[:200]!r}"
        if status == 200:
            answer = json.loads(body)["response"]
            if answer["allowed"]:
                doc = json.loads(content)
                needed = must_verify(doc)
                assert needed is not None and all(i in gate.good for i in needed)

    prop()
    COUNTS["malformed bodies"] = count
    assert count >= BODIES


@st.composite
def ephemeral_update(draw: st.DrawFn, gate: Gate) -> dict[str, Any]:
    doc = _shape("review-update-pod-ephemeralcontainers")
    request = doc["request"]
    old = request["oldObject"]
    new = copy.deepcopy(old)
    old["spec"]["ephemeralContainers"] = draw(containers(gate))
    kept = [copy.deepcopy(c) for c in old["spec"]["ephemeralContainers"] if draw(st.booleans())]
    new["spec"]["ephemeralContainers"] = kept + draw(containers(gate))
    if draw(st.booleans()):  # the subresource cannot change containers; try anyway
        new["spec"]["containers"] = draw(containers(gate))
    request["object"] = new
    request["uid"] = f"uid-{draw(st.integers(0, 10**9))}"
    if draw(st.integers(0, 4)) == 0:
        request["subResource"] = draw(st.sampled_from([None, "", "EphemeralContainers", "ephemeralcontainers/x"]))
    return doc


def test_ephemeral_containers_cannot_bypass_verification(gate: Gate) -> None:
    count = 0

    @settings(FUZZ, max_examples=EPHEMERAL)
    @given(ephemeral_update(gate))
    def prop(doc: dict[str, Any]) -> None:
        nonlocal count
        count += 1
        status, body = post(gate, json.dumps(doc).encode())
        check_answer(gate, doc, status, body)
        if status == 200 and json.loads(body)["response"]["allowed"]:
            request = doc["request"]
            old = {
                (c.get("name"), c.get("image"))
                for c in request["oldObject"]["spec"]["ephemeralContainers"]
                if isinstance(c, dict) and isinstance(c.get("image"), str)
            }
            for entry in request["object"]["spec"].get("ephemeralContainers") or []:
                if isinstance(entry, dict) and (entry.get("name"), entry.get("image")) not in old:
                    assert entry.get("image") in gate.good, f"debug container {entry!r} admitted unverified"

    prop()
    COUNTS["ephemeral containers"] = count
    assert count >= EPHEMERAL


def test_a_trap_image_in_any_container_list_is_denied_without_contact(gate: Gate) -> None:
    for list_name in ORACLE_CONTAINER_LISTS:
        for image in gate.trapped:
            obj = shape("pod")
            pod_spec(obj)[list_name] = [{"name": "x", "image": image}]
            status, body = post(gate, json.dumps(review(obj)).encode())
            assert status == 200
            assert json.loads(body)["response"]["allowed"] is False
    for image in gate.trapped:  # an image volume beside a good container
        obj = shape("pod")
        spec = pod_spec(obj)
        spec.pop("initContainers", None)
        spec["containers"] = [{"name": "a", "image": sorted(gate.good)[0]}]
        spec[ORACLE_VOLUMES] = [{"name": "v", "image": {"reference": image}}]
        status, body = post(gate, json.dumps(review(obj)).encode())
        assert status == 200 and json.loads(body)["response"]["allowed"] is False
    assert gate.trap.connections == 0
