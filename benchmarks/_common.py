"""Set-up the benchmarks share: signed images on a loopback registry, a policy, TLS, `sealgate serve`.

with tempfile.TemporaryDirectory() as tmp, LocalRegistry() as registry:
    keys = make_key(Path(tmp))
    images = push_signed(Path(tmp), registry, keys, count=3)
    server = start_server(Path(tmp), write_policy(Path(tmp), registry, keys))
    ...
    server.stop()
"""

from __future__ import annotations

import os
import ssl
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tools.localregistry import LocalRegistry  # noqa: E402
from tools.testimages import build_image, push_image  # noqa: E402
from tools.webhookserver import (  # noqa: E402
    RunningWebhook,
    start_webhook,
    webhook_certs,
)
from verifier.cli import main as sealgate  # noqa: E402

PASSWORD = "bench"


def make_key(tmp: Path) -> Path:
    """A cosign key pair ``tmp/ci.key`` + ``tmp/ci.pub``; returns the private key path."""
    os.environ["COSIGN_PASSWORD"] = PASSWORD
    if not (tmp / "ci.key").exists():
        sealgate(["keygen", "--output-key-prefix", str(tmp / "ci")])
    return tmp / "ci.key"


def push_image_named(tmp: Path, registry: LocalRegistry, repo: str, tag: str = "v1") -> str:
    """Push a small distinct image; returns its ``host/repo@digest``."""
    name = repo.replace("/", "_")
    layout = build_image(tmp / name, name=name, files={"n.txt": f"{repo} {os.urandom(8).hex()}".encode()})
    digest = push_image(layout, registry, repo, tag)
    return f"{registry.host}/{repo}@{digest}"


def sign(key: Path, image: str) -> None:
    os.environ["COSIGN_PASSWORD"] = PASSWORD
    if sealgate(["sign", "--key", str(key), image]) not in (0, None):
        raise SystemExit(f"signing {image} failed")


def push_signed(tmp: Path, registry: LocalRegistry, key: Path, count: int, prefix: str = "bench/app") -> list[str]:
    """``count`` distinct signed images, by digest."""
    images = []
    for n in range(count):
        image = push_image_named(tmp, registry, f"{prefix}{n}")
        sign(key, image)
        images.append(image)
    return images


def write_policy(tmp: Path, registry: LocalRegistry, key: Path, settings: str = "") -> Path:
    """A policy folder: every image under ``<registry>/bench/**`` must be signed by ``key``'s pair."""
    folder = tmp / "policies"
    folder.mkdir(exist_ok=True)
    (folder / "ci.pub").write_bytes(key.with_suffix(".pub").read_bytes())
    text = (
        "apiVersion: sealgate.dev/v1alpha1\nkind: ImagePolicy\nmetadata: {name: bench}\n"
        f'spec:\n  images: ["{registry.host}/bench/**"]\n'
        "  authorities: [{name: ci, key: {path: ci.pub}}]\n"
    )
    if settings:
        text += "---\napiVersion: sealgate.dev/v1alpha1\nkind: Settings\nspec:\n" + settings
    (folder / "bench.yaml").write_text(text)
    return folder


def start_server(tmp: Path, policies: Path, extra: list[str] | None = None) -> RunningWebhook:
    """``sealgate serve`` with TLS on a free loopback port, ready to answer (see tools.webhookserver)."""
    return start_webhook(tmp / "server", policies, extra_args=extra or ())


def make_certs(tmp: Path) -> tuple[list[str], ssl.SSLContext]:
    """The server's certificate arguments and a client context trusting its CA (for a second server)."""
    return webhook_certs(tmp / "server" / "certs")
