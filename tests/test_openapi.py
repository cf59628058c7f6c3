"""The OpenAPI document read by third-party tools: openapi-spec-validator says it is a valid OpenAPI 3.1
document (every `$ref` resolves), each example matches its schema, and real responses carrying published
campaigns, decisions and sessions match the schemas an API client would generate code from."""

import pytest
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate

from app.openapi import API_VERSION, EXAMPLES, build
from tests.routes.test_api import public_api, published_data  # noqa: F401

DOCUMENT = build("/api/v1")


def validator(schema: dict) -> OAS31Validator:
    """`schema` with the document's components beside it, so that `#/components/...` resolves."""
    return OAS31Validator({"components": DOCUMENT["components"], "allOf": [schema]})


def test_the_document_is_valid_openapi_3_1():
    validate(DOCUMENT)  # raises OpenAPIValidationError, e.g. on a schema referenced and never defined
    assert DOCUMENT["openapi"] == "3.1.0" and DOCUMENT["info"]["version"] == API_VERSION


def test_every_resource_has_an_example_that_matches_its_schema():
    schemas = DOCUMENT["components"]["schemas"]
    for name in ("Opportunity", "Action", "Guichet", "Campaign", "Decision", "Session", "Error"):
        assert schemas[name]["examples"], name
    for name, example in EXAMPLES.items():
        errors = list(validator({"$ref": f"#/components/schemas/{name}"}).iter_errors(example))
        assert not errors, (name, [e.message for e in errors])


@pytest.mark.parametrize(
    "path, operation",
    [
        ("/campaigns", "list_campaigns"),
        ("/campaigns/{campaign}", "get_campaign"),
        ("/decisions", "list_decisions"),
        ("/decisions/{decision}", "get_decision"),
        ("/sessions", "list_sessions"),
        ("/sessions/{held}", "get_session"),
    ],
)
def test_published_data_matches_the_documented_schemas(client, public_api, published_data, path, operation):  # noqa: F811
    url = "/api/v1" + path.format(**{k: v.id for k, v in published_data.items()})
    response = client.get(url)
    assert response.status_code == 200
    [documented] = [
        item["get"] for item in DOCUMENT["paths"].values() if item["get"]["operationId"] == operation
    ]
    schema = documented["responses"]["200"]["content"]["application/json"]["schema"]
    body = response.get_json()
    assert body.get("data", [body]), "the fixture publishes one of each"
    errors = [e.message for e in validator(schema).iter_errors(body)]
    assert not errors
