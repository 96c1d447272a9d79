"""Reference parsing: a table of valid references and their normal form, and of invalid ones."""

from __future__ import annotations

import pytest

from verifier.errors import InvalidReferenceError
from verifier.oci import Digest, Reference

H256 = "a" * 64
H512 = "b" * 128

# (case, text, registry, repository, tag, digest, canonical str)
VALID = [
    (
        "a docker hub short name gets library/ and latest",
        "nginx",
        "docker.io",
        "library/nginx",
        "latest",
        None,
        "docker.io/library/nginx:latest",
    ),
    (
        "a docker hub short name keeps its tag",
        "nginx:1.27",
        "docker.io",
        "library/nginx",
        "1.27",
        None,
        "docker.io/library/nginx:1.27",
    ),
    (
        "a docker hub user repository gets no library/",
        "bitnami/redis",
        "docker.io",
        "bitnami/redis",
        "latest",
        None,
        "docker.io/bitnami/redis:latest",
    ),
    (
        "index.docker.io is docker hub",
        "index.docker.io/nginx",
        "docker.io",
        "library/nginx",
        "latest",
        None,
        "docker.io/library/nginx:latest",
    ),
    (
        "registry-1.docker.io is docker hub",
        "registry-1.docker.io/library/nginx:1",
        "docker.io",
        "library/nginx",
        "1",
        None,
        "docker.io/library/nginx:1",
    ),
    (
        "docker.io explicitly is docker hub",
        "docker.io/library/nginx",
        "docker.io",
        "library/nginx",
        "latest",
        None,
        "docker.io/library/nginx:latest",
    ),
    (
        "a registry with a port",
        "localhost:5000/app:v1",
        "localhost:5000",
        "app",
        "v1",
        None,
        "localhost:5000/app:v1",
    ),
    (
        "localhost without a port is a registry",
        "localhost/app",
        "localhost",
        "app",
        "latest",
        None,
        "localhost/app:latest",
    ),
    (
        "an IPv4 registry with a port",
        "127.0.0.1:5000/team/app:1.0",
        "127.0.0.1:5000",
        "team/app",
        "1.0",
        None,
        "127.0.0.1:5000/team/app:1.0",
    ),
    (
        "an IPv6 registry with a port",
        "[::1]:5000/app",
        "[::1]:5000",
        "app",
        "latest",
        None,
        "[::1]:5000/app:latest",
    ),
    (
        "nested repositories",
        "ghcr.io/org/team/sub/app:2",
        "ghcr.io",
        "org/team/sub/app",
        "2",
        None,
        "ghcr.io/org/team/sub/app:2",
    ),
    (
        "a digest alone gets no default tag",
        f"ghcr.io/org/app@sha256:{H256}",
        "ghcr.io",
        "org/app",
        None,
        f"sha256:{H256}",
        f"ghcr.io/org/app@sha256:{H256}",
    ),
    (
        "tag and digest together are both kept",
        f"ghcr.io/org/app:1.0@sha256:{H256}",
        "ghcr.io",
        "org/app",
        "1.0",
        f"sha256:{H256}",
        f"ghcr.io/org/app:1.0@sha256:{H256}",
    ),
    (
        "a sha512 digest",
        f"quay.io/x/y@sha512:{H512}",
        "quay.io",
        "x/y",
        None,
        f"sha512:{H512}",
        f"quay.io/x/y@sha512:{H512}",
    ),
    (
        "separators inside path components",
        "reg.example:443/a.b/c__d/e---f:T_1.x-2",
        "reg.example:443",
        "a.b/c__d/e---f",
        "T_1.x-2",
        None,
        "reg.example:443/a.b/c__d/e---f:T_1.x-2",
    ),
    (
        "the registry host is lowercased",
        "GHCR.IO/org/app",
        "ghcr.io",
        "org/app",
        "latest",
        None,
        "ghcr.io/org/app:latest",
    ),
    (
        "a 128-character tag is the maximum",
        "app:" + "t" * 128,
        "docker.io",
        "library/app",
        "t" * 128,
        None,
        "docker.io/library/app:" + "t" * 128,
    ),
]


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest", "canonical"),
    [pytest.param(*case[1:], id=case[0]) for case in VALID],
)
def test_valid_references_normalise(
    text: str, registry: str, repository: str, tag: str | None, digest: str | None, canonical: str
) -> None:
    ref = Reference.parse(text)
    assert (ref.registry, ref.repository, ref.tag) == (registry, repository, tag)
    assert (str(ref.digest) if ref.digest else None) == digest
    assert str(ref) == canonical
    assert Reference.parse(str(ref)) == ref


