"""error_from_response maps platform responses onto the SDK's exception types."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from partner_sdk import (
    AuthenticationError,
    ConflictError,
    LoyaltyError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    ValidationError,
    error_from_response,
)

PROBLEM_HEADERS = {"Content-Type": "application/problem+json"}


def problem(status: int, **extra: object) -> bytes:
    body = {"type": "about:blank", "title": "Some title", "status": status, "detail": "Some detail"}
    body.update(extra)
    return json.dumps(body).encode()


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, ValidationError),
        (401, AuthenticationError),
        (403, AuthenticationError),
        (404, NotFoundError),
        (409, ConflictError),
        (422, ValidationError),
        (429, RateLimitedError),
        (500, ServerError),
        (503, ServerError),
    ],
)
def test_each_status_maps_to_its_exception_type(status: int, expected: type) -> None:
    error = error_from_response(status, PROBLEM_HEADERS, problem(status))

    assert type(error) is expected
    assert isinstance(error, LoyaltyError)
    assert (error.status, error.title, error.detail) == (status, "Some title", "Some detail")
    assert error.problem["status"] == status


def test_an_unmapped_status_falls_back_to_the_base_error() -> None:
    error = error_from_response(418, PROBLEM_HEADERS, problem(418))

    assert type(error) is LoyaltyError
    assert error.status == 418


def test_a_validation_error_exposes_its_field_errors() -> None:
    body = problem(422, errors={"amount_cents": ["Must be positive."], "currency": ["Unknown."]})

    error = error_from_response(422, PROBLEM_HEADERS, body)

    assert isinstance(error, ValidationError)
    assert error.errors == {"amount_cents": ["Must be positive."], "currency": ["Unknown."]}


def test_field_errors_nested_by_location_are_flattened_by_field_name() -> None:
    body = problem(422, errors={"json": {"amount_cents": ["Must be positive."]}})

    error = error_from_response(422, PROBLEM_HEADERS, body)

    assert isinstance(error, ValidationError)
    assert error.errors == {"amount_cents": ["Must be positive."]}


def test_a_validation_error_without_field_errors_has_an_empty_mapping() -> None:
    error = error_from_response(400, PROBLEM_HEADERS, problem(400))

    assert isinstance(error, ValidationError)
    assert error.errors == {}


def test_rate_limiting_reads_retry_after_seconds_case_insensitively() -> None:
    error = error_from_response(429, {"retry-after": "7"}, problem(429))

    assert isinstance(error, RateLimitedError)
    assert error.retry_after_s == 7.0


def test_rate_limiting_reads_retry_after_as_an_http_date() -> None:
    when = datetime.now(UTC) + timedelta(seconds=30)
    headers = {"Retry-After": format_datetime(when, usegmt=True)}

    error = error_from_response(429, headers, problem(429))

    assert isinstance(error, RateLimitedError)
    assert error.retry_after_s is not None
    assert 25 <= error.retry_after_s <= 31


@pytest.mark.parametrize("value", [None, "", "soon"])
def test_rate_limiting_without_a_usable_retry_after_leaves_it_unset(value: str | None) -> None:
    headers = {} if value is None else {"Retry-After": value}

    error = error_from_response(429, headers, problem(429))

    assert isinstance(error, RateLimitedError)
    assert error.retry_after_s is None


def test_a_non_json_body_still_yields_the_right_type_with_the_text_as_detail() -> None:
    error = error_from_response(502, {"Content-Type": "text/html"}, b"<h1>Bad Gateway</h1>\n")

    assert isinstance(error, ServerError)
    assert error.title == "Bad Gateway"
    assert error.detail == "<h1>Bad Gateway</h1>"
    assert error.problem == {}


@pytest.mark.parametrize("body", [b"", b"\xff\xfe not utf-8", b"[1, 2]", b"null"])
def test_empty_undecodable_or_non_object_bodies_are_tolerated(body: bytes) -> None:
    error = error_from_response(404, {}, body)

    assert isinstance(error, NotFoundError)
    assert error.title == "Not Found"
    assert error.problem == {}


def test_the_message_names_status_title_and_detail() -> None:
    error = error_from_response(409, PROBLEM_HEADERS, problem(409))

    assert str(error) == "409 Some title: Some detail"


def test_errors_inside_a_field_stay_under_the_field_name_with_their_path() -> None:
    body = problem(422, errors={"events": {"0": ["Must be one of: a, b."]}, "earn_rule": {"points": ["Too big."]}})

    error = error_from_response(422, PROBLEM_HEADERS, body)

    assert isinstance(error, ValidationError)
    assert error.errors == {"events": ["0: Must be one of: a, b."], "earn_rule": ["points: Too big."]}
