"""Image and namespace globs: normalisation, matching (positives and negatives) and rejected globs."""

from __future__ import annotations

import re

import pytest

from verifier.oci import Reference
from verifier.policy import ImageGlob, NamespaceGlob

D1 = "sha256:" + "a" * 64
D2 = "sha256:" + "b" * 64

# (case, glob, its normal form)
NORMALISED = [
    ("a docker hub short name gets docker.io/library/", "nginx", "docker.io/library/nginx"),
    ("a docker hub short glob gets library/ too", "ngin*", "docker.io/library/ngin*"),
    ("a docker hub user glob gets docker.io/ only", "bitnami/*", "docker.io/bitnami/*"),
    ("docker.io with one component gets library/", "docker.io/nginx", "docker.io/library/nginx"),
    ("index.docker.io is written docker.io", "index.docker.io/library/nginx", "docker.io/library/nginx"),
    ("registry-1.docker.io is written docker.io", "registry-1.docker.io/org/app", "docker.io/org/app"),
    ("docker.io/** keeps all of docker hub", "docker.io/**", "docker.io/**"),
    ("a registry with a port is kept", "localhost:5000/app", "localhost:5000/app"),
    ("the registry host is lower-cased", "Registry.Example.COM/team/**", "registry.example.com/team/**"),
    ("ghcr.io globs are unchanged", "ghcr.io/org/*", "ghcr.io/org/*"),
    ("a tag pattern is kept", "nginx:1.*", "docker.io/library/nginx:1.*"),
    ("a digest is kept", f"ghcr.io/org/app@{D1}", f"ghcr.io/org/app@{D1}"),
    ("a lone ** stays as it is", "**", "**"),
    ("*/** has a wildcard registry", "*/**", "*/**"),
    ("a wildcard registry with a dot is a registry", "*.gcr.io/**", "*.gcr.io/**"),
    ("a single * is docker hub's official images", "*", "docker.io/library/*"),
    ("**/** is ** (consecutive ** are one)", "**/**", "**"),
    ("**/**/app is **/app", "**/**/app", "**/app"),
    ("a/**/**/b is a/**/b", "reg.io/a/**/**/b", "reg.io/a/**/b"),
]


@pytest.mark.parametrize(("case", "glob", "normal"), NORMALISED, ids=[c[0] for c in NORMALISED])
def test_globs_are_normalised_like_references(case: str, glob: str, normal: str) -> None:
    assert ImageGlob.parse(glob).text == normal


