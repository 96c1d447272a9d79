"""Loading policy files: every problem with its exact file, document and field path; what loads, and how."""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.policy.conftest import API, new_public_pem, policy_doc, settings_doc
from verifier.cosign import generate_signing_key
from verifier.errors import ConfigError, PolicyError
from verifier.limits import DEFAULT_LIMITS
from verifier.policy import load_policy_files

WriteYaml = Callable[..., Path]
P = 'p.yaml: document 1 (ImagePolicy "prod")'
S = "p.yaml: document 1 (Settings)"


def _problems(paths: list[str]) -> list[str]:
    with pytest.raises(PolicyError) as info:
        load_policy_files(paths)
    return info.value.problems


def _edit(doc: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """``doc`` with the dotted ``path`` set to ``value`` (``...`` deletes it); list indexes as numbers."""
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


BASE = policy_doc("prod")
TWO_AUTHORITIES = policy_doc(
    "prod", authorities=[{"name": "a", "key": {"data": new_public_pem()}}, {"name": "b", "key": {"data": "x"}}]
)

# (case, document, the exact problems)
ONE_DOCUMENT = [
    (
        "an unknown spec field is named with its path",
        _edit(BASE, "spec.imagess", []),
        [f"{P}: spec.imagess: unknown field"],
    ),
    ("an unknown top-level field is named", _edit(BASE, "status", {}), [f"{P}: status: unknown field"]),
    (
        "a key with both path and data",
        _edit(BASE, "spec.authorities.0.key.path", "k.pub"),
        [f"{P}: spec.authorities[0].key: exactly one of path or data"],
    ),
    (
        "a key with neither path nor data",
        _edit(BASE, "spec.authorities.0.key", {}),
        [f"{P}: spec.authorities[0].key: exactly one of path or data"],
    ),
    (
        "an authority without a key",
        _edit(BASE, "spec.authorities.0.key", ...),
        [f"{P}: spec.authorities[0]: exactly one of key or keyless"],
    ),
    ("an unknown mode", _edit(BASE, "spec.mode", "audit"), [f"{P}: spec.mode: input should be 'enforce' or 'warn'"]),
    (
        "a string where a boolean belongs",
        _edit(BASE, "spec.requireDigest", "yes"),
        [f"{P}: spec.requireDigest: input should be a valid boolean"],
    ),
    ("no images", _edit(BASE, "spec.images", []), [f"{P}: spec.images: needs at least 1 item"]),
    ("images missing", _edit(BASE, "spec.images", ...), [f"{P}: spec.images: required field is missing"]),
    ("no authorities", _edit(BASE, "spec.authorities", []), [f"{P}: spec.authorities: needs at least 1 item"]),
    (
        "an upper-case image glob names its index",
        _edit(BASE, "spec.images", ["ok.io/**", "registry.example.com/Team/**"]),
        [f"{P}: spec.images[1]: repository names are lower case ('Team')"],
    ),
    (
        "a zero threshold",
        _edit(BASE, "spec.threshold", 0),
        [f"{P}: spec.threshold: input should be greater than or equal to 1"],
    ),
    (
        "a threshold above the number of authorities",
        _edit(BASE, "spec.threshold", 2),
        [f"{P}: spec.threshold: 2 is more than the number of authorities (1)"],
    ),
    (
        "a boolean threshold",
        _edit(BASE, "spec.threshold", True),
        [f"{P}: spec.threshold: input should be a valid integer"],
    ),
    (
        "two authorities with one name",
        _edit(TWO_AUTHORITIES, "spec.authorities.1", {"name": "a", "key": {"data": new_public_pem()}}),
        [f"{P}: spec.authorities[1].name: duplicate authority name 'a' (also spec.authorities[0])"],
    ),
    (
        "an inline key that is not PEM",
        TWO_AUTHORITIES,
        [f"{P}: spec.authorities[1].key.data: public key: no PEM block found"],
    ),
    (
        "an invalid policy name",
        _edit(BASE, "metadata.name", "Prod_Signed"),
        [
            'p.yaml: document 1 (ImagePolicy "Prod_Signed"): metadata.name: '
            "must be a DNS-1123 subdomain (lower-case letters, digits, '-' and '.')"
        ],
    ),
    (
        "no metadata",
        _edit(BASE, "metadata", ...),
        ["p.yaml: document 1 (ImagePolicy): metadata: required field is missing"],
    ),
    (
        "an In requirement without values",
        _edit(BASE, "spec.namespaces", {"matchExpressions": [{"key": "env", "operator": "In"}]}),
        [f"{P}: spec.namespaces.matchExpressions[0]: operator In needs values"],
    ),
    (
        "an Exists requirement with values",
        _edit(BASE, "spec.namespaces", {"matchExpressions": [{"key": "env", "operator": "Exists", "values": ["x"]}]}),
        [f"{P}: spec.namespaces.matchExpressions[0]: operator Exists takes no values"],
    ),
    (
        "an unknown selector operator",
        _edit(BASE, "spec.namespaces", {"matchExpressions": [{"key": "env", "operator": "Gt", "values": ["1"]}]}),
        [
            f"{P}: spec.namespaces.matchExpressions[0].operator: "
            "input should be 'In', 'NotIn', 'Exists' or 'DoesNotExist'"
        ],
    ),
    (
        "an invalid namespace glob",
        _edit(BASE, "spec.namespaces", {"include": ["Kube"]}),
        [
            f"{P}: spec.namespaces.include[0]: invalid namespace pattern 'Kube' "
            "(lower-case letters, digits, '-', '*', '?')"
        ],
    ),
    (
        "a label value that is not a string",
        _edit(BASE, "spec.namespaces", {"matchLabels": {"env": 1}}),
        [f"{P}: spec.namespaces.matchLabels.env: input should be a valid string"],
    ),
    (
        "an unknown kind",
        _edit(BASE, "kind", "ClusterImagePolicy"),
        [
            'p.yaml: document 1 (ClusterImagePolicy "prod"): kind: unknown kind '
            "'ClusterImagePolicy' (expected ImagePolicy or Settings)"
        ],
    ),
    (
        "another apiVersion",
        _edit(BASE, "apiVersion", "policy.sigstore.dev/v1beta1"),
        [f"{P}: apiVersion: unsupported 'policy.sigstore.dev/v1beta1' (expected {API})"],
    ),
    ("no kind", _edit(BASE, "kind", ...), ["p.yaml: document 1: kind: required field is missing"]),
    (
        "a list instead of a mapping",
        ["a", "b"],
        ["p.yaml: document 1: expected a mapping with apiVersion and kind, got a list"],
    ),
    (
        "a bare string document",
        "just text",
        ["p.yaml: document 1: expected a mapping with apiVersion and kind, got a str"],
    ),
    (
        "a deadline above 29 seconds",
        settings_doc(deadlineSeconds=30),
        [f"{S}: spec.deadlineSeconds: input should be less than or equal to 29"],
    ),
    (
        "a zero deadline",
        settings_doc(deadlineSeconds=0),
        [f"{S}: spec.deadlineSeconds: input should be greater than 0"],
    ),
    (
        "a deadline given as text",
        settings_doc(deadlineSeconds="8"),
        [f"{S}: spec.deadlineSeconds: input should be a valid number"],
    ),
    (
        "an unknown noMatch",
        settings_doc(noMatch="maybe"),
        [f"{S}: spec.noMatch: input should be 'deny', 'allow' or 'warn'"],
    ),
    ("an unknown cache field", settings_doc(cache={"ttl": 5}), [f"{S}: spec.cache.ttl: unknown field"]),
    (
        "a negative cache ttl",
        settings_doc(cache={"ttlSeconds": -1}),
        [f"{S}: spec.cache.ttlSeconds: input should be greater than or equal to 0"],
    ),
    (
        "an insecure registry with a scheme",
        settings_doc(registries={"insecure": ["http://registry.local"]}),
        [f"{S}: spec.registries.insecure[0]: must be host or host:port"],
    ),
    (
        "an exempt image glob that does not parse",
        settings_doc(exemptions={"images": ["registry.k8s.io//pause"]}),
        [f"{S}: spec.exemptions.images[0]: empty path component (leading, trailing or double '/')"],
    ),
]


@pytest.mark.parametrize(("case", "doc", "expected"), ONE_DOCUMENT, ids=[c[0] for c in ONE_DOCUMENT])
def test_each_problem_names_file_document_and_field(
    case: str, doc: Any, expected: list[str], write_yaml: WriteYaml
) -> None:
    write_yaml("p.yaml", doc if not isinstance(doc, str) else f"--- {doc!r}\n")
    assert _problems(["p.yaml"]) == expected


# (case, key file content or None for a missing file, the problem after "spec.authorities[0].key.path: ")
KEY_FILES = [
    ("a missing key file", None, "cannot read key file keys/ci.pub: no such file or directory"),
    ("a key file that is not PEM", b"not a key\n", "public key keys/ci.pub: no PEM block found"),
    (
        "a private key where the public key belongs",
        b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        "public key keys/ci.pub is a private key; give the public key",
    ),
    (
        "a PEM block with broken base64",
        b"-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n",
        "public key keys/ci.pub: PEM block 'PUBLIC KEY' is not valid base64",
    ),
]


@pytest.mark.parametrize(("case", "content", "reason"), KEY_FILES, ids=[c[0] for c in KEY_FILES])
def test_key_file_problems_name_the_key_path(
    case: str, content: bytes | None, reason: str, write_yaml: WriteYaml, workdir: Path
) -> None:
    if content is not None:
        (workdir / "keys").mkdir()
        (workdir / "keys" / "ci.pub").write_bytes(content)
    write_yaml("p.yaml", _edit(BASE, "spec.authorities.0.key", {"path": "keys/ci.pub"}))
    assert _problems(["p.yaml"]) == [f"{P}: spec.authorities[0].key.path: {reason}"]


def test_a_relative_key_path_starts_at_the_policy_files_folder(write_yaml: WriteYaml, workdir: Path) -> None:
    (workdir / "conf" / "keys").mkdir(parents=True)
    (workdir / "conf" / "keys" / "ci.pub").write_text(new_public_pem())
    write_yaml("conf/p.yaml", _edit(BASE, "spec.authorities.0.key", {"path": "keys/ci.pub"}))
    policies = load_policy_files(["conf/p.yaml"])
    assert [a.name for a in policies.policies[0].authorities] == ["ci"]
    assert policies.policies[0].authorities[0].keys[0].name == "ci"


def test_duplicate_policy_names_across_files_name_both_places(write_yaml: WriteYaml) -> None:
    write_yaml("a.yaml", policy_doc("prod"))
    write_yaml("b.yaml", policy_doc("other"), policy_doc("prod"))
    assert _problems(["."]) == [
        'b.yaml: document 2 (ImagePolicy "prod"): metadata.name: '
        "duplicate policy name 'prod' (first in a.yaml: document 1 (ImagePolicy \"prod\"))"
    ]


def test_two_settings_documents_name_both_places(write_yaml: WriteYaml) -> None:
    write_yaml("a.yaml", settings_doc())
    write_yaml("b.yaml", policy_doc(), settings_doc(noMatch="warn"))
    assert _problems(["a.yaml", "b.yaml"]) == [
        "b.yaml: document 2 (Settings): a second Settings document (the first is a.yaml: document 1 (Settings)); "
        "at most one is allowed"
    ]


YAML_ERRORS = [
    (
        "a mapping value where none may be",
        "a: 1\n  b: [\n",
        "p.yaml: line 2, column 4: mapping values are not allowed here",
    ),
    (
        "an unclosed flow list",
        "spec:\n  images: [a, b\n",
        "p.yaml: line 3, column 1: expected ',' or ']', but got '<stream end>'",
    ),
    (
        "a tab for indentation",
        "spec:\n\timages: []\n",
        "p.yaml: line 2, column 1: found character '\\t' that cannot start any token",
    ),
    (
        "a key given twice",
        "kind: A\nkind: B\n",
        "p.yaml: line 2, column 1: key 'kind' given twice in one mapping (first on line 1)",
    ),
]


@pytest.mark.parametrize(("case", "text", "expected"), YAML_ERRORS, ids=[c[0] for c in YAML_ERRORS])
def test_yaml_errors_give_file_and_line(case: str, text: str, expected: str, write_yaml: WriteYaml) -> None:
    write_yaml("p.yaml", text)
    assert _problems(["p.yaml"]) == [expected]


def test_every_problem_in_every_file_is_reported_together(write_yaml: WriteYaml) -> None:
    write_yaml("a.yaml", _edit(BASE, "spec.mode", "audit"), {"kind": "Nope", "apiVersion": API})
    write_yaml("b.yaml", "x: [\n")
    write_yaml("c.yaml", settings_doc(deadlineSeconds=99))
    with pytest.raises(PolicyError) as info:
        load_policy_files(["."])
    error = info.value
    assert error.problems == [
        "a.yaml: document 1 (ImagePolicy \"prod\"): spec.mode: input should be 'enforce' or 'warn'",
        "a.yaml: document 2 (Nope): kind: unknown kind 'Nope' (expected ImagePolicy or Settings)",
        "b.yaml: line 2, column 1: expected the node content, but found '<stream end>'",
        "c.yaml: document 1 (Settings): spec.deadlineSeconds: input should be less than or equal to 29",
    ]
    assert error.diagnostics().splitlines() == error.problems
    assert error.code == "POLICY_INVALID"
    assert isinstance(error, ConfigError) and error.exit_code == 2
    assert str(error).endswith("(and 3 more)")


def test_a_folder_reads_its_yaml_and_yml_files_in_name_order(write_yaml: WriteYaml) -> None:
    write_yaml("d/b.yml", policy_doc("from-yml"))
    write_yaml("d/a.yaml", policy_doc("from-yaml"))
    write_yaml("d/notes.txt", "not: yaml: at all")
    write_yaml("d/sub/c.yaml", "broken: [")
    policies = load_policy_files(["d"])
    assert [p.name for p in policies.policies] == ["from-yaml", "from-yml"]
    assert [p.source for p in policies.policies] == [
        'd/a.yaml: document 1 (ImagePolicy "from-yaml")',
        'd/b.yml: document 1 (ImagePolicy "from-yml")',
    ]


def test_empty_documents_are_skipped_but_keep_their_numbers(write_yaml: WriteYaml) -> None:
    write_yaml("p.yaml", "---\n# only a comment\n---\n---\n" + yaml.safe_dump(policy_doc("x")))
    policies = load_policy_files(["p.yaml"])
    assert [p.source for p in policies.policies] == ['p.yaml: document 3 (ImagePolicy "x")']


PATH_PROBLEMS = [
    ("a path that does not exist", ["nope.yaml"], ["nope.yaml: no such file or folder"]),
    ("a folder without policy files", ["empty"], ["empty: no *.yaml or *.yml files in this folder"]),
    ("no paths at all", [], ["no policy files given"]),
]


@pytest.mark.parametrize(("case", "paths", "expected"), PATH_PROBLEMS, ids=[c[0] for c in PATH_PROBLEMS])
def test_paths_that_give_no_policies_are_problems(
    case: str, paths: list[str], expected: list[str], workdir: Path
) -> None:
    (workdir / "empty").mkdir()
    assert _problems(paths) == expected


def test_a_file_that_is_not_utf8_is_a_problem(workdir: Path) -> None:
    (workdir / "p.yaml").write_bytes(b"kind: \xff\n")
    assert _problems(["p.yaml"]) == ["p.yaml: not UTF-8 (byte 6)"]


def test_a_file_over_the_size_cap_is_not_parsed(workdir: Path) -> None:
    (workdir / "p.yaml").write_bytes(b"#" * (DEFAULT_LIMITS.max_policy_file_bytes + 1))
    assert _problems(["p.yaml"]) == ["p.yaml: larger than 1024 KiB"]


def test_an_alias_bomb_is_refused_without_expanding_it(write_yaml: WriteYaml) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 8)]
    write_yaml("p.yaml", "\n".join(lines) + "\n")
    assert _problems(["p.yaml"]) == ["p.yaml: document 1: expands to more than 100000 YAML values"]


