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
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tools.localregistry import LocalRegistry  # noqa: E402
from tools.testimages import build_image, push_image  # noqa: E402
from verifier.cli import main as sealgate  # noqa: E402
from webhook.certs import write_bundle  # noqa: E402

PASSWORD = "bench"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    ca: ssl.SSLContext
    log: Path

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def peak_rss_mb(self) -> float:
        """The server's peak resident set (VmHWM), in MB."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


def make_certs(tmp: Path) -> tuple[list[str], ssl.SSLContext]:
    """``--tls-cert/--tls-key`` arguments for a loopback server and a client context trusting its CA."""
    certs = tmp / "certs"
    if not (certs / "ca.crt").exists():
        write_bundle(certs, service="sealgate", namespace="bench", ip_addresses=["127.0.0.1"])
    ca = ssl.create_default_context(cafile=str(certs / "ca.crt"))
    return ["--tls-cert", str(certs / "tls.crt"), "--tls-key", str(certs / "tls.key")], ca


def wait_ready(url: str, ca: ssl.SSLContext, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode}")
        try:
            if httpx.get(url, verify=ca, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit(f"server at {url} not ready")


def start_server(tmp: Path, policies: Path, extra: list[str] | None = None) -> Server:
    """``python -m verifier.cli serve`` with TLS on a free loopback port, ready to answer."""
    tls, ca = make_certs(tmp)
    port = free_port()
    log = tmp / "sealgate.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "verifier.cli",
                "serve",
                "--policy",
                str(policies),
                *tls,
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                *(extra or []),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    server = Server(process, port, ca, log)
    try:
        wait_ready(f"{server.url}/healthz", ca, process)
    except BaseException:
        server.stop()
        raise
    return server