# (case, glob, image reference, matches?)
MATCHING = [
    ("an exact docker hub short name matches its reference", "nginx", "nginx:1.27", True),
    ("a docker hub short name matches the fully written reference", "nginx", "docker.io/library/nginx", True),
    ("a docker hub short name matches the index.docker.io alias", "nginx", "index.docker.io/library/nginx:1", True),
    ("a docker hub short name does not match a user repository", "nginx", "docker.io/someone/nginx", False),
    ("a docker hub short name does not match another registry", "nginx", "ghcr.io/library/nginx", False),
    ("* stays within one component", "ghcr.io/org/*", "ghcr.io/org/app", True),
    ("* does not cross a slash", "ghcr.io/org/*", "ghcr.io/org/team/app", False),
    ("* does not match the parent itself", "ghcr.io/org/*", "ghcr.io/org", False),
    ("* inside a component matches a prefix", "ghcr.io/org/app-*", "ghcr.io/org/app-web", True),
    ("* inside a component needs the literal part", "ghcr.io/org/app-*", "ghcr.io/org/web", False),
    ("? matches exactly one character", "ghcr.io/org/app?", "ghcr.io/org/app1", True),
    ("? does not match two characters", "ghcr.io/org/app?", "ghcr.io/org/app12", False),
    ("? does not match none", "ghcr.io/org/app?", "ghcr.io/org/app", False),
    ("trailing ** matches one component", "registry.example.com/team/**", "registry.example.com/team/app", True),
    ("trailing ** matches many components", "registry.example.com/team/**", "registry.example.com/team/a/b/c", True),
    ("trailing ** matches none after the slash", "registry.example.com/team/**", "registry.example.com/team", True),
    (
        "trailing ** needs the whole prefix component",
        "registry.example.com/team/**",
        "registry.example.com/teams/a",
        False,
    ),
    ("trailing ** stays on its registry", "registry.example.com/team/**", "registry.example.org/team/app", False),
    (
        "a registry glob is not a prefix of a longer host",
        "registry.example.com/**",
        "registry.example.com.evil.io/a",
        False,
    ),
    ("middle ** matches none", "ghcr.io/org/**/app", "ghcr.io/org/app", True),
    ("middle ** matches several", "ghcr.io/org/**/app", "ghcr.io/org/x/y/app", True),
    ("middle ** needs the last component", "ghcr.io/org/**/app", "ghcr.io/org/x/web", False),
    ("leading ** matches any registry and path", "**/app", "quay.io/a/b/app", True),
    ("leading ** needs the last component", "**/app", "quay.io/a/b/web", False),
    ("a lone ** matches everything", "**", "quay.io/x/y:z", True),
    ("**/** matches everything too", "**/**", "quay.io/x/y:z", True),
    ("**/**/app matches like **/app", "**/**/app", "quay.io/a/app", True),
    ("a/**/**/b matches a/b", "reg.io/a/**/**/b", "reg.io/a/b", True),
    ("*/** matches any registry", "*/**", "localhost:5000/app", True),
    ("a wildcard registry matches a subdomain", "*.gcr.io/**", "us.gcr.io/proj/app", True),
    ("a wildcard registry does not match the bare domain", "*.gcr.io/**", "gcr.io/proj/app", False),
    ("a wildcard registry does not match another domain", "*.gcr.io/**", "gcr.io.evil.com/proj/app", False),
    ("a registry port must match", "localhost:5000/app", "localhost:5001/app", False),
    ("a registry without port does not match one with port", "localhost/app", "localhost:5000/app", False),
    ("a registry port matches", "localhost:5000/**", "localhost:5000/team/app:v1", True),
    ("a wildcard port matches any port", "localhost:*/**", "localhost:5000/app", True),
    ("a tag pattern matches the tag", "nginx:1.*", "nginx:1.27", True),
    ("a tag pattern rejects another tag", "nginx:1.*", "nginx:2.0", False),
    ("a tag pattern rejects the implicit latest", "nginx:1.*", "nginx", False),
    ("an exact tag matches the implicit latest", "nginx:latest", "nginx", True),
    ("a tag pattern rejects a digest-only reference", "nginx:1.*", f"nginx@{D1}", False),
    ("a * tag pattern accepts a digest-only reference", "nginx:*", f"nginx@{D1}", True),
    # a digest reference runs its digest: its tag is cosmetic, chosen by whoever writes the pod spec
    ("a tag pattern never matches the cosmetic tag of tag@digest", "nginx:1.*", f"nginx:1.2@{D1}", False),
    (
        "an exact tag never matches the cosmetic tag of tag@digest",
        "reg.io/infra/tool:1.2",
        f"reg.io/infra/tool:1.2@{D1}",
        False,
    ),
    ("a dev-* tag pattern cannot be picked by writing that tag", "reg.io/app:dev-*", f"reg.io/app:dev-x@{D1}", False),
    ("a * tag pattern accepts tag@digest", "nginx:*", f"nginx:1.2@{D1}", True),
    ("a tag-less glob matches tag@digest", "reg.io/app", f"reg.io/app:t@{D1}", True),
    ("a tag-less ** glob matches tag@digest", "reg.io/app/**", f"reg.io/app:t@{D1}", True),
    ("a tag-less ** glob matches a sub-repository's tag@digest", "reg.io/app/**", f"reg.io/app/x:t@{D1}", True),
    ("a glob without tag matches a digest-only reference", "ghcr.io/org/*", f"ghcr.io/org/app@{D1}", True),
    ("a digest glob matches that digest", f"ghcr.io/org/app@{D1}", f"ghcr.io/org/app@{D1}", True),
    ("a digest glob matches that digest with a tag", f"ghcr.io/org/app@{D1}", f"ghcr.io/org/app:1@{D1}", True),
    ("a digest glob rejects another digest", f"ghcr.io/org/app@{D1}", f"ghcr.io/org/app@{D2}", False),
    ("a digest glob rejects a tag-only reference", f"ghcr.io/org/app@{D1}", "ghcr.io/org/app:1", False),
    ("docker.io/** matches official images", "docker.io/**", "nginx", True),
    ("docker.io/** does not match other registries", "docker.io/**", "quay.io/nginx/nginx", False),
    ("a single * matches official images only", "*", "redis", True),
    ("a single * does not match user repositories", "*", "bitnami/redis", False),
]


@pytest.mark.parametrize(("case", "glob", "image", "expected"), MATCHING, ids=[c[0] for c in MATCHING])
def test_image_glob_matching(case: str, glob: str, image: str, expected: bool) -> None:
    assert ImageGlob.parse(glob).matches(Reference.parse(image)) is expected


