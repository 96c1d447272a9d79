"""The FastAPI app: ``create_app(settings)``.

``POST /validate`` answers every well-formed AdmissionReview with HTTP 200 and the request's uid; malformed
requests get a 4xx with a clear error. The engine verifies under the policies' deadline and applies ``onError``
to images it could not verify in time (see verifier.engine); an internal error follows ``onError`` here (deny by
default: the gate fails closed).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import FastAPI, Response
from pydantic import BaseModel
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from verifier.engine import Decision, Engine, NamespaceLabels, Outcome, decision_lines
from verifier.errors import Reason
from verifier.policy import PolicySet, load_policy_files
from verifier.registry import RegistryClient, RegistryConfig
from webhook.admission import (
    AdmissionRequest,
    ContainerImage,
    ReviewError,
    Unsupported,
    images_to_verify,
    parse_review,
    review_response,
    webhook_denial_message,
)
from webhook.jsonlog import fields
from webhook.metrics import Metrics
from webhook.settings import WebhookSettings

__all__ = ["create_app"]

_logger = logging.getLogger("sealgate.webhook")


class Health(BaseModel):
    status: str
    policies: int = 0
    detail: str | None = None


@dataclass
class _State:
    settings: WebhookSettings
    policies: PolicySet
    client: RegistryClient
    engine: Engine
    metrics: Metrics


def _registry_client(settings: WebhookSettings, policies: PolicySet) -> RegistryClient:
    config = RegistryConfig(
        insecure=frozenset(policies.settings.insecure_registries),
        ca_bundle=settings.registry_ca_bundle,
        docker_config=settings.docker_config,
    )
    return RegistryClient(config)


def create_app(
    settings: WebhookSettings,
    *,
    policies: PolicySet | None = None,
    namespace_labels: NamespaceLabels | None = None,
) -> FastAPI:
    """Build the webhook app; policies are loaded (and checked) at start-up unless given."""
    holder: dict[str, _State] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loaded = policies if policies is not None else load_policy_files(settings.policy_paths)
        labels = namespace_labels
        kube = None
        if labels is None and settings.kube_api:
            from webhook.namespaces import KubeNamespaceLabels

            labels = kube = KubeNamespaceLabels.from_settings(settings)
        async with _registry_client(settings, loaded) as client:
            engine = Engine(loaded, client, namespace_labels=labels)
            metrics = Metrics(lambda: engine.stats, lambda: client.request_count)
            holder["state"] = _State(settings, loaded, client, engine, metrics)
            _logger.info(
                "policies loaded",
                extra={
                    "fields": {
                        "policies": [p.name for p in loaded.policies],
                        "registries": loaded.allowed_registries,
                        "policyHash": loaded.hash,
                    }
                },
            )
            try:
                yield
            finally:
                holder.clear()
                if kube is not None:
                    await kube.aclose()

    app = FastAPI(title="sealgate admission webhook", version="0.1.0", lifespan=lifespan)

    def state() -> _State | None:
        return holder.get("state")

    @app.get("/healthz", response_model=Health)
    async def healthz() -> Health:
        return Health(status="ok")

    @app.get("/readyz", response_model=Health, responses={503: {"model": Health}})
    async def readyz(response: Response) -> Health:
        current = state()
        if current is None:
            response.status_code = 503
            return Health(status="not ready", detail="policies not loaded")
        return Health(status="ready", policies=len(current.policies.policies))

    @app.get("/metrics", response_class=Response)
    async def metrics() -> Response:
        current = state()
        body = current.metrics.render() if current is not None else b""
        return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")

    app.router.routes.append(Route("/validate", endpoint=_ValidateEndpoint(state, settings), methods=["POST"]))
    app.openapi_schema = None
    base_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = base_openapi()
            schema.setdefault("paths", {})["/validate"] = VALIDATE_OPENAPI
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


#: /validate is a plain ASGI endpoint (it is the hot path); this documents it in the OpenAPI schema
VALIDATE_OPENAPI: dict[str, Any] = {
    "post": {
        "summary": "Validate an AdmissionReview (admission.k8s.io/v1)",
        "operationId": "validate",
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["apiVersion", "kind", "request"],
                        "properties": {
                            "apiVersion": {"type": "string", "enum": ["admission.k8s.io/v1"]},
                            "kind": {"type": "string", "enum": ["AdmissionReview"]},
                            "request": {"type": "object"},
                        },
                    }
                }
            },
        },
        "responses": {
            "200": {"description": "AdmissionReview with the response (allowed or denied, uid echoed)"},
            "400": {"description": "malformed AdmissionReview: {error}"},
            "413": {"description": "body above the size limit: {error}"},
            "503": {"description": "not ready (policies not loaded): {error}"},
        },
    }
}

_JSON_HEADERS = [(b"content-type", b"application/json")]


class _ValidateEndpoint:
    """``POST /validate`` as a raw ASGI app: read the capped body, answer with orjson bytes."""

    def __init__(self, state: Callable[[], _State | None], settings: WebhookSettings) -> None:
        self._state = state
        self._cap = settings.max_body_bytes
        self._read = max(settings.max_body_bytes, settings.max_read_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        status, payload = await self._handle(scope, receive)
        headers = [*_JSON_HEADERS, (b"content-length", str(len(payload)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    async def _handle(self, scope: Scope, receive: Receive) -> tuple[int, bytes]:
        current = self._state()
        started = time.perf_counter()
        try:
            body = await _read_body(scope, receive, self._cap, self._read)
            if current is None or len(body) > self._cap:
                refused = _refused(body, self._cap, ready=current is not None)
                if current is not None:
                    current.metrics.requests.labels("denied").inc()
                return refused
            review = parse_review(body, max_bytes=self._cap)
        except ReviewError as exc:
            if current is None:
                return exc.status, _error(exc.status, exc.message)
            current.metrics.requests.labels("malformed").inc()
            _logger.info("malformed admission request", extra=fields(status=exc.status, error=exc.message))
            return exc.status, _error(exc.status, exc.message)
        answer, decisions, result = await _answer(current, review)
        elapsed = time.perf_counter() - started
        try:
            current.metrics.record(result, decisions, elapsed)
            _log(review, result, decisions, elapsed)
        except Exception:  # bookkeeping must never change or lose the answer
            _logger.exception("recording the admission failed", extra=fields(uid=review.uid))
        return 200, orjson.dumps(answer)


def _error(status: int, message: str) -> bytes:
    return orjson.dumps({"error": message})


def _refused(body: bytes, cap: int, *, ready: bool) -> tuple[int, bytes]:
    """A review sealgate will not verify (too large, or not ready): a denial by its uid when the body is an
    AdmissionReview, so the answer is sealgate's (fail closed) rather than the API server's failurePolicy;
    otherwise the HTTP error (413 or 503)."""
    if ready:
        status, message = 413, f"request body of {len(body)} bytes is above the {cap}-byte limit"
    else:
        status, message = 503, "webhook is not ready (policies not loaded)"
    uid = _uid_of(body)
    if uid is None:
        raise ReviewError(status, message)
    _logger.info("admission refused unverified", extra=fields(uid=uid, error=message))
    answer = review_response(uid, allowed=False, message=f"sealgate did not verify this request: {message}")
    return 200, orjson.dumps(answer)


def _uid_of(body: bytes) -> str | None:
    """``request.uid`` of an ``admission.k8s.io/v1`` AdmissionReview body, or None."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(doc, dict) or doc.get("apiVersion") != "admission.k8s.io/v1":
        return None
    request = doc.get("request") if doc.get("kind") == "AdmissionReview" else None
    uid = request.get("uid") if isinstance(request, dict) else None
    return uid if isinstance(uid, str) and 0 < len(uid) <= 256 else None


