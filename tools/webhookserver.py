"""Run `sealgate serve` as its own process over TLS on a free loopback port, for tests, the demo and benchmarks.

with start_webhook(workdir, policy_dir) as hook:
    httpx.post(f"{hook.url}/validate", json=review, verify=hook.ca)
"""

from __future__ import annotations

import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO

import httpx

from tools.localregistry import ToolError
from webhook.certs import write_bundle

__all__ = ["RunningWebhook", "free_port", "start_webhook", "wait_ready", "webhook_certs"]

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A loopback TCP port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def webhook_certs(folder: Path) -> tuple[list[str], ssl.SSLContext]:
    """``--tls-cert/--tls-key`` arguments for a loopback server, and a client context trusting its CA."""
    if not (folder / "ca.crt").exists():
        write_bundle(folder, service="sealgate", namespace="sealgate", ip_addresses=["127.0.0.1"])
    ca = ssl.create_default_context(cafile=str(folder / "ca.crt"))
    return ["--tls-cert", str(folder / "tls.crt"), "--tls-key", str(folder / "tls.key")], ca


@dataclass
class RunningWebhook:
    process: subprocess.Popen[bytes]
    port: int
    ca: ssl.SSLContext
    log: Path
    _log_file: IO[bytes]

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
        self._log_file.close()

    def __enter__(self) -> RunningWebhook:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()


def start_webhook(
    workdir: Path,
    policies: Path,
    *,
    certs: Path | None = None,
    extra_args: Sequence[str] = (),
    timeout: float = 30,
) -> RunningWebhook:
    """``python -m verifier.cli serve``, ready (``/readyz`` 200) on return.

    TLS material comes from ``certs`` (``ca.crt``, ``tls.crt``, ``tls.key``, as ``sealgate certs`` writes them),
    made in ``workdir/certs`` when not given.

    The server's output goes to ``workdir/serve.log``; a server that exits or never gets ready raises
    :class:`~tools.localregistry.ToolError` with the end of that log.
    """
    # the server runs in the repository: every path it is given must not depend on the caller's directory
    workdir, policies = workdir.resolve(), policies.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    tls, ca = webhook_certs((certs or workdir / "certs").resolve())
    port = free_port()
    log = workdir / "serve.log"
    log_file = log.open("wb")
    argv = [sys.executable, "-m", "verifier.cli", "serve", "--policy", str(policies), *tls]
    argv += ["--host", "127.0.0.1", "--port", str(port), *extra_args]
    process = subprocess.Popen(argv, stdout=log_file, stderr=subprocess.STDOUT, cwd=ROOT)
    hook = RunningWebhook(process, port, ca, log, log_file)
    try:
        wait_ready(f"{hook.url}/readyz", ca, process, timeout=timeout)
    except ToolError as exc:
        hook.stop()
        raise ToolError(f"{exc}: {log.read_text()[-2000:]}") from None
    return hook


def wait_ready(url: str, ca: ssl.SSLContext, process: subprocess.Popen[bytes], *, timeout: float = 30) -> None:
    """Poll ``url`` until it answers 200; ToolError if ``process`` exits first or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    with httpx.Client(verify=ca, timeout=2) as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise ToolError(f"server exited with {process.returncode}")
            try:
                if http.get(url).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
    raise ToolError(f"server at {url} was not ready within {timeout:g} s")