# (case, glob, a fragment of the reason)
INVALID = [
    ("an empty glob", "", "empty image glob"),
    ("a scheme", "https://registry.example.com/app", "no scheme"),
    ("upper case in a repository", "registry.example.com/Team/app", "lower case"),
    ("a double slash", "registry.example.com//app", "empty path component"),
    ("a trailing slash", "registry.example.com/app/", "empty path component"),
    ("** inside a component", "registry.example.com/team**", "whole path component"),
    ("** inside a registry", "**.example.com/app", "whole path component"),
    ("both a tag pattern and a digest", f"ghcr.io/org/app:1@{D1}", "not both"),
    ("a bad digest", "ghcr.io/org/app@sha256:abc", "sha256 needs 64"),
    ("an empty digest", "ghcr.io/org/app@", "empty digest"),
    ("an empty tag pattern", "ghcr.io/org/app:", "empty tag pattern"),
    ("a bad character in a tag pattern", "ghcr.io/org/app:v1+x", "invalid tag pattern"),
    ("a bad character in a repository", "ghcr.io/org/a$p", "invalid repository component"),
    ("a bad character in a registry", "ghcr.io_x:/app", "invalid"),
    ("a glob that is too long", "ghcr.io/" + "a" * 600, "longer than 512"),
]


@pytest.mark.parametrize(("case", "glob", "reason"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_image_globs_are_rejected_with_a_reason(case: str, glob: str, reason: str) -> None:
    with pytest.raises(ValueError, match=re.escape(reason)):
        ImageGlob.parse(glob)


# (case, glob, host, can an image there match?)
REGISTRIES = [
    ("the named registry", "registry.example.com/team/**", "registry.example.com", True),
    ("another registry", "registry.example.com/team/**", "registry.example.org", False),
    ("docker hub by its api host", "nginx", "registry-1.docker.io", True),
    ("docker hub by its canonical name", "nginx", "docker.io", True),
    ("a registry with a port, that port", "localhost:5000/app", "localhost:5000", True),
    ("a registry with a port, another port", "localhost:5000/app", "localhost:5001", False),
    ("a wildcard registry, a subdomain", "*.gcr.io/**", "eu.gcr.io", True),
    ("a wildcard registry, not a look-alike", "*.gcr.io/**", "gcr.io.evil.com", False),
    ("a lone ** reaches any registry", "**", "127.0.0.1:9", True),
    ("*/** reaches any registry", "*/**", "127.0.0.1:9", True),
]


@pytest.mark.parametrize(("case", "glob", "host", "expected"), REGISTRIES, ids=[c[0] for c in REGISTRIES])
def test_registry_part_of_a_glob(case: str, glob: str, host: str, expected: bool) -> None:
    assert ImageGlob.parse(glob).matches_registry(host) is expected


@pytest.mark.parametrize(
    ("glob", "every"),
    [
        ("**", True),
        ("**/**", True),
        ("*/**", True),
        ("*:*/app", True),
        ("**/app", True),
        ("*:5000/**", True),
        ("*.*.*.*:443/**", True),
        ("[*]:5000/**", True),
        ("*.gcr.io/**", False),
        ("*.gcr.io:443/**", False),
        ("localhost:*/**", False),
        ("127.0.0.*:5000/**", False),
        ("nginx", False),
    ],
)
def test_globs_that_match_every_registry_are_flagged(glob: str, every: bool) -> None:
    assert ImageGlob.parse(glob).matches_every_registry is every


NAMESPACES = [
    ("an exact name matches", "kube-system", "kube-system", True),
    ("an exact name does not match another", "kube-system", "kube-public", False),
    ("a prefix glob matches", "team-*", "team-a", True),
    ("a prefix glob does not match the bare prefix without dash", "team-*", "team", False),
    ("? matches one character", "ns?", "ns1", True),
    ("* alone matches every namespace", "*", "default", True),
]


@pytest.mark.parametrize(("case", "glob", "name", "expected"), NAMESPACES, ids=[c[0] for c in NAMESPACES])
def test_namespace_globs(case: str, glob: str, name: str, expected: bool) -> None:
    assert NamespaceGlob.parse(glob).matches(name) is expected


@pytest.mark.parametrize("glob", ["", "Kube-System", "team/a", "a b", "x" * 254])
def test_invalid_namespace_globs_are_rejected(glob: str) -> None:
    with pytest.raises(ValueError, match="namespace pattern"):
        NamespaceGlob.parse(glob)
