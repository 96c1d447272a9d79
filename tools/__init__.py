"""Test and demo tooling: real loopback registries, a token server and small OCI test images.

Used by the integration tests and by ``make run``; it must never import pytest.

    from tools import LocalRegistry, build_image, push_image

    with LocalRegistry(auth="token") as registry:
        layout = build_image(workdir, name="app", files={"hello.txt": b"hi"})
        digest = push_image(layout, registry, "demo/app", "v1")
        print(f"{registry.host}/demo/app@{digest}")
"""

from __future__ import annotations

from .localregistry import AuthMode, LocalRegistry, ToolError
from .testimages import (
    INDEX_MEDIA_TYPE,
    MANIFEST_MEDIA_TYPE,
    Platform,
    PushedIndex,
    build_image,
    build_index,
    layout_digest,
    push_image,
    push_index,
)
from .tokenserver import ALL_ACTIONS, TokenServer, decode_jwt_claims

__all__ = [
    "ALL_ACTIONS",
    "INDEX_MEDIA_TYPE",
    "MANIFEST_MEDIA_TYPE",
    "AuthMode",
    "LocalRegistry",
    "Platform",
    "PushedIndex",
    "TokenServer",
    "ToolError",
    "build_image",
    "build_index",
    "decode_jwt_claims",
    "layout_digest",
    "push_image",
    "push_index",
]