def test_nothing_broken_is_skipped_silently_when_other_documents_are_fine(write_yaml: WriteYaml) -> None:
    write_yaml("p.yaml", policy_doc("good"), _edit(policy_doc("bad"), "spec.surprise", 1))
    assert _problems(["p.yaml"]) == ['p.yaml: document 2 (ImagePolicy "bad"): spec.surprise: unknown field']


# --- what a loaded set holds --------------------------------------------------------------------------------


def test_compiled_policy_carries_the_spec(write_yaml: WriteYaml) -> None:
    pem_a, pem_b = new_public_pem(), new_public_pem()
    doc = policy_doc(
        "prod",
        mode="warn",
        requireDigest=True,
        threshold=2,
        authorities=[{"name": "a", "key": {"data": pem_a}}, {"name": "b", "key": {"data": pem_b}}],
    )
    write_yaml("p.yaml", doc)
    (policy,) = load_policy_files(["p.yaml"]).policies
    assert (policy.name, policy.mode, policy.require_digest, policy.threshold) == ("prod", "warn", True, 2)
    assert [(a.name, [k.name for k in a.keys]) for a in policy.authorities] == [("a", ["a"]), ("b", ["b"])]
    assert [g.text for g in policy.images] == ["registry.example.com/team/**"]
    assert len(policy.hash) == 64
    assert (policy.claims, policy.check_reference) == ((), True)


