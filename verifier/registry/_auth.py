"""Registry credentials (docker ``config.json``, credential helpers, static) and auth challenges."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from verifier.errors import ConfigError

__all__ = [
    "Challenge",
    "CredentialStore",
    "Credentials",
    "DockerConfigCredentials",
    "StaticCredentials",
    "docker_config_path",
    "parse_challenges",
    "registry_key",
]

_logger = logging.getLogger(__name__)

#: the key docker and ggcr use for Docker Hub in config.json and for credential helpers
DOCKER_HUB_KEY = "https://index.docker.io/v1/"
_DOCKER_HUB_HOSTS = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
_HELPER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True, slots=True)
class Credentials:
    """What to authenticate with: username/password, or an OAuth2 refresh (identity) token.

    ``registry_token`` is a bearer token sent to the registry as is (docker's ``registrytoken``).
    Secrets are left out of ``repr``.
    """

    username: str | None = None
    password: str | None = field(default=None, repr=False)
    identity_token: str | None = field(default=None, repr=False)
    registry_token: str | None = field(default=None, repr=False)

    @property
    def has_basic(self) -> bool:
        return bool(self.username) and self.password is not None


@runtime_checkable
class CredentialStore(Protocol):
    """Anything that can answer "which credentials for this registry" (``docker.io``, ``host:port``)."""

    def get(self, registry: str) -> Credentials | None: ...


def registry_key(key: str) -> str:
    """Normalise a config.json / helper key (``https://index.docker.io/v1/``, ``host:5000``) to a registry.

    Scheme and path are dropped, the host is lowercased, Docker Hub aliases become ``docker.io``.
    """
    text = key.strip()
    if "://" in text:
        text = text.split("://", 1)[1]
    host = text.split("/", 1)[0].lower()
    return "docker.io" if host in _DOCKER_HUB_HOSTS else host


class StaticCredentials:
    """Fixed credentials per registry, e.g. from CLI flags or tests: ``StaticCredentials({"docker.io": c})``.

    Keys are normalised like docker config keys, so ``https://index.docker.io/v1/`` works too.
    """

    def __init__(self, mapping: Mapping[str, Credentials], *, default: Credentials | None = None) -> None:
        self._by_registry = {registry_key(key): value for key, value in mapping.items()}
        self._default = default

    @classmethod
    def for_any_registry(cls, username: str, password: str) -> StaticCredentials:
        """The same username/password for every registry (``--registry-username``/``--registry-password``)."""
        return cls({}, default=Credentials(username=username, password=password))

    def get(self, registry: str) -> Credentials | None:
        return self._by_registry.get(registry_key(registry), self._default)


def docker_config_path() -> Path:
    """``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json``."""
    base = os.environ.get("DOCKER_CONFIG")
    return Path(base) / "config.json" if base else Path.home() / ".docker" / "config.json"


def _string(entry: Mapping[str, Any], key: str) -> str | None:
    value = entry.get(key)
    return value if isinstance(value, str) and value else None


class DockerConfigCredentials:
    """Credentials the way ``docker login`` stores them.

    Order for a registry: its ``credHelpers`` entry, else ``credsStore``, through
    ``docker-credential-<name> get`` (server URL on stdin, bounded by ``helper_timeout``); when the helper
    has nothing (or is not installed), the ``auths`` entry (base64 ``auth`` or ``username``/``password``,
    ``identitytoken``, ``registrytoken``). Keys may carry a scheme or path; Docker Hub's key is
    ``https://index.docker.io/v1/``. A missing config file means no credentials; a malformed one, a helper
    that fails or times out, raise ``ConfigError``. Answers are cached per registry.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *, helper_timeout: float = 10.0) -> None:
        self._path = Path(path) if path is not None else docker_config_path()
        self._helper_timeout = helper_timeout
        self._config: dict[str, Any] | None = None
        self._cache: dict[str, Credentials | None] = {}
        self._lock = threading.Lock()

    def get(self, registry: str) -> Credentials | None:
        wanted = registry_key(registry)
        with self._lock:
            if wanted not in self._cache:
                self._cache[wanted] = self._lookup(wanted)
            return self._cache[wanted]

    # --- internals -------------------------------------------------------------------------------------

    def _load(self) -> dict[str, Any]:
        if self._config is None:
            try:
                raw = self._path.read_bytes()
            except FileNotFoundError:
                _logger.debug("no docker config at %s", self._path)
                raw = b"{}"
            except OSError as exc:
                raise ConfigError(f"cannot read docker config {self._path}: {exc.strerror}") from None
            try:
                data = json.loads(raw) if raw.strip() else {}
            except ValueError:
                raise ConfigError(f"docker config {self._path} is not valid JSON") from None
            if not isinstance(data, dict):
                raise ConfigError(f"docker config {self._path} is not a JSON object")
            self._config = data
        return self._config

    def _section(self, name: str) -> dict[str, Any]:
        value = self._load().get(name) or {}
        if not isinstance(value, dict):
            raise ConfigError(f"docker config {self._path}: {name!r} is not an object")
        return value

    @staticmethod
    def _find(section: Mapping[str, Any], registry: str) -> tuple[str, Any] | None:
        hub = registry == "docker.io"
        exact = [key for key in section if key == registry or (hub and key == DOCKER_HUB_KEY)]
        loose = [key for key in section if registry_key(key) == registry]
        for key in exact + sorted(loose):
            return key, section[key]
        return None

    def _lookup(self, registry: str) -> Credentials | None:
        helper_entry = self._find(self._section("credHelpers"), registry)
        helper = helper_entry[1] if helper_entry else self._load().get("credsStore")
        if helper:
            if not isinstance(helper, str) or not _HELPER_NAME.fullmatch(helper):
                raise ConfigError(f"docker config {self._path}: invalid credential helper name {helper!r}")
            default_server = DOCKER_HUB_KEY if registry == "docker.io" else registry
            server = helper_entry[0] if helper_entry else default_server
            found = self._from_helper(helper, server, registry)
            if found is not None:
                return found
        entry = self._find(self._section("auths"), registry)
        return self._from_auths(entry[0], entry[1]) if entry else None

    def _from_auths(self, key: str, entry: Any) -> Credentials | None:
        if not isinstance(entry, dict):
            raise ConfigError(f"docker config {self._path}: auths entry {key!r} is not an object")
        username, password = _string(entry, "username"), _string(entry, "password")
        encoded = _string(entry, "auth")
        if encoded:
            try:
                decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                raise ConfigError(
                    f"docker config {self._path}: auths entry {key!r} has an invalid base64 'auth'"
                ) from None
            username, sep, password = decoded.partition(":")
            if not sep:
                raise ConfigError(f"docker config {self._path}: auths entry {key!r}: 'auth' is not 'user:password'")
        creds = Credentials(
            username=username or None,
            password=password,
            identity_token=_string(entry, "identitytoken"),
            registry_token=_string(entry, "registrytoken"),
        )
        if not (creds.has_basic or creds.identity_token or creds.registry_token):
            return None
        return creds

    def _from_helper(self, helper: str, server: str, registry: str) -> Credentials | None:
        program = shutil.which(f"docker-credential-{helper}")
        if program is None:
            _logger.debug("docker-credential-%s not on PATH; no credentials for %s", helper, registry)
            return None
        try:
            done = subprocess.run(  # noqa: S603 - fixed argv, program found on PATH like docker does
                [program, "get"],
                input=server.encode(),
                capture_output=True,
                timeout=self._helper_timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise ConfigError(
                f"credential helper docker-credential-{helper} timed out after {self._helper_timeout:g}s "
                f"for registry {registry}"
            ) from None
        except OSError as exc:
            raise ConfigError(f"credential helper docker-credential-{helper} could not run: {exc.strerror}") from None
        if done.returncode != 0:
            output = (done.stdout + done.stderr).decode("utf-8", "replace")
            if "credentials not found" in output.lower():
                _logger.debug("docker-credential-%s has no credentials for %s", helper, server)
                return None
            first = next((line.strip() for line in output.splitlines() if line.strip()), "no output")
            raise ConfigError(
                f"credential helper docker-credential-{helper} failed for registry {registry} "
                f"(exit {done.returncode}): {first[:200]}"
            )
        try:
            answer = json.loads(done.stdout)
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise ConfigError(f"credential helper docker-credential-{helper} returned no JSON object for {registry}")
        username, secret = _string(answer, "Username"), _string(answer, "Secret")
        if secret is None:
            return None
        if username == "<token>":
            return Credentials(identity_token=secret)
        return Credentials(username=username, password=secret)


# --- WWW-Authenticate -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Challenge:
    """One parsed ``WWW-Authenticate`` challenge: ``scheme`` is ``basic`` or ``bearer`` (lowercase)."""

    scheme: str
    params: Mapping[str, str]

    @property
    def realm(self) -> str | None:
        return self.params.get("realm")

    @property
    def service(self) -> str | None:
        return self.params.get("service")

    @property
    def scope(self) -> str | None:
        return self.params.get("scope")


_TCHARS = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
# values may be quoted strings or (leniently) any run of characters up to the next comma or space
_PARAM = re.compile(rf'\s*({_TCHARS})\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^",\s]+))\s*(?:,|$)')
_SCHEME = re.compile(rf"\s*({_TCHARS})(?:\s+|$)")


def _parse_one_header(value: str) -> list[Challenge]:
    challenges: list[Challenge] = []
    pos = 0
    while pos < len(value):
        while pos < len(value) and value[pos] in ", \t":
            pos += 1
        scheme = _SCHEME.match(value, pos)
        if scheme is None:
            break
        pos = scheme.end()
        params: dict[str, str] = {}
        while True:
            param = _PARAM.match(value, pos)
            if param is None:
                break
            quoted, bare = param.group(2), param.group(3)
            text = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare
            params[param.group(1).lower()] = text
            pos = param.end()
        challenges.append(Challenge(scheme.group(1).lower(), params))
    return challenges


def parse_challenges(headers: list[str]) -> Challenge | None:
    """The challenge to answer among ``WWW-Authenticate`` values: Bearer (with a realm) before Basic."""
    found = [challenge for value in headers for challenge in _parse_one_header(value)]
    for challenge in found:
        if challenge.scheme == "bearer" and challenge.realm:
            return challenge
    for challenge in found:
        if challenge.scheme == "basic":
            return challenge
    return None