async def _read_body(scope: Scope, receive: Receive, cap: int, read: int) -> bytes:
    """The body, up to ``read`` bytes (413 naming ``cap`` beyond that: ``read`` is never below ``cap``)."""
    for name, value in scope["headers"]:
        if name == b"content-length" and value.isdigit() and int(value) > read:
            raise ReviewError(413, f"request body of {value.decode()} bytes is above the {cap}-byte limit")
    buffer = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ReviewError(400, "client disconnected before sending the whole body")
        buffer += message.get("body", b"")
        if len(buffer) > read:
            raise ReviewError(413, f"request body is above the {cap}-byte limit")
        if not message.get("more_body", False):
            return bytes(buffer)


async def _answer(state: _State, review: AdmissionRequest) -> tuple[dict[str, Any], list[Decision], str]:
    """The AdmissionReview answer, the decisions behind it, and the result label for metrics."""
    try:
        return await _admit(state, review)
    except Exception:
        _logger.exception("internal error while admitting", extra=fields(uid=review.uid))
        on_error_allows = state.policies.settings.on_error == "allow"
        return _on_error(review.uid, "sealgate internal error", on_error_allows), [], "error"


def _on_error(uid: str, message: str, allow: bool) -> dict[str, Any]:
    if allow:
        return review_response(uid, allowed=True, warnings=[f"{message}; admitted because onError is allow"])
    return review_response(uid, allowed=False, message=f"{message} (failing closed)", reason="Forbidden")