def test_annotations_and_skip_reference_check_compile_as_the_cli_flags_do(write_yaml: WriteYaml) -> None:
    write_yaml("p.yaml", policy_doc("prod", annotations={"team": "x", "env": "prod"}, skipReferenceCheck=True))
    (policy,) = load_policy_files(["p.yaml"]).policies
    assert policy.claims == (("env", "prod"), ("team", "x"))
    assert policy.check_reference is False


@pytest.mark.parametrize(
    ("annotations", "problem"),
    [
        ({"": "x"}, "spec.annotations"),
        ({"env": 1}, "spec.annotations.env"),
        ("env=prod", "spec.annotations"),
    ],
)
def test_bad_annotations_are_problems_with_their_path(
    annotations: Any, problem: str, write_yaml: WriteYaml
) -> None:
    write_yaml("p.yaml", policy_doc("prod", annotations=annotations))
    problems = _problems(["p.yaml"])
    assert len(problems) == 1 and problems[0].startswith(f"{P}: {problem}"), problems


def test_defaults_apply_without_a_settings_document(write_yaml: WriteYaml) -> None:
    write_yaml("p.yaml", policy_doc())
    settings = load_policy_files(["p.yaml"]).settings
    assert settings.source is None
    assert (settings.no_match, settings.on_error, settings.deadline_seconds) == ("deny", "deny", 8.0)
    assert (settings.cache_ttl_seconds, settings.cache_failure_ttl_seconds) == (300, 10)
    assert (settings.cache_max_entries, settings.cache_tag_ttl_seconds) == (10000, 0)
    assert settings.verifications_per_registry == 8


