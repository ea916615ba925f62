"""Schemathesis over the API's own OpenAPI document, against a real uvicorn: no input gets a 5xx.

The schema is the one the server publishes (built from the model's contract), loaded with a key;
each operation gets at most 50 generated requests, valid and invalid (about 10 s in all).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.api_server import AUTH, ApiServer, start_api_server

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
    positive_data_acceptance,
]


@pytest.fixture(scope="module")
def api(served_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    running = start_api_server(served_dir, tmp_path_factory.mktemp("schemathesis"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def api_schema(api: ApiServer) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{api.base_url}/openapi.json", headers=AUTH)


# schemathesis' own pytest loader (`from_fixture`) does not run under pytest 9, so each operation is
# a test of its own, driven through schemathesis' Hypothesis strategies.
OPERATIONS = [
    ("POST", "/v1/predict"),
    ("POST", "/v1/explain"),
    ("POST", "/v1/feedback"),
    ("GET", "/v1/model"),
    ("GET", "/v1/monitor"),
    ("GET", "/v1/review/queue"),
    ("GET", "/v1/review/summary"),
    ("GET", "/v1/me"),
    ("POST", "/v1/admin/reload"),
    ("GET", "/health"),
    ("GET", "/ready"),
    ("GET", "/metrics"),
]
WITH_BODY = {path for method, path in OPERATIONS if path in ("/v1/predict", "/v1/explain", "/v1/feedback")}
# Valid data must be accepted too (the published schema says exactly what the API takes), except for
# feedback, whose valid-looking ids are unknown to the log (404 by design).
CASES = [
    pytest.param(method, path, mode, id=f"{method} {path} {mode.value}")
    for method, path in OPERATIONS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE or path in WITH_BODY  # nothing to make invalid without a body
]


def test_the_published_schema_lists_every_operation(api_schema: schemathesis.BaseSchema) -> None:
    published = {(op.ok().method.upper(), op.ok().path) for op in api_schema.get_all_operations()}
    assert published == set(OPERATIONS)


@pytest.mark.parametrize(("method", "path", "mode"), CASES)
def test_no_generated_request_gets_a_server_error(
    api: ApiServer, api_schema: schemathesis.BaseSchema, method: str, path: str, mode: GenerationMode
) -> None:
    operation = api_schema[path][method]
    checks = (
        [*CHECKS, positive_data_acceptance] if mode is GenerationMode.POSITIVE and path != "/v1/feedback" else CHECKS
    )
    sent = 0

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=50, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def check(case: schemathesis.Case) -> None:
        nonlocal sent
        case.call_and_validate(headers=AUTH, checks=checks, timeout=30)
        sent += 1

    check()
    assert sent >= (10 if path in WITH_BODY else 1)
    assert api.process.poll() is None
