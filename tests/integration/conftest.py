"""Real registries for integration tests: anonymous, htpasswd and token auth, plus pushed test images.

Every test that uses one of these fixtures is marked ``integration`` automatically.

    def test_something(registry, pushed_image):
        ref, digest = pushed_image(registry, repo="demo/app", tag="v1")   # "127.0.0.1:PORT/demo/app:v1"
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tools import LocalRegistry, build_image, push_image

REGISTRY_FIXTURES = frozenset({"registry", "auth_registry", "token_registry", "pushed_image"})

_image_counter = itertools.count(1)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that use a real registry are integration tests, whatever their module says."""
    for item in items:
        if REGISTRY_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def registry() -> Iterator[LocalRegistry]:
    """An anonymous registry (pull and push need no credentials)."""
    with LocalRegistry() as reg:
        yield reg


@pytest.fixture(scope="session")
def auth_registry() -> Iterator[LocalRegistry]:
    """A registry with htpasswd basic auth; credentials in ``.username``/``.password`` (``.creds``)."""
    with LocalRegistry(auth="htpasswd") as reg:
        yield reg


@pytest.fixture(scope="session")
def token_registry() -> Iterator[LocalRegistry]:
    """A registry with distribution token auth; its ``.token_server`` counts the tokens it issues."""
    with LocalRegistry(auth="token") as reg:
        yield reg


@pytest.fixture
def pushed_image(tmp_path: Path) -> Callable[..., tuple[str, str]]:
    """``pushed_image(registry, repo="demo/app", tag="v1") -> (ref, digest)``; each call a distinct image.

    ``ref`` is ``HOST/repo:tag``, ``digest`` the pushed manifest's ``sha256:...``. The registry's own
    credentials are used for the push.
    """

    def push(registry: LocalRegistry, repo: str = "demo/app", tag: str = "v1") -> tuple[str, str]:
        n = next(_image_counter)
        name = f"image-{n}"
        layout = build_image(
            tmp_path,
            name=name,
            files={
                "app/id.txt": f"sealgate test image {n} for {repo}:{tag}\n".encode(),
                "etc/os-release": b'ID=sealgate-test\nNAME="sealgate test image"\n',
            },
        )
        digest = push_image(layout, registry, repo, tag)
        return f"{registry.host}/{repo}:{tag}", digest

    return push