def test_a_settings_document_is_compiled(write_yaml: WriteYaml) -> None:
    write_yaml(
        "p.yaml",
        policy_doc(),
        settings_doc(
            noMatch="warn",
            onError="allow",
            deadlineSeconds=2.5,
            cache={"ttlSeconds": 60, "failureTtlSeconds": 1, "maxEntries": 5, "tagTtlSeconds": 30},
            registries={"insecure": ["Registry.Local:5000"], "concurrency": 2},
        ),
    )
    settings = load_policy_files(["p.yaml"]).settings
    assert settings.source == "p.yaml: document 2 (Settings)"
    assert (settings.no_match, settings.on_error, settings.deadline_seconds) == ("warn", "allow", 2.5)
    assert (settings.cache_ttl_seconds, settings.cache_failure_ttl_seconds) == (60, 1)
    assert (settings.cache_max_entries, settings.cache_tag_ttl_seconds) == (5, 30)
    assert settings.insecure_registries == frozenset({"registry.local:5000"})
    assert settings.verifications_per_registry == 2


# --- hashes ---------------------------------------------------------------------------------------------


def test_the_hash_is_stable_and_follows_key_file_content(write_yaml: WriteYaml, workdir: Path) -> None:
    key_file = workdir / "ci.pub"
    key_file.write_text(new_public_pem())
    write_yaml("p.yaml", _edit(BASE, "spec.authorities.0.key", {"path": "ci.pub"}))
    first = load_policy_files(["p.yaml"])
    again = load_policy_files(["p.yaml"])
    assert (again.hash, again.policies[0].hash) == (first.hash, first.policies[0].hash)

    # the same key written differently (comments, order, another file name) keeps the hash
    key_file.rename(workdir / "renamed.pub")
    (workdir / "p.yaml").write_text(
        "# a comment\nkind: ImagePolicy\napiVersion: sealgate.dev/v1alpha1\nmetadata: {name: prod}\nspec:\n"
        "  authorities: [{key: {path: renamed.pub}, name: ci}]\n  images: ['registry.example.com/team/**']\n"
    )
    assert load_policy_files(["p.yaml"]).policies[0].hash == first.policies[0].hash

    # another key in the file changes both hashes
    (workdir / "renamed.pub").write_text(new_public_pem())
    changed = load_policy_files(["p.yaml"])
    assert changed.policies[0].hash != first.policies[0].hash
    assert changed.hash != first.hash


