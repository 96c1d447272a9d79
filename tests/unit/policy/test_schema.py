"""policies/policy.schema.json: equal to the export from the models, and in agreement with pydantic."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from pydantic import ValidationError

from tests.unit.policy.conftest import new_public_pem, policy_doc, settings_doc
from tools.export_schema import SCHEMA_PATH, main
from verifier.policy import document_adapter, read_policy_documents, render_policy_schema

EXAMPLES = Path(__file__).resolve().parents[3] / "policies" / "examples"


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def test_the_committed_schema_is_the_export_of_the_models() -> None:
    assert SCHEMA_PATH.read_text() == render_policy_schema(), "run python -m tools.export_schema"


def test_the_export_tool_writes_sorted_json_with_a_trailing_newline(tmp_path: Path) -> None:
    out = tmp_path / "schema.json"
    assert main(["--output", str(out)]) == 0
    text = out.read_text()
    assert text.endswith("}\n")
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert main(["--check", "--output", str(out)]) == 0
    out.write_text("{}\n")
    assert main(["--check", "--output", str(out)]) == 1


def test_every_example_document_is_valid_against_the_schema(validator: jsonschema.protocols.Validator) -> None:
    problems: list[str] = []
    docs = read_policy_documents([EXAMPLES], problems)
    assert problems == []
    assert len(docs) >= 4
    for source, number, doc in docs:
        errors = [e.message for e in validator.iter_errors(doc)]
        assert errors == [], f"{source}: document {number}"


def _set(doc: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    *parents, last = path.split(".")
    node: Any = doc
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    key: Any = int(last) if isinstance(node, list) else last
    if value is ...:
        del node[key]
    else:
        node[key] = value
    return doc


GOOD_POLICY = policy_doc("prod")
GOOD_POLICY["spec"]["authorities"] = [{"name": "ci", "key": {"data": new_public_pem()}}]

# (case, document, valid?) - structural rules only; cross-field rules are the compiler's (see test_load)
AGREEMENT = [
    ("a minimal policy", GOOD_POLICY, True),
    (
        "a policy with every field",
        _set(
            GOOD_POLICY,
            "spec",
            {
                "images": ["registry.example.com/**", "nginx:1.*"],
                "mode": "warn",
                "requireDigest": True,
                "namespaces": {
                    "include": ["a-*"],
                    "exclude": ["kube-system"],
                    "matchLabels": {"example.com/env": "prod"},
                    "matchExpressions": [
                        {"key": "team", "operator": "In", "values": ["a"]},
                        {"key": "x", "operator": "Exists"},
                    ],
                },
                "authorities": [{"name": "ci", "key": {"path": "keys/ci.pub"}}],
                "threshold": 1,
            },
        ),
        True,
    ),
    ("a minimal settings document", settings_doc(), True),
    ("settings without spec", {"apiVersion": "sealgate.dev/v1alpha1", "kind": "Settings"}, True),
    (
        "settings with every field",
        settings_doc(
            noMatch="warn",
            onError="allow",
            deadlineSeconds=2.5,
            cache={"ttlSeconds": 1, "failureTtlSeconds": 1, "maxEntries": 0, "tagTtlSeconds": 5},
            exemptions={"namespaces": ["kube-*"], "images": ["registry.k8s.io/**"]},
            registries={"insecure": ["registry.local:5000", "[::1]:5000"], "concurrency": 4},
        ),
        True,
    ),
    ("settings with an integer deadline", settings_doc(deadlineSeconds=8), True),
    ("an unknown top-level field", _set(GOOD_POLICY, "status", {}), False),
    ("an unknown spec field", _set(GOOD_POLICY, "spec.extra", 1), False),
    ("an unknown key field", _set(GOOD_POLICY, "spec.authorities.0.key.url", "x"), False),
    ("snake_case instead of camelCase", _set(GOOD_POLICY, "spec.require_digest", True), False),
    ("an unknown kind", _set(GOOD_POLICY, "kind", "Other"), False),
    ("another apiVersion", _set(GOOD_POLICY, "apiVersion", "v1"), False),
    ("no metadata", _set(GOOD_POLICY, "metadata", ...), False),
    ("an upper-case name", _set(GOOD_POLICY, "metadata.name", "Prod"), False),
    ("a name with a dot", _set(GOOD_POLICY, "metadata.name", "team.prod"), True),
    ("no images", _set(GOOD_POLICY, "spec.images", []), False),
    ("an image that is not a string", _set(GOOD_POLICY, "spec.images", [1]), False),
    ("an unknown mode", _set(GOOD_POLICY, "spec.mode", "audit"), False),
    ("requireDigest as text", _set(GOOD_POLICY, "spec.requireDigest", "true"), False),
    ("threshold zero", _set(GOOD_POLICY, "spec.threshold", 0), False),
    ("threshold as a boolean", _set(GOOD_POLICY, "spec.threshold", True), False),
    ("threshold as a float", _set(GOOD_POLICY, "spec.threshold", 1.5), False),
    ("no authorities", _set(GOOD_POLICY, "spec.authorities", []), False),
    ("an authority without key", _set(GOOD_POLICY, "spec.authorities.0.key", ...), False),
    ("an authority with a null key", _set(GOOD_POLICY, "spec.authorities.0.key", None), False),
    ("a key with path and data", _set(GOOD_POLICY, "spec.authorities.0.key.path", "a.pub"), False),
    ("a key with neither", _set(GOOD_POLICY, "spec.authorities.0.key", {}), False),
    ("a key with a null path beside data", _set(GOOD_POLICY, "spec.authorities.0.key.path", None), True),
    ("a key with only a null path", _set(GOOD_POLICY, "spec.authorities.0.key", {"path": None}), False),
    ("a key with an empty path", _set(GOOD_POLICY, "spec.authorities.0.key", {"path": ""}), False),
    ("an authority name with a space", _set(GOOD_POLICY, "spec.authorities.0.name", "c i"), False),
    ("a null namespaces selector", _set(GOOD_POLICY, "spec.namespaces", None), True),
    (
        "In without values",
        _set(GOOD_POLICY, "spec.namespaces", {"matchExpressions": [{"key": "a", "operator": "In"}]}),
        False,
    ),
    (
        "In with empty values",
        _set(GOOD_POLICY, "spec.namespaces", {"matchExpressions": [{"key": "a", "operator": "In", "values": []}]}),
        False,
    ),
    (
        "Exists with values",
        _set(
            GOOD_POLICY, "spec.namespaces", {"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}
        ),
        False,
    ),
    (
        "Exists with empty values",
        _set(GOOD_POLICY, "spec.namespaces", {"matchExpressions": [{"key": "a", "operator": "Exists", "values": []}]}),
        True,
    ),
    (
        "an unknown operator",
        _set(GOOD_POLICY, "spec.namespaces", {"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]}),
        False,
    ),
    ("a label key with a space", _set(GOOD_POLICY, "spec.namespaces", {"matchLabels": {"a b": "x"}}), False),
    ("a label value with a slash", _set(GOOD_POLICY, "spec.namespaces", {"matchLabels": {"a": "x/y"}}), False),
    ("a label value that is a number", _set(GOOD_POLICY, "spec.namespaces", {"matchLabels": {"a": 1}}), False),
    ("an empty label value", _set(GOOD_POLICY, "spec.namespaces", {"matchLabels": {"a": ""}}), True),
    ("an upper-case namespace glob", _set(GOOD_POLICY, "spec.namespaces", {"include": ["Kube"]}), False),
    ("a deadline of 29 seconds", settings_doc(deadlineSeconds=29), True),
    ("a deadline above 29 seconds", settings_doc(deadlineSeconds=29.5), False),
    ("a zero deadline", settings_doc(deadlineSeconds=0), False),
    ("a negative cache size", settings_doc(cache={"maxEntries": -1}), False),
    ("an unknown noMatch", settings_doc(noMatch="audit"), False),
    ("an unknown onError", settings_doc(onError="warn"), False),
    ("zero registry concurrency", settings_doc(registries={"concurrency": 0}), False),
    ("an insecure registry with a path", settings_doc(registries={"insecure": ["host/path"]}), False),
    ("an unknown exemptions field", settings_doc(exemptions={"users": []}), False),
]


@pytest.mark.parametrize(("case", "doc", "valid"), AGREEMENT, ids=[c[0] for c in AGREEMENT])
def test_pydantic_and_the_schema_agree(
    case: str, doc: dict[str, Any], valid: bool, validator: jsonschema.protocols.Validator
) -> None:
    schema_ok = validator.is_valid(doc)
    try:
        document_adapter().validate_python(doc)
        model_ok = True
    except ValidationError:
        model_ok = False
    assert (model_ok, schema_ok) == (valid, valid)
