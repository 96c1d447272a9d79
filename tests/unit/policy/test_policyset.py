"""A compiled PolicySet: which policies match an image, where they apply, which registries may be contacted,
what settings exempt. Built with ``compile_documents`` (pure: keys inline, no files)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.unit.policy.conftest import new_public_pem, policy_doc, settings_doc
from verifier.errors import PolicyError
from verifier.oci import Reference
from verifier.policy import NamespaceLabelsRequired, PolicySet, compile_documents


def _compile(*docs: dict[str, Any]) -> PolicySet:
    return compile_documents([("mem.yaml", i + 1, doc) for i, doc in enumerate(docs)])


def test_compile_documents_reads_key_files_only_through_its_loader() -> None:
    read: list[Path] = []
    pem = new_public_pem().encode()

    def loader(path: Path) -> bytes:
        read.append(path)
        return pem

    doc = policy_doc("p", authorities=[{"name": "ci", "key": {"path": "keys/ci.pub"}}])
    policies = compile_documents([("conf/p.yaml", 1, doc)], key_loader=loader)
    assert read == [Path("conf/keys/ci.pub")]
    assert policies.policies[0].authorities[0].keys[0].name == "ci"


def test_compile_documents_raises_one_error_with_every_problem() -> None:
    bad = policy_doc("p", mode="x", threshold=0)
    with pytest.raises(PolicyError) as info:
        compile_documents([("m.yaml", 1, bad), ("m.yaml", 2, {"kind": "Settings"})])
    assert info.value.problems == [
        "m.yaml: document 1 (ImagePolicy \"p\"): spec.mode: input should be 'enforce' or 'warn'",
        'm.yaml: document 1 (ImagePolicy "p"): spec.threshold: input should be greater than or equal to 1',
        "m.yaml: document 2 (Settings): apiVersion: required field is missing",
    ]


POLICIES = _compile(
    policy_doc("team", images=["registry.example.com/team/**"]),
    policy_doc("releases", images=["registry.example.com/team/api:1.*"]),
    policy_doc("hub", images=["nginx", "docker.io/bitnami/*"]),
    policy_doc("local", images=["localhost:5000/app"]),
    policy_doc("gcr", images=["*.gcr.io/**"]),
    settings_doc(exemptions={"namespaces": ["kube-*"], "images": ["registry.k8s.io/pause:*"]}),
)

MATCHING = [
    ("a team image matches the team policy", "registry.example.com/team/web:2", ["team"]),
    ("a release tag matches both policies, sorted by name", "registry.example.com/team/api:1.4", ["releases", "team"]),
    ("another tag of the api matches only the team policy", "registry.example.com/team/api:2.0", ["team"]),
    ("an official image by short name", "nginx:1.27", ["hub"]),
    ("a user image on docker hub", "bitnami/redis", ["hub"]),
    ("an image on an unnamed registry matches nothing", "quay.io/team/web", []),
    ("the exempt pause image matches no policy", "registry.k8s.io/pause:3.9", []),
]


@pytest.mark.parametrize(("case", "image", "names"), MATCHING, ids=[c[0] for c in MATCHING])
def test_matching_policies(case: str, image: str, names: list[str]) -> None:
    assert [p.name for p in POLICIES.matching(Reference.parse(image))] == names


REGISTRIES = [
    ("a registry a glob names", "registry.example.com", True),
    ("docker hub by its canonical name", "docker.io", True),
    ("docker hub by its api host", "registry-1.docker.io", True),
    ("docker hub by cosign's alias", "index.docker.io", True),
    ("a loopback registry named with its port", "localhost:5000", True),
    ("the same loopback host on another port", "localhost:5001", False),
    ("a loopback trap host no glob names", "127.0.0.1:5000", False),
    ("a loopback address without port", "127.0.0.1", False),
    ("a subdomain a wildcard registry names", "eu.gcr.io", True),
    ("a look-alike of a wildcard registry", "gcr.io.evil.example", False),
    ("a host only exemptions name", "registry.k8s.io", False),
    ("an unrelated host", "evil.example.com", False),
]


@pytest.mark.parametrize(("case", "host", "allowed"), REGISTRIES, ids=[c[0] for c in REGISTRIES])
def test_registry_allow_list_follows_the_image_globs(case: str, host: str, allowed: bool) -> None:
    assert POLICIES.registry_allowed(host) is allowed


def test_allowed_registries_lists_the_patterns() -> None:
    assert POLICIES.allowed_registries == ["*.gcr.io", "docker.io", "localhost:5000", "registry.example.com"]
    everything = _compile(policy_doc("all", images=["**"]))
    assert everything.allowed_registries == ["*"]
    assert everything.registry_allowed("127.0.0.1:1")


def test_a_set_without_policies_allows_no_registry() -> None:
    empty = _compile(settings_doc())
    assert empty.policies == ()
    assert not empty.registry_allowed("docker.io")
    assert empty.allowed_registries == []


EXEMPT = [
    ("an exempt namespace", "kube-system", "quay.io/x/y", True),
    ("an exempt image in any namespace", "default", "registry.k8s.io/pause:3.9", True),
    ("an exempt image by reference", "default", Reference.parse("registry.k8s.io/pause:3.9"), True),
    ("a * tag pattern exempts a digest-only reference", "default", "registry.k8s.io/pause@sha256:" + "a" * 64, True),
    ("an image in a normal namespace", "default", "quay.io/x/y", False),
    ("an unknown namespace and a normal image", None, "quay.io/x/y", False),
    ("an image text that does not parse is never exempt", "default", "Registry.K8s.io/Pause::", False),
    ("a similar but different image", "default", "registry.k8s.io/pause-extra:1", False),
]


@pytest.mark.parametrize(("case", "namespace", "image", "exempt"), EXEMPT, ids=[c[0] for c in EXEMPT])
def test_exemptions(case: str, namespace: str | None, image: Reference | str, exempt: bool) -> None:
    assert POLICIES.settings.is_exempt(namespace, image) is exempt


# --- namespace selection --------------------------------------------------------------------------------

LABELS_PROD = {"env": "prod", "team": "a"}
LABELS_DEV = {"env": "dev"}

# (case, namespaces selector, namespace, labels, applies?)
NAMESPACES: list[tuple[str, dict[str, Any] | None, str, dict[str, str] | None, bool]] = [
    ("no selector applies everywhere", None, "default", None, True),
    ("an empty selector applies everywhere", {}, "default", None, True),
    ("an included namespace", {"include": ["prod-*"]}, "prod-a", None, True),
    ("a namespace not included", {"include": ["prod-*"]}, "dev-a", None, False),
    ("an excluded namespace", {"exclude": ["kube-system"]}, "kube-system", None, False),
    ("a namespace not excluded", {"exclude": ["kube-system"]}, "default", None, True),
    ("exclude wins over include", {"include": ["*"], "exclude": ["kube-*"]}, "kube-public", None, False),
    ("matching labels", {"matchLabels": {"env": "prod"}}, "x", LABELS_PROD, True),
    ("a label with another value", {"matchLabels": {"env": "prod"}}, "x", LABELS_DEV, False),
    ("a missing label", {"matchLabels": {"team": "a"}}, "x", LABELS_DEV, False),
    (
        "In holds",
        {"matchExpressions": [{"key": "env", "operator": "In", "values": ["prod", "stage"]}]},
        "x",
        LABELS_PROD,
        True,
    ),
    (
        "In fails",
        {"matchExpressions": [{"key": "env", "operator": "In", "values": ["stage"]}]},
        "x",
        LABELS_PROD,
        False,
    ),
    (
        "In fails on a missing key",
        {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["a"]}]},
        "x",
        LABELS_PROD,
        False,
    ),
    (
        "NotIn holds",
        {"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod"]}]},
        "x",
        LABELS_DEV,
        True,
    ),
    (
        "NotIn fails",
        {"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod"]}]},
        "x",
        LABELS_PROD,
        False,
    ),
    (
        "NotIn holds on a missing key",
        {"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["a"]}]},
        "x",
        LABELS_DEV,
        True,
    ),
    ("Exists holds", {"matchExpressions": [{"key": "team", "operator": "Exists"}]}, "x", LABELS_PROD, True),
    ("Exists fails", {"matchExpressions": [{"key": "team", "operator": "Exists"}]}, "x", LABELS_DEV, False),
    ("DoesNotExist holds", {"matchExpressions": [{"key": "team", "operator": "DoesNotExist"}]}, "x", LABELS_DEV, True),
    (
        "DoesNotExist fails",
        {"matchExpressions": [{"key": "team", "operator": "DoesNotExist"}]},
        "x",
        LABELS_PROD,
        False,
    ),
    (
        "every part must hold",
        {"include": ["x"], "matchLabels": {"env": "prod"}, "matchExpressions": [{"key": "team", "operator": "Exists"}]},
        "x",
        LABELS_DEV,
        False,
    ),
    ("a name the globs rule out needs no labels", {"exclude": ["x"], "matchLabels": {"env": "prod"}}, "x", None, False),
    ("empty labels are known labels", {"matchLabels": {"env": "prod"}}, "x", {}, False),
]


@pytest.mark.parametrize(
    ("case", "selector", "namespace", "labels", "applies"), NAMESPACES, ids=[c[0] for c in NAMESPACES]
)
def test_namespace_selection(
    case: str, selector: dict[str, Any] | None, namespace: str, labels: dict[str, str] | None, applies: bool
) -> None:
    doc = policy_doc("p") if selector is None else policy_doc("p", namespaces=selector)
    (policy,) = _compile(doc).policies
    assert policy.applies_to_namespace(namespace, labels) is applies


def test_unknown_labels_are_asked_for_when_a_label_selector_must_decide() -> None:
    (policy,) = _compile(policy_doc("p", namespaces={"matchLabels": {"env": "prod"}})).policies
    assert policy.uses_namespace_labels
    with pytest.raises(NamespaceLabelsRequired, match="labels of namespace 'team-a' are needed"):
        policy.applies_to_namespace("team-a", None)


def test_policies_without_label_selectors_never_need_labels() -> None:
    policies = _compile(policy_doc("a", namespaces={"include": ["x"]}), policy_doc("b"))
    assert not any(p.uses_namespace_labels for p in policies.policies)
    assert not policies.uses_namespace_labels
