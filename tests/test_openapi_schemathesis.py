"""Schemathesis against the OpenAPI 3.1 document of the open-data API: every operation, generated inputs
(valid and invalid), all default checks (no 5xx, status codes, content types, headers and bodies conforming
to the document, invalid input rejected, valid input accepted)."""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from app.openapi import build

# The same document the app serves at /api/v1/openapi.json (a pure function of the code).
schema = schemathesis.openapi.from_dict(build("/api/v1"))


@pytest.fixture
def api_app(app, db_session):
    """Requests go to the app in-process (WSGI), inside the test's rolled-back transaction, API public."""
    app.config["PUBLIC_API"] = True
    yield app
    app.config["PUBLIC_API"] = False


def test_served_document_is_the_tested_one(client):
    served = client.get("/api/v1/openapi.json").get_json()
    assert served["paths"] == build("/api/v1")["paths"]
    assert served["components"] == build("/api/v1")["components"]


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_openapi_document(case, api_app):
    case.call_and_validate(app=api_app)
