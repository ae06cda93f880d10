"""The HTTP API fuzzed by schemathesis from its own OpenAPI document, over HTTP against the local host.

Every operation of the document (the admin routes, the webhooks, the document itself) gets generated
valid and invalid requests; each answer must be no 5xx, conform to the document (status, content
type, headers, body schema), and a 4xx must be the one error shape naming the field to blame.
A fixed seed keeps CI reproducible; the ``slow`` variant runs more examples.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from shared.admin.openapi import openapi_document
from tests.fuzz.conftest import LiveHost

schema = schemathesis.openapi.from_dict(openapi_document())
# 401 (no or wrong function key) comes from the host with no body; 405 names the methods in Allow.
UNBLAMED = {401, 405}
COMMON = {"derandomize": True, "deadline": None, "database": None,
          "suppress_health_check": list(HealthCheck)}


@schemathesis.check
def names_the_field(ctx: Any, response: Any, case: Any) -> bool | None:
    """A 4xx is ``{"error", "message", "fields": [...]}`` and its ``fields`` name what to fix."""
    if not 400 <= response.status_code < 500 or response.status_code in UNBLAMED:
        return None
    assert response.headers.get("content-type", [""])[0].startswith("application/json"), (
        f"{case.method} {case.formatted_path}: {response.status_code} {response.content[:200]!r}")
    body = json.loads(response.content)
    assert set(body) == {"error", "message", "fields"}, f"not the one error shape: {body}"
    assert body["fields"], f"{response.status_code} {body['error']} names no field: {body['message']}"
    assert all(f.get("field") and f.get("message") for f in body["fields"]), body
    return True


# A schema-valid request may still be refused for what a schema cannot say (mailboxes or all; the
# If-Match of a GET; a policy that exists): those are 4xx naming the field, checked by names_the_field.
EXCLUDED = [schemathesis.checks.positive_data_acceptance]


def _check(live_host: LiveHost, case: Any) -> None:
    case.call_and_validate(base_url=live_host.api, headers={"x-functions-key": live_host.key},
                           additional_checks=[names_the_field], excluded_checks=EXCLUDED)


@schema.parametrize()
@settings(max_examples=12, **COMMON)
def test_api_answers_conform_and_4xx_name_the_field(live_host: LiveHost, case: Any) -> None:
    _check(live_host, case)


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=50, **COMMON)
def test_api_answers_conform_and_4xx_name_the_field_many_examples(live_host: LiveHost, case: Any) -> None:
    _check(live_host, case)