async def _admit(state: _State, review: AdmissionRequest) -> tuple[dict[str, Any], list[Decision], str]:
    found = images_to_verify(review)
    if isinstance(found, Unsupported):
        return review_response(review.uid, allowed=False, message=found.reason), [], "unsupported"
    if not found:
        return review_response(review.uid, allowed=True), [], "skipped"
    limit = state.settings.max_images_per_request
    if len(found) > limit:
        message = f"{len(found)} images in one object, above the limit of {limit}"
        return review_response(review.uid, allowed=False, message=message), [], "denied"
    decisions = await state.engine.decide_many(
        [c.image for c in found],
        namespace=review.namespace or None,
        deadline=state.policies.settings.deadline_seconds,
    )
    denials, warnings = _render(found, decisions)
    answer = review_response(
        review.uid,
        allowed=not denials,
        message=webhook_denial_message(denials) if denials else None,
        reason="Forbidden",
        warnings=warnings,
        audit_annotations=_resolved_annotations(found, decisions),
    )
    if any(d.code == Reason.DEADLINE_EXCEEDED for d in decisions):
        _logger.warning("deadline exceeded", extra=fields(uid=review.uid, namespace=review.namespace))
        return answer, decisions, "deadline"
    if denials:
        return answer, decisions, "denied"
    return answer, decisions, "warned" if any(d.outcome is Outcome.WARN for d in decisions) else "allowed"


def _render(found: Sequence[ContainerImage], decisions: Sequence[Decision]) -> tuple[list[str], list[str]]:
    """Denial lines and warnings, one per failing container and policy."""
    denials: list[str] = []
    warnings: list[str] = []
    for container, decision in zip(found, decisions, strict=True):
        denied, warned = decision_lines(container.field_path, container.image, decision)
        denials += denied
        warnings += warned
        if decision.allowed and decision.resolved_from_tag is not None and decision.digest is not None:
            warnings.append(
                f'{container.field_path} "{container.image}": verified as {decision.digest} (tag resolved at '
                "admission; pin the digest to be sure this is what runs)"
            )
    return denials, warnings


def _resolved_annotations(found: Sequence[ContainerImage], decisions: Sequence[Decision]) -> dict[str, str] | None:
    resolved = {c.image: d.digest for c, d in zip(found, decisions, strict=True) if d.digest and d.resolved_from_tag}
    return {"resolved-digests": orjson.dumps(resolved).decode()} if resolved else None


def _log(review: AdmissionRequest, result: str, decisions: Sequence[Decision], seconds: float) -> None:
    """One JSON line per admission: at info for every denial, warning, error and registry verification; answers
    served entirely from the cache (and requests with nothing to verify) at debug, to keep the hot path cheap."""
    routine = result == "skipped" or (result == "allowed" and all(d.cached for d in decisions))
    level = logging.DEBUG if routine else logging.INFO
    if not _logger.isEnabledFor(level):
        return
    _logger.log(
        level,
        "admission",
        extra={
            "fields": {
                "uid": review.uid,
                "namespace": review.namespace,
                "kind": review.kind.kind,
                "object": review.name,
                "operation": review.operation,
                "dryRun": review.dry_run,
                "result": result,
                "images": [
                    {
                        "image": d.image,
                        "digest": d.digest,
                        "outcome": d.outcome.value,
                        "code": d.code,
                        "cached": d.cached,
                    }
                    for d in decisions
                ],
                "durationMs": round(seconds * 1000, 3),
            }
        },
    )
