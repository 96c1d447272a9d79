"""Parse an ``admission.k8s.io/v1`` AdmissionReview request body into an :class:`AdmissionRequest`.

Pure: bytes in, a frozen dataclass out, or a :class:`ReviewError` that carries the HTTP status the webhook
should answer with and a short message naming the field that was wrong (FORMATS.md §10).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from verifier.errors import Reason, SealgateError

__all__ = [
    "ADMISSION_API_VERSION",
    "OPERATIONS",
    "AdmissionRequest",
    "GroupVersionKind",
    "ReviewError",
    "parse_review",
]

_logger = logging.getLogger(__name__)

ADMISSION_API_VERSION = "admission.k8s.io/v1"
OPERATIONS = frozenset({"CREATE", "UPDATE", "DELETE", "CONNECT"})

# Strings from the request quoted in error messages are cut to this many characters.
_QUOTE_MAX = 64


class ReviewError(SealgateError):
    """A request body that is not a usable AdmissionReview; the webhook answers HTTP ``status``.

    ``uid`` is the request's uid when it could be read before the error was found, so the caller may
    choose to answer with a well-formed denial instead of a bare 4xx.
    """

    code = Reason.REVIEW_INVALID
    exit_code = 2

    def __init__(self, status: int, message: str, *, uid: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.uid = uid

    def __repr__(self) -> str:
        return f"ReviewError({self.status}, {self.message!r})"


@dataclass(frozen=True)
class GroupVersionKind:
    group: str
    version: str
    kind: str

    def __str__(self) -> str:
        gv = self.version if not self.group else f"{self.group}/{self.version}"
        return f"{gv} {self.kind}"


@dataclass(frozen=True)
class AdmissionRequest:
    """The parts of ``AdmissionReview.request`` sealgate uses (``object`` kept as decoded JSON)."""

    uid: str
    kind: GroupVersionKind
    resource: str
    sub_resource: str
    operation: str
    namespace: str
    name: str
    object: Mapping[str, Any] | None
    old_object: Mapping[str, Any] | None
    dry_run: bool
    #: ``userInfo.username``, for logs only
    user: str


def _quote(value: object) -> str:
    """A request value for an error message: strings JSON-quoted and cut short, containers by type only."""
    if isinstance(value, str):
        text = value if len(value) <= _QUOTE_MAX else value[:_QUOTE_MAX] + "..."
        return orjson.dumps(text).decode()
    if value is None or isinstance(value, bool):
        return orjson.dumps(value).decode()
    if isinstance(value, int | float):
        return repr(value)[:_QUOTE_MAX]
    return _type_name(value)  # never repr a container: it may be nested a thousand levels deep


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def parse_review(body: bytes, *, max_bytes: int) -> AdmissionRequest:
    """Decode and check an AdmissionReview body; raise :class:`ReviewError` with the HTTP status to answer.

    413 when ``body`` is longer than ``max_bytes``; 400 for everything else that is wrong (not JSON, not an
    object, wrong apiVersion or kind, no request, no uid, a field of the wrong type).
    """
    if len(body) > max_bytes:
        raise ReviewError(413, f"admission review body is {len(body)} bytes, above the limit of {max_bytes}")
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ReviewError(400, f"admission review is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ReviewError(400, f"admission review is {_type_name(doc)}, not a JSON object")

    api_version = doc.get("apiVersion")
    if api_version != ADMISSION_API_VERSION:
        if api_version is None:
            raise ReviewError(400, f"admission review has no apiVersion (expected {ADMISSION_API_VERSION})")
        if api_version == "admission.k8s.io/v1beta1":
            raise ReviewError(
                400,
                "apiVersion admission.k8s.io/v1beta1 is not supported; "
                "set admissionReviewVersions: [v1] in the webhook configuration",
            )
        raise ReviewError(400, f"apiVersion {_quote(api_version)} is not {ADMISSION_API_VERSION}")
    if doc.get("kind") != "AdmissionReview":
        raise ReviewError(400, f"kind {_quote(doc.get('kind'))} is not AdmissionReview")

    request = doc.get("request")
    if not isinstance(request, dict):
        if request is None:
            raise ReviewError(400, "admission review has no request")
        raise ReviewError(400, f"request is {_type_name(request)}, not a JSON object")

    uid = request.get("uid")
    if uid is None or uid == "":
        raise ReviewError(400, "request.uid is missing or empty")
    if not isinstance(uid, str):
        raise ReviewError(400, f"request.uid is {_type_name(uid)}, not a string")

    fields = _Fields(request, uid)
    kind = fields.gvk("kind")
    operation = fields.string("operation", required=True)
    if operation not in OPERATIONS:
        choices = ", ".join(sorted(OPERATIONS))
        raise ReviewError(400, f"request.operation {_quote(operation)} is not one of {choices}", uid=uid)
    obj = fields.mapping("object")
    old_object = fields.mapping("oldObject")
    if obj is None and operation in ("CREATE", "UPDATE"):
        raise ReviewError(400, f"request.object is missing for a {operation}", uid=uid)
    dry_run = request.get("dryRun", False)
    if not isinstance(dry_run, bool):
        raise ReviewError(400, f"request.dryRun is {_type_name(dry_run)}, not a boolean", uid=uid)
    user_info = fields.mapping("userInfo")
    username = user_info.get("username", "") if user_info is not None else ""

    parsed = AdmissionRequest(
        uid=uid,
        kind=kind,
        resource=fields.sub_string("resource", "resource"),
        sub_resource=fields.string("subResource"),
        operation=operation,
        namespace=fields.string("namespace"),
        name=fields.string("name"),
        object=obj,
        old_object=old_object,
        dry_run=dry_run,
        user=username if isinstance(username, str) else "",
    )
    _logger.debug("admission request %s: %s %s %s/%s", uid, operation, kind, parsed.namespace, parsed.name)
    return parsed


class _Fields:
    """Typed reads of ``request`` fields; every failure names the field and carries the uid."""

    def __init__(self, request: Mapping[str, Any], uid: str) -> None:
        self._request = request
        self._uid = uid

    def _fail(self, message: str) -> ReviewError:
        return ReviewError(400, message, uid=self._uid)

    def string(self, name: str, *, required: bool = False) -> str:
        value = self._request.get(name)
        if value is None:
            if required:
                raise self._fail(f"request.{name} is missing")
            return ""
        if not isinstance(value, str):
            raise self._fail(f"request.{name} is {_type_name(value)}, not a string")
        return value

    def mapping(self, name: str) -> Mapping[str, Any] | None:
        value = self._request.get(name)
        if value is None or isinstance(value, dict):
            return value
        raise self._fail(f"request.{name} is {_type_name(value)}, not a JSON object")

    def sub_string(self, name: str, key: str, *, required: bool = False) -> str:
        outer = self.mapping(name)
        if outer is None:
            if required:
                raise self._fail(f"request.{name} is missing")
            return ""
        value = outer.get(key, "")
        if not isinstance(value, str):
            raise self._fail(f"request.{name}.{key} is {_type_name(value)}, not a string")
        if required and not value:
            raise self._fail(f"request.{name}.{key} is missing or empty")
        return value

    def gvk(self, name: str) -> GroupVersionKind:
        if self.mapping(name) is None:
            raise self._fail(f"request.{name} is missing")
        return GroupVersionKind(
            group=self.sub_string(name, "group"),
            version=self.sub_string(name, "version"),
            kind=self.sub_string(name, "kind", required=True),
        )
