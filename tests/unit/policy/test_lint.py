"""``policy check`` warnings: globs that reach any host, tag globs against digest references, authorities that can
never be told apart, an issuer pattern that accepts any issuer. Each case is a policy and the warning it earns."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.unit.policy.conftest import new_public_pem, policy_doc, settings_doc
from tests.unit.policy.test_cli_policy import run
from verifier.policy import compile_documents

WriteYaml = Callable[..., Path]
ISSUER = "https://token.actions.githubusercontent.com"
PEM = new_public_pem()


def _warnings(*docs: dict[str, Any]) -> list[str]:
    return list(compile_documents([("p.yaml", i + 1, d) for i, d in enumerate(docs)]).warnings)


def _keyless(name: str, identity: str, **issuer: str) -> dict[str, Any]:
    return {"name": name, "keyless": {"identity": identity, **(issuer or {"issuer": ISSUER})}}


@pytest.mark.parametrize(
    ("glob", "fragment"),
    [
        pytest.param("**", "'**' matches every registry,", id="any registry"),
        pytest.param("**/**", "'**/**' matches every registry,", id="**/** is ** (it matches, it is not empty)"),
        pytest.param("*:5000/**", "'*:5000/**' matches every registry host on port 5000,", id="any host on a port"),
        pytest.param("*.*.*.*:443/**", "matches every registry host on port 443,", id="any dotted host on a port"),
    ],
)
def test_globs_that_reach_any_host_are_flagged(glob: str, fragment: str) -> None:
    (warning,) = _warnings(policy_doc(images=[glob]))
    assert "spec.images[0]" in warning and fragment in warning


@pytest.mark.parametrize(
    ("glob", "fragment"),
    [
        pytest.param("reg.io/-app", "no image reference has a repository component '-app'", id="leading dash"),
        pytest.param("reg.io/team/a..b/**", "repository component 'a..b'", id="double dot"),
        pytest.param("reg.io/app:.*", "no image tag starts with '.'", id="tag starting with a dot"),
        pytest.param("reg.io/app:-x", "no image tag starts with '-'", id="tag starting with a dash"),
    ],
)
def test_globs_that_can_match_nothing_are_flagged(glob: str, fragment: str) -> None:
    warnings = _warnings(policy_doc(images=[glob]))
    assert any("can match no image" in w and fragment in w for w in warnings), warnings


@pytest.mark.parametrize(
    "glob",
    ["registry.example.com/team/**", "*.gcr.io/**", "127.0.0.1:5000/**", "reg.io/a:*", "reg.io/a_b/c-d/e.f", "nginx"],
)
def test_globs_pinned_to_a_host_are_not_flagged(glob: str) -> None:
    assert _warnings(policy_doc(images=[glob])) == []


def test_a_tag_glob_says_digest_references_never_match_it() -> None:
    (warning,) = _warnings(policy_doc(images=["reg.io/app:dev-*"], mode="warn"))
    assert "spec.images[0]: 'reg.io/app:dev-*' names a tag: references with a digest" in warning


def test_a_tag_glob_under_require_digest_can_only_deny() -> None:
    (warning,) = _warnings(policy_doc(images=["reg.io/app:1.*"], requireDigest=True))
    assert "every image it selects is denied" in warning


def test_an_exemption_by_tag_is_flagged_and_one_by_digest_is_not() -> None:
    settings = settings_doc(exemptions={"images": ["reg.io/infra/tool:1.2", "reg.io/infra/x@sha256:" + "a" * 64]})
    (warning,) = _warnings(policy_doc(), settings)
    assert "spec.exemptions.images[0]: 'reg.io/infra/tool:1.2' names a tag: it exempts only references" in warning


@pytest.mark.parametrize(
    ("authorities", "fragment"),
    [
        pytest.param(
            [{"name": "a", "key": {"data": PEM}}, {"name": "b", "key": {"data": PEM}}],
            "spec.authorities[1] ('b') has the same key as spec.authorities[0] ('a')",
            id="two authorities with one key",
        ),
        pytest.param(
            [_keyless("a", "x@example.com"), _keyless("b", "x@example.com")],
            "spec.authorities[1] ('b') has the same keyless identity, issuer and trusted root as spec.authorities[0]",
            id="two keyless authorities with one identity and issuer",
        ),
        pytest.param(
            [_keyless("a", "x@example.com", issuerRegExp=".*")],
            "spec.authorities[0].keyless.issuerRegExp: '.*' accepts any OIDC issuer",
            id="an issuer pattern that accepts any issuer",
        ),
    ],
)
def test_authorities_that_cannot_be_told_apart_are_flagged(authorities: list[dict[str, Any]], fragment: str) -> None:
    warnings = _warnings(policy_doc(authorities=authorities))
    assert any(fragment in w for w in warnings), warnings


@pytest.mark.parametrize(
    "authorities",
    [
        pytest.param(
            [{"name": "a", "key": {"data": PEM}}, {"name": "b", "key": {"data": new_public_pem()}}], id="keys"
        ),
        pytest.param([_keyless("a", "x@example.com"), _keyless("b", "y@example.com")], id="identities"),
        pytest.param([_keyless("a", "x@example.com"), _keyless("b", "x@example.com", issuer="https://i")], id="issuer"),
        pytest.param([_keyless("a", "x@example.com", issuerRegExp=r"https://(a|b)\.example")], id="issuer regexp"),
    ],
)
def test_authorities_that_differ_are_not_flagged(authorities: list[dict[str, Any]]) -> None:
    assert _warnings(policy_doc(authorities=authorities, threshold=len(authorities))) == []


def test_policy_check_prints_the_new_warnings(write_yaml: WriteYaml, capsys: pytest.CaptureFixture[str]) -> None:
    doc = policy_doc(
        images=["*:5000/**"], authorities=[{"name": "a", "key": {"data": PEM}}, {"name": "b", "key": {"data": PEM}}]
    )
    write_yaml("p.yaml", doc)
    assert run("policy", "check", "p.yaml") == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and all(line.startswith("warning: p.yaml: document 1") for line in err)
    assert "every registry host on port 5000" in err[0] and "has the same key" in err[1]
