"""Schemathesis sends generated requests, valid and invalid, to every operation of
openapi.yaml over real HTTP: the API must never fail with a 5xx, and must answer in the
documented shape (problem+json for errors)."""

from __future__ import annotations

from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
)

from tests.conftest import ADMIN_KEY

ROOT = Path(__file__).resolve().parents[2]
schema = schemathesis.openapi.from_path(ROOT / "openapi.yaml")


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_generated_requests_never_break_the_api(case, live_server, api_merchant):
    key = ADMIN_KEY if case.path.startswith("/v1/merchants") else api_merchant["api_key"]

    case.call_and_validate(
        base_url=live_server.url,
        headers={"Authorization": f"Bearer {key}"},
        checks=[not_a_server_error, content_type_conformance, response_schema_conformance, negative_data_rejection],
    )