def test_an_inline_key_hashes_like_the_same_key_in_a_file(write_yaml: WriteYaml, workdir: Path) -> None:
    pem = new_public_pem()
    (workdir / "ci.pub").write_text(pem)
    write_yaml("a.yaml", _edit(BASE, "spec.authorities.0.key", {"path": "ci.pub"}))
    write_yaml("b.yaml", _edit(BASE, "spec.authorities.0.key", {"data": pem}))
    assert load_policy_files(["a.yaml"]).hash == load_policy_files(["b.yaml"]).hash


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("mode", "warn"),
        ("requireDigest", True),
        ("images", ["registry.example.com/other/**"]),
        ("threshold", 1),
        ("annotations", {"env": "prod"}),
        ("skipReferenceCheck", True),
    ],
)
def test_the_policy_hash_follows_every_field(field: str, value: Any, write_yaml: WriteYaml) -> None:
    write_yaml("p.yaml", BASE)
    before = load_policy_files(["p.yaml"]).policies[0].hash
    write_yaml("p.yaml", _edit(BASE, f"spec.{field}", value))
    after = load_policy_files(["p.yaml"]).policies[0].hash
    assert (after != before) is (field != "threshold")  # threshold 1 is the default: same policy


def test_settings_change_the_set_hash_but_not_the_policy_hash(write_yaml: WriteYaml) -> None:
    write_yaml("p.yaml", BASE)
    before = load_policy_files(["p.yaml"])
    write_yaml("p.yaml", BASE, settings_doc(deadlineSeconds=5))
    after = load_policy_files(["p.yaml"])
    assert after.policies[0].hash == before.policies[0].hash
    assert after.hash != before.hash


