"""Schemathesis against the OpenAPI 3.1 document of the open-data API: every operation, generated inputs
(valid and invalid), all default checks (no 5xx, status codes, content types, headers and bodies conforming
to the document, invalid input rejected, valid input accepted), plus a check that fails when the schema of
the received status cannot be resolved (a dangling `$ref` used to make schemathesis skip the body check)."""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from app.openapi import build

# The same document the app serves at /api/v1/openapi.json (a pure function of the code).
DOCUMENT = build("/api/v1")
schema = schemathesis.openapi.from_dict(DOCUMENT)


def _resolve(node, seen=()):
    """Every `$ref` under `node`, followed through the document; AssertionError on a dangling one."""
    if isinstance(node, dict):
        if "$ref" in node:
            ref = node["$ref"]
            assert ref.startswith("#/"), ref
            target = DOCUMENT
            for part in ref[2:].split("/"):
                assert isinstance(target, dict) and part in target, f"unresolvable $ref {ref}"
                target = target[part]
            if ref not in seen:
                _resolve(target, (*seen, ref))
        for value in node.values():
            _resolve(value, seen)
    elif isinstance(node, list):
        for value in node:
            _resolve(value, seen)


def response_schema_resolved(ctx, response, case):
    """The documented response of this status exists and its schema resolves completely."""
    if case.method.lower() != case.operation.method.lower():
        return True  # the 405 probe with another method (schemathesis' unsupported_method check)
    responses = DOCUMENT["paths"][case.operation.path][case.operation.method.lower()]["responses"]
    definition = responses.get(str(response.status_code))
    assert definition is not None, f"{response.status_code} is not documented for {case.operation.label}"
    if response.status_code == 304:
        return True
    assert "application/json" in definition["content"], case.operation.label
    _resolve(definition)
    return True


@pytest.fixture
def api_app(app, db_session):
    """Requests go to the app in-process (WSGI), inside the test's rolled-back transaction, API public."""
    app.config["PUBLIC_API"] = True
    yield app
    app.config["PUBLIC_API"] = False


def test_served_document_is_the_tested_one(client):
    served = client.get("/api/v1/openapi.json").get_json()
    assert served["paths"] == DOCUMENT["paths"]
    assert served["components"] == DOCUMENT["components"]


def test_every_operation_is_tested_with_resolvable_response_schemas():
    operations = [op for op in schema.get_all_operations()]
    assert len(operations) == sum(len(item) for item in DOCUMENT["paths"].values()) == 14
    for path_item in DOCUMENT["paths"].values():
        _resolve(path_item)


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_openapi_document(case, api_app):
    case.call_and_validate(app=api_app, additional_checks=[response_schema_resolved])
