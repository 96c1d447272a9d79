"""schemathesis against the app's own OpenAPI (``/openapi.json``, POST /validate included): no 5xx, every
documented operation answers, and nothing generated is allowed."""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.fuzz._support import examples
from tests.fuzz.conftest import COUNTS, Gate

OPENAPI = examples(1200)


def test_openapi_operations_never_answer_5xx(gate: Gate) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", gate.client.app)
    count = 0
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        per_operation = OPENAPI if operation.path == "/validate" else 12  # the GETs take no input

        @settings(deadline=None, database=None, suppress_health_check=list(HealthCheck), max_examples=per_operation)
        @given(case=operation.as_strategy())
        def prop(case: Any) -> None:
            nonlocal count
            count += 1
            response = gate.client.request(
                case.method,
                case.formatted_path,
                params=case.query,
                headers={k: str(v) for k, v in (case.headers or {}).items()},
                json=None if type(case.body).__name__ == "NotSet" else case.body,
            )
            assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.status_code}"
            if case.path == "/validate" and response.status_code == 200:
                assert response.json()["response"]["allowed"] is False  # nothing generated names a signed image

        prop()
    assert operations >= 4, "the schema lost operations (/validate, /healthz, /readyz, /metrics)"
    COUNTS["openapi"] = count
    assert count >= OPENAPI
