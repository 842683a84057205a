"""The answers every operation can give, documented in every service's OpenAPI document.

Routes declare what is theirs (a 404 for an unknown claim, a 409 for a reused key). What any
route may answer for reasons outside it is added here, once, with a problem+json schema: 401
and 403 on every operation that takes a token, 404 where the path names something, 413 and 415
where a body is sent, 422 for bad parameters, 503 when the database is out of reach or writes
contend. So a client (and schemathesis' status-code check) can rely on the document.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from shared.glossary import describe

PUBLIC_PATHS = frozenset({"/healthz", "/readyz"})
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status"],
    "description": "An RFC 9457 problem: what went wrong, for people and for programs",
    "properties": {
        "type": {"type": "string", "description": "A URI naming the kind of problem"},
        "title": {"type": "string", "description": "A short summary of that kind"},
        "status": {"type": "integer", "description": "The HTTP status code"},
        "detail": {"type": "string", "description": "What went wrong this time"},
        "instance": {"type": "string", "description": "A URI of this occurrence, if any"},
        "request_id": {"type": "string", "description": "The X-Request-ID of the answer"},
        "errors": {
            "type": "array",
            "description": "Each field at fault (422)",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {
                    "field": {
                        "type": "string",
                        "description": "Its path: `events[3].occurred_on`, a parameter's name",
                    },
                    "message": {"type": "string", "description": "What is wrong with it"},
                    "line": {"type": "integer", "description": "Its line, in a YAML or CSV body"},
                },
            },
        },
    },
    "examples": [
        {
            "type": "about:blank",
            "title": "Invalid input",
            "status": 422,
            "detail": "invalid fields: occurred_on",
            "request_id": "4f1c2a9e0b7d4e1f8a3c5b6d7e8f9a0b",
            "errors": [{"field": "occurred_on", "message": "not a date (YYYY-MM-DD)"}],
        }
    ],
}
COMMON = {
    "401": "Missing or invalid bearer token",
    "403": "Role or scope does not allow this",
    "404": "Nothing with this name or id",
    "413": "The body is over the size limit",
    "415": "The body's media type is not JSON (or YAML for rule books)",
    "422": "Invalid input; `errors` names each field at fault",
    "503": "The database is out of reach, or writes contend: retry after `Retry-After`",
}


def document_common_responses(app: FastAPI) -> None:
    """Make ``app.openapi()`` add the common answers to every operation, once."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
        for path, item in schema.get("paths", {}).items():
            for operation in item.values():
                _add_common(path, operation)
        for unused in ("HTTPValidationError", "ValidationError"):  # FastAPI's 422: not ours
            schema["components"]["schemas"].pop(unused, None)
        _keep_nulls_in_examples(schema["components"]["schemas"])
        _describe_fields(schema["components"]["schemas"])
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _add_common(path: str, operation: dict[str, Any]) -> None:
    codes = ["422", "503"]
    if path not in PUBLIC_PATHS:
        codes += ["401", "403"]
    if "{" in path:
        codes.append("404")
    if "requestBody" in operation:
        codes += ["413", "415"]
    if path in PUBLIC_PATHS:
        codes = []
    responses = operation.setdefault("responses", {})
    for code in codes:
        responses.setdefault(code, {"description": COMMON[code]})
    for code, documented in responses.items():
        if code.startswith(("4", "5")):  # every refusal is a problem, whoever documented it
            documented["content"] = {
                "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
            }


def models(base: type[BaseModel] = BaseModel) -> Iterator[type[BaseModel]]:
    """Every subclass of ``base`` (the models whose examples the documents show)."""
    for model in base.__subclasses__():
        yield model
        yield from models(model)


def _keep_nulls_in_examples(schemas: dict[str, Any]) -> None:
    """FastAPI drops every null from the document it builds, examples' included, so an example
    of a body whose field is null (a claim not yet decided, a page at its end) would lose a
    required field. Each model's examples are put back as the model declares them."""
    declared: dict[str, list[Any]] = {}
    for model in models():
        extra = model.model_config.get("json_schema_extra")
        examples = extra.get("examples") if isinstance(extra, dict) else None
        if isinstance(examples, list):
            declared.setdefault(model.__name__, examples)
    for name, schema in schemas.items():
        if "examples" in schema and name in declared:
            schema["examples"] = declared[name]


def _describe_fields(schemas: dict[str, Any]) -> None:
    """Describe each field its model left undescribed, from :mod:`shared.glossary`."""
    for name, schema in schemas.items():
        for field, declared in schema.get("properties", {}).items():
            if not declared.get("description"):
                text = describe(name, field)
                if text is not None:
                    declared["description"] = text
