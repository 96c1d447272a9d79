"""A real distribution registry (Debian's ``docker-registry``) on a loopback port, for tests and the demo.

    with LocalRegistry() as reg:                      # anonymous
        print(reg.url)                                # http://127.0.0.1:PORT
    with LocalRegistry(auth="htpasswd") as reg:       # basic auth with reg.username / reg.password
        ...
    with LocalRegistry(auth="token") as reg:          # Bearer token auth via reg.token_server
        ...

Each instance writes its own config (never the packaged /etc/docker/registry/config.yml), keeps its
storage in a temporary directory, runs the registry in its own process group and removes everything on
:meth:`LocalRegistry.stop` (also called at interpreter exit for instances still running).
"""

from __future__ import annotations

import atexit
import contextlib
import http.client
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Literal

from .tokenserver import TokenServer

__all__ = ["AuthMode", "LocalRegistry", "ToolError"]

_logger = logging.getLogger(__name__)

AuthMode = Literal["htpasswd", "token"]

_START_ATTEMPTS = 5
_LOG_TAIL = 2000


class ToolError(RuntimeError):
    """A test tool (registry, token server, image builder, skopeo) could not do its job."""


_live: set[LocalRegistry] = set()
_live_lock = threading.Lock()


@atexit.register
def _stop_all() -> None:
    with _live_lock:
        running = list(_live)
    for registry in running:
        registry.stop()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _binary() -> str:
    path = shutil.which("docker-registry")
    if path is None:
        raise ToolError("docker-registry not found on PATH (apt-get install docker-registry)")
    return path


