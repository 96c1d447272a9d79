"""The small shared vocabulary of one registry exchange: what a request is for, what came back, and how
registry-supplied text is cleaned before it reaches a log line or a denial."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import orjson

__all__ = ["Ask", "Response", "clean", "netloc", "registry_detail"]


@dataclass(frozen=True, slots=True)
class Ask:
    """What a request is for: used for auth scope, credentials lookup and every error message."""

    registry: str  # as in the reference ("docker.io"), the credentials key
    host: str  # host[:port] the API lives on
    repository: str
    what: str  # "manifest 127.0.0.1:5000/app:1.0"
    push: bool = False

    @property
    def scope(self) -> str:
        return f"repository:{self.repository}:{'pull,push' if self.push else 'pull'}"


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: httpx.Headers
    body: bytes
    url: httpx.URL


def clean(text: str, limit: int = 160) -> str:
    """Registry-supplied text made safe for one log/denial line."""
    text = "".join(ch if ch.isprintable() else " " for ch in text).strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def registry_detail(body: bytes) -> str:
    """``", CODE: message"`` from a distribution error body, or ``""``."""
    try:
        data = orjson.loads(body)
        first = data["errors"][0]
        code, message = str(first.get("code", "")), str(first.get("message", ""))
    except (orjson.JSONDecodeError, KeyError, IndexError, TypeError, AttributeError):
        return ""
    text = clean(f"{code}: {message}" if message else code)
    return f", {text}" if text else ""


def netloc(url: httpx.URL) -> str:
    host = url.host
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{url.port}" if url.port is not None else host