INVALID = [
    ("an empty string", "", "empty reference"),
    ("a leading space", " nginx", "whitespace"),
    ("a space inside", "ngi nx", "whitespace"),
    ("a scheme prefix", "https://ghcr.io/org/app", "scheme prefix"),
    ("an uppercase repository", "ghcr.io/Org/app", "must be lowercase"),
    ("an uppercase short name", "Nginx", "must be lowercase"),
    ("a tag with a bad character", "app:v1+2", "tag may only contain"),
    ("a tag starting with a dot", "app:.v1", "tag may only contain"),
    ("a tag over 128 characters", "app:" + "t" * 129, "tag longer than 128"),
    ("an empty tag", "app:", "empty tag"),
    ("an unsupported digest algorithm", f"app@md5:{H256}", "unsupported algorithm"),
    ("a short sha256 digest", "app@sha256:abc", "needs 64 hex"),
    ("an uppercase digest", f"app@sha256:{H256.upper()}", "lowercase"),
    ("an empty digest", "app@", "empty digest"),
    ("two digests", f"app@sha256:{H256}@sha256:{H256}", "more than one '@'"),
    ("a double slash", "ghcr.io/org//app", "empty repository path component"),
    ("a trailing slash", "ghcr.io/org/", "empty repository path component"),
    ("a path component ending in a separator", "ghcr.io/org/app-", "invalid repository path component"),
    ("a port out of range", "reg.example:99999/app", "invalid registry port"),
    ("a non-numeric port", "localhost:abc/app", "invalid registry port"),
    ("a registry host with an underscore", "reg_x.example/app", "invalid registry host"),
    ("a bare image id", H256, "image id"),
    ("a name over 255 characters", "a" * 256, "longer than 255"),
    ("non-ASCII characters", "ghcr.io/org/äpp", "non-ASCII"),
    ("an empty name before the tag", ":1.0", "empty repository name"),
]


@pytest.mark.parametrize(("text", "fragment"), [pytest.param(*case[1:], id=case[0]) for case in INVALID])
def test_invalid_references_say_why(text: str, fragment: str) -> None:
    with pytest.raises(InvalidReferenceError) as caught:
        Reference.parse(text)
    assert fragment in str(caught.value)
    assert str(caught.value).startswith("invalid image reference")


@pytest.mark.parametrize(
    ("text", "identity", "api_host"),
    [
        pytest.param("nginx", "index.docker.io/library/nginx", "registry-1.docker.io", id="docker hub official"),
        pytest.param(
            "index.docker.io/me/app:1", "index.docker.io/me/app", "registry-1.docker.io", id="docker hub user"
        ),
        pytest.param("ghcr.io/org/app:1", "ghcr.io/org/app", "ghcr.io", id="ghcr keeps its name"),
        pytest.param("localhost:5000/app", "localhost:5000/app", "localhost:5000", id="a local registry with port"),
    ],
)
def test_cosign_identity_and_api_host(text: str, identity: str, api_host: str) -> None:
    ref = Reference.parse(text)
    assert ref.cosign_identity == identity
    assert ref.api_host == api_host
    assert ref.tag is not None and ref.tag not in ref.cosign_identity.split("/")[-1]


def test_with_digest_keeps_the_tag_and_with_tag_drops_the_digest() -> None:
    ref = Reference.parse("ghcr.io/org/app:1.0")
    digest = Digest.parse(f"sha256:{H256}")
    pinned = ref.with_digest(digest)
    assert str(pinned) == f"ghcr.io/org/app:1.0@sha256:{H256}"
    assert pinned.identifier == f"sha256:{H256}"
    sig = pinned.with_tag(f"{digest.tag_form}.sig")
    assert sig.digest is None
    assert str(sig) == f"ghcr.io/org/app:sha256-{H256}.sig"


def test_with_tag_allows_cosign_sha512_tags_beyond_128_characters() -> None:
    digest = Digest.parse(f"sha512:{H512}")
    tag = f"{digest.tag_form}.sig"
    assert len(tag) == 139
    assert Reference.parse("ghcr.io/org/app").with_tag(tag).tag == tag


def test_with_tag_rejects_bad_characters() -> None:
    with pytest.raises(InvalidReferenceError, match="tag may only contain"):
        Reference.parse("ghcr.io/org/app").with_tag("bad tag")


def test_identifier_needs_a_tag_or_a_digest() -> None:
    with pytest.raises(InvalidReferenceError, match="neither a tag nor a digest"):
        _ = Reference("ghcr.io", "org/app").identifier


@pytest.mark.parametrize(
    ("text", "other", "same"),
    [
        pytest.param("nginx", "docker.io/library/nginx", True, id="short name equals the full docker hub name"),
        pytest.param("nginx", "index.docker.io/library/nginx", True, id="cosign's docker hub alias matches"),
        pytest.param("nginx:1", "nginx", True, id="tags do not matter"),
        pytest.param("ghcr.io/org/app", "ghcr.io/org/app2", False, id="another repository differs"),
        pytest.param("ghcr.io/org/app", "quay.io/org/app", False, id="another registry differs"),
        pytest.param("ghcr.io/org/app", "not a name", False, id="an unparsable name is not the same"),
    ],
)
def test_same_repository(text: str, other: str, same: bool) -> None:
    assert Reference.parse(text).same_repository(other) is same


def test_name_is_registry_and_repository() -> None:
    assert Reference.parse("nginx@sha256:" + H256).name == "docker.io/library/nginx"