class LocalRegistry:
    """One ``docker-registry serve`` process on ``127.0.0.1:<free port>``.

    ``auth`` is None (anonymous), ``"htpasswd"`` (basic auth, bcrypt htpasswd file) or ``"token"``
    (distribution token auth against a :class:`~tools.tokenserver.TokenServer` started alongside).
    Both auth modes also know the user :attr:`reader` (password :attr:`reader_password`); in token mode
    the reader only ever gets pull access (htpasswd has no per-user rights, so there it can push too).
    """

    def __init__(
        self,
        *,
        auth: AuthMode | None = None,
        username: str = "sealgate",
        password: str | None = None,
        startup_timeout: float = 10.0,
    ) -> None:
        if auth not in (None, "htpasswd", "token"):
            raise ToolError(f"unknown registry auth mode {auth!r}")
        self.auth: AuthMode | None = auth
        self._username = username
        # hex: a generated password never starts with '-', which a command line would take for an option
        self._password = password or secrets.token_hex(12)
        self.reader = "reader"
        self.reader_password = secrets.token_hex(12)
        self.startup_timeout = startup_timeout
        self.token_server: TokenServer | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._tmp: Path | None = None
        self._port: int | None = None
        self._log: Path | None = None
        self._auth_config: dict[str, object] | None = None

    # -- facts -----------------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise ToolError("registry is not running")
        return self._port

    @property
    def pid(self) -> int | None:
        """Process id (and process group id) of the running registry, None when stopped."""
        return None if self._proc is None else self._proc.pid

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``: the registry part of image references."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    @property
    def username(self) -> str | None:
        return None if self.auth is None else self._username

    @property
    def password(self) -> str | None:
        return None if self.auth is None else self._password

    @property
    def creds(self) -> tuple[str, str] | None:
        """``(username, password)`` with push rights, or None for an anonymous registry."""
        return None if self.auth is None else (self._username, self._password)

    @property
    def root(self) -> Path:
        """The registry's storage root directory (for tests that look at or damage what was stored)."""
        if self._tmp is None:
            raise ToolError("registry is not running")
        return self._tmp / "data"

    def log_tail(self, limit: int = _LOG_TAIL) -> str:
        """The last ``limit`` characters the registry process wrote."""
        if self._log is None or not self._log.exists():
            return ""
        return self._log.read_text(errors="replace")[-limit:]

    # -- lifecycle -------------------------------------------------------------------------------------

    def start(self) -> LocalRegistry:
        if self._proc is not None:
            return self
        binary = _binary()
        self._tmp = Path(tempfile.mkdtemp(prefix="sealgate-registry-"))
        try:
            auth_config = self._auth_config = self._prepare_auth(self._tmp)
            last = ""
            for attempt in range(1, _START_ATTEMPTS + 1):
                port = _free_port()
                if self._launch(binary, port, auth_config):
                    self._port = port
                    with _live_lock:
                        _live.add(self)
                    _logger.debug("registry up at 127.0.0.1:%d (auth=%s)", port, self.auth)
                    return self
                last = self.log_tail()
                _logger.debug("registry start attempt %d on port %d failed: %s", attempt, port, last)
                if "address already in use" not in last:
                    break
            raise ToolError(f"docker-registry did not start: {last.strip() or 'no output'}")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        with _live_lock:
            _live.discard(self)
        self._terminate()
        if self.token_server is not None:
            self.token_server.stop()
            self.token_server = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
        self._port = None
        self._log = None

    def pause(self) -> None:
        """Stop the registry process but keep its storage, port and auth: an outage; :meth:`resume` ends it."""
        if self._port is None:
            raise ToolError("registry is not running")
        self._terminate()

    def resume(self) -> None:
        """Start the registry again after :meth:`pause`, on the same port with the same storage."""
        if self._tmp is None or self._port is None:
            raise ToolError("registry was never started (or was stopped)")
        if self._proc is not None:
            return
        if not self._launch(_binary(), self._port, self._auth_config):
            raise ToolError(f"docker-registry did not restart on 127.0.0.1:{self._port}: {self.log_tail().strip()}")

    def restart(self, down_for: float = 0.0) -> None:
        """:meth:`pause`, wait ``down_for`` seconds, :meth:`resume`."""
        self.pause()
        time.sleep(down_for)
        self.resume()

    def __enter__(self) -> LocalRegistry:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- internals -------------------------------------------------------------------------------------

    def _prepare_auth(self, tmp: Path) -> dict[str, object] | None:
        if self.auth == "htpasswd":
            htpasswd = tmp / "htpasswd"
            lines = [_htpasswd_line(self._username, self._password)]
            lines.append(_htpasswd_line(self.reader, self.reader_password))
            htpasswd.write_text("".join(lines))
            return {"htpasswd": {"realm": "sealgate-test-registry", "path": str(htpasswd)}}
        if self.auth == "token":
            server = TokenServer(
                {self._username: self._password, self.reader: self.reader_password},
                permissions={self.reader: {"pull"}},
            ).start()
            self.token_server = server
            bundle = tmp / "token-root.pem"
            bundle.write_bytes(server.cert_pem)
            return {
                "token": {
                    "realm": server.realm,
                    "service": server.service,
                    "issuer": server.issuer,
                    "rootcertbundle": str(bundle),
                }
            }
        return None

    def _launch(self, binary: str, port: int, auth_config: dict[str, object] | None) -> bool:
        """Start the process on ``port``; True once ``GET /v2/`` answers, False if it exited early."""
        assert self._tmp is not None  # noqa: S101 - set by start()
        config: dict[str, object] = {
            "version": "0.1",
            "log": {"level": "warn", "accesslog": {"disabled": True}},
            "storage": {
                "filesystem": {"rootdirectory": str(self._tmp / "data")},
                "delete": {"enabled": True},
                "maintenance": {"uploadpurging": {"enabled": False}},
            },
            "http": {"addr": f"127.0.0.1:{port}", "secret": secrets.token_hex(16)},
        }
        if auth_config is not None:
            config["auth"] = auth_config
        # JSON is valid YAML, and saves a YAML dependency.
        config_path = self._tmp / "config.yml"
        config_path.write_text(json.dumps(config, indent=2))
        self._log = self._tmp / "registry.log"
        with self._log.open("wb") as log:
            self._proc = subprocess.Popen(
                [binary, "serve", str(config_path)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self._tmp,
                start_new_session=True,
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self._tmp)},
            )
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self._proc = None
                return False
            if _answers(port):
                return True
            time.sleep(0.01)
        tail = self.log_tail()
        self._terminate()
        raise ToolError(
            f"docker-registry on 127.0.0.1:{port} did not answer GET /v2/ within "
            f"{self.startup_timeout:g}s: {tail.strip() or 'no output'}"
        )

    def _terminate(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        for sig, wait in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            try:
                proc.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue
        _logger.debug("registry process %d did not exit", proc.pid)


def _answers(port: int) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        conn.request("GET", "/v2/")
        return conn.getresponse().status in (200, 401)
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def _htpasswd_line(user: str, password: str) -> str:
    tool = shutil.which("htpasswd")
    if tool is None:
        raise ToolError("htpasswd not found on PATH (apt-get install apache2-utils)")
    # -i reads the password from stdin so it never shows in the process list.
    done = subprocess.run([tool, "-niB", user], input=password.encode(), capture_output=True, check=False, timeout=30)
    if done.returncode != 0:
        raise ToolError(f"htpasswd failed: {done.stderr.decode(errors='replace').strip()}")
    line = done.stdout.decode().strip()
    return line + "\n"
