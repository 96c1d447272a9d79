"""The published JSON Schema of a policy document (``policies/policy.schema.json``), generated from the models."""

from __future__ import annotations

import json
from typing import Any

from pydantic.json_schema import GenerateJsonSchema

from verifier.policy._models import document_adapter

__all__ = ["policy_json_schema", "render_policy_schema"]


class _NoFieldTitles(GenerateJsonSchema):
    """Leave out the per-field titles pydantic derives from attribute names ("Failurettlseconds")."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def policy_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of one document: an ``ImagePolicy`` or a ``Settings``."""
    schema = document_adapter().json_schema(by_alias=True, schema_generator=_NoFieldTitles)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "sealgate policy document (ImagePolicy or Settings)",
        **schema,
    }


def render_policy_schema() -> str:
    """The schema as committed: sorted keys, 2-space indent, trailing newline."""
    return json.dumps(policy_json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
