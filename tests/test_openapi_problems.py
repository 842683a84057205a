"""Issue 21, point 7 (in part): every refusal an operation documents is a problem+json body with
the one Problem schema (type, title, status, detail, instance, request_id, errors with field
paths), whoever documented it (the route, the common answers, FastAPI's own 422); every
reference in each document resolves; the Problem schema's example validates against it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from services.claims.api import create_app as claims_app
from services.ledger.api import create_app as ledger_app
from services.metrics.api import create_app as metrics_app
from shared.openapi import models
from shared.settings import CommonSettings

FACTORIES = {"claims": claims_app, "ledger": ledger_app, "metrics": metrics_app}


@pytest.fixture(scope="module", params=list(FACTORIES))
def document(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder: Path = tmp_path_factory.mktemp(request.param)
    return FACTORIES[request.param](None, CommonSettings(env="test", data_dir=folder)).openapi()


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def test_every_refusal_is_documented_as_a_problem(document: Any) -> None:
    refusals = 0
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for code, response in operation["responses"].items():
                if code.startswith(("4", "5")):
                    refusals += 1
                    assert response["content"] == {
                        "application/problem+json": {
                            "schema": {"$ref": "#/components/schemas/Problem"}
                        }
                    }, f"{method} {path} {code}"
    assert refusals > 50
    problem = document["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "instance", "errors"} <= set(problem["properties"])
    assert problem["properties"]["errors"]["items"]["required"] == ["field", "message"]


def test_every_reference_resolves_and_the_problem_example_is_valid(document: Any) -> None:
    schemas = document["components"]["schemas"]
    for ref in set(_refs(document)):
        assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] in schemas, ref
    problem = schemas["Problem"]
    for example in problem["examples"]:
        jsonschema.validate(example, problem)


def test_every_example_validates_against_its_schema(document: Any) -> None:
    """Examples are written by hand: each must be a body the service would take or give."""
    checked = 0
    for name, schema in document["components"]["schemas"].items():
        root = {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
        for example in schema.get("examples", []):
            jsonschema.Draft202012Validator(root).validate(example)
            checked += 1
    assert checked >= 1


def test_every_example_is_taken_by_its_model(document: Any) -> None:
    """And by the model itself, whose checks go beyond the schema (a secret's form, a date)."""
    examined = 0
    for model in set(models()):
        if not model.__module__.startswith("services."):
            continue
        extra = model.model_config.get("json_schema_extra")
        for example in extra.get("examples", []) if isinstance(extra, dict) else []:
            model.model_validate(example)
            examined += 1
    assert examined >= 10


def test_every_operation_has_a_summary_and_a_description_written_for_it(document: Any) -> None:
    """Not FastAPI's defaults (the function's name, title-cased; no description)."""
    operations = 0
    for path, item in document["paths"].items():
        for method, operation in item.items():
            operations += 1
            name = operation["operationId"].removesuffix(f"_{method}")
            default = name.split(f"_{path.strip('/').replace('/', '_')}")[0]
            default = default.replace("_", " ").title()
            summary = operation.get("summary", "")
            assert summary and summary != default, f"{method} {path}: summary {summary!r}"
            assert len(summary) <= 60, f"{method} {path}: a summary is one short line"
            assert operation.get("description"), f"{method} {path}: no description"
    assert operations > 15


def _body_schemas(operation: dict[str, Any]) -> Iterator[str]:
    """The components an operation takes or gives as a body (a list's item for a list)."""
    bodies = [operation.get("requestBody", {})]
    bodies += [r for code, r in operation["responses"].items() if code.startswith("2")]
    for body in bodies:
        for content in body.get("content", {}).values():
            schema = content.get("schema", {})
            ref = schema.get("$ref") or schema.get("items", {}).get("$ref")
            if ref:
                yield ref.rsplit("/", 1)[1]


def test_every_body_has_an_example(document: Any) -> None:
    """Every request and response body an integrator codes against shows one (and the tests
    above check each against its schema and its model)."""
    schemas = document["components"]["schemas"]
    bodies = {
        name
        for item in document["paths"].values()
        for operation in item.values()
        for name in _body_schemas(operation)
    }
    assert len(bodies) > 5
    missing = sorted(name for name in bodies if not schemas[name].get("examples"))
    assert missing == [], f"bodies without an example: {missing}"


def test_every_field_of_every_body_is_described(document: Any) -> None:
    """By its model, or by shared/glossary.py (one text for a name wherever it appears)."""
    fields, missing = 0, []
    for name, schema in document["components"]["schemas"].items():
        for field, declared in schema.get("properties", {}).items():
            fields += 1
            if not declared.get("description"):
                missing.append(f"{name}.{field}")
    assert fields > 50
    assert missing == [], f"fields without a description: {missing}"