# --- warnings -------------------------------------------------------------------------------------------


def test_warnings_for_globs_that_reach_every_registry(write_yaml: WriteYaml) -> None:
    write_yaml("p.yaml", _edit(BASE, "spec.images", ["ghcr.io/org/**", "*/**"]))
    assert load_policy_files(["p.yaml"]).warnings == (
        f"{P}: spec.images[1]: '*/**' matches every registry, so sealgate may contact any registry an admission "
        "request names",
    )


def test_warnings_for_no_policies_and_allowing_unmatched_images(write_yaml: WriteYaml) -> None:
    write_yaml("p.yaml", settings_doc(noMatch="allow"))
    assert load_policy_files(["p.yaml"]).warnings == (
        "no ImagePolicy documents: every image that is not exempt gets noMatch (allow)",
        f"{S}: spec.noMatch: allow admits every image that no policy matches, unverified",
    )


def test_a_private_key_never_loads_as_an_authority(write_yaml: WriteYaml) -> None:
    from cryptography.hazmat.primitives import serialization

    private = generate_signing_key().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    write_yaml("p.yaml", _edit(BASE, "spec.authorities.0.key.data", private.decode()))
    assert _problems(["p.yaml"]) == [
        f"{P}: spec.authorities[0].key.data: public key is a private key; give the public key"
    ]


def test_a_problem_stays_on_one_line_whatever_the_file_contains(write_yaml: WriteYaml) -> None:
    write_yaml("p.yaml", _edit(BASE, "spec.bad\nfield", 1))
    assert _problems(["p.yaml"]) == [f"{P}: spec.bad\\nfield: unknown field"]


def test_deeply_nested_yaml_is_a_problem_not_a_crash(write_yaml: WriteYaml) -> None:
    write_yaml("p.yaml", "a: " + "[" * 5_000 + "]" * 5_000 + "\n")
    assert _problems(["p.yaml"]) == ["p.yaml: document 1: nested too deeply"]


def test_nesting_is_bounded_by_the_limit_not_by_the_recursion_limit(write_yaml: WriteYaml) -> None:
    """Other code in the process may raise the recursion limit (mypy does): the depth cap still holds."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(100_000)
    try:
        write_yaml("deep.yaml", "a: " + "[" * 5_000 + "]" * 5_000 + "\n")
        write_yaml("edge.yaml", "a: " + "[" * 64 + "]" * 64 + "\n")
        assert _problems(["deep.yaml"]) == ["deep.yaml: document 1: nested too deeply"]
        assert _problems(["edge.yaml"]) == ["edge.yaml: document 1: nested too deeply"]  # 65 levels with `a:`
    finally:
        sys.setrecursionlimit(limit)
    write_yaml("ok.yaml", "a: " + "[" * 62 + "]" * 62 + "\n")
    assert "nested too deeply" not in " ".join(_problems(["ok.yaml"]))
