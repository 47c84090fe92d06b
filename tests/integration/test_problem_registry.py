"""One registry of problem types: every error the app can raise names a type there,
and every answer of a type carries that type's one title and status."""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from werkzeug.exceptions import HTTPException, default_exceptions

import app as app_package
import ledger
from app.errors import LEDGER_PROBLEMS, PROBLEMS, DomainError, problem_response

PROBLEM_MIME = "application/problem+json"


def _all_subclasses(base: type) -> set[type]:
    found = set()
    for sub in base.__subclasses__():
        found |= {sub, *_all_subclasses(sub)}
    return found


def _domain_errors() -> set[type[DomainError]]:
    # Import every module of app/ so that every feature's errors are declared.
    for module in pkgutil.walk_packages(app_package.__path__, "app."):
        importlib.import_module(module.name)
    return _all_subclasses(DomainError) | {DomainError}


def test_every_domain_error_names_a_registered_problem_type():
    unregistered = {cls.__qualname__: cls.problem for cls in _domain_errors() if cls.problem not in PROBLEMS}
    assert unregistered == {}


def test_every_ledger_refusal_names_a_registered_problem_type():
    assert set(LEDGER_PROBLEMS.values()) <= set(PROBLEMS)
    refusals = {ledger.IdempotencyConflict, ledger.InsufficientPoints, ledger.HoldAlreadyResolved}
    assert refusals <= set(LEDGER_PROBLEMS)


def test_problem_types_have_distinct_titles_and_an_error_status():
    titles = [problem.title for problem in PROBLEMS.values()]
    assert len(titles) == len(set(titles)), "two problem types share a title"
    assert all(400 <= problem.status <= 599 for problem in PROBLEMS.values())


@pytest.mark.parametrize("error_class", sorted(_domain_errors(), key=lambda cls: cls.__qualname__), ids=str)
def test_a_domain_error_is_answered_with_its_types_title_and_status(app, error_class):
    error = error_class.__new__(error_class)
    DomainError.__init__(error, "detail")
    with app.test_request_context("/v1/anything"):
        response = problem_response(error)
    body = response.get_json()
    expected = PROBLEMS[error_class.problem]
    assert (response.status_code, response.mimetype) == (expected.status, PROBLEM_MIME)
    assert (body["type"], body["title"], body["status"]) == (
        f"/problems/{error_class.problem}",
        expected.title,
        expected.status,
    )


@pytest.mark.parametrize("code", sorted(default_exceptions))
def test_a_framework_error_gets_the_registered_title_of_its_status(app, code):
    with app.test_request_context("/v1/anything"):
        body = problem_response(default_exceptions[code]()).get_json()
    name = body["type"].removeprefix("/problems/")
    assert (body["status"], body["title"]) == (PROBLEMS[name].status, PROBLEMS[name].title)
    assert issubclass(default_exceptions[code], HTTPException)


def test_an_unknown_api_route_is_a_problem_404_and_a_wrong_method_a_405_with_allow(client, admin_headers):
    missing = client.get("/v1/nope", headers=admin_headers)
    assert (missing.status_code, missing.mimetype) == (404, PROBLEM_MIME)
    assert missing.get_json()["title"] == PROBLEMS["not-found"].title
    wrong = client.put("/v1/merchants", headers=admin_headers)
    assert (wrong.status_code, wrong.mimetype) == (405, PROBLEM_MIME)
    assert wrong.get_json()["title"] == PROBLEMS["method-not-allowed"].title
    assert set(wrong.headers["Allow"].split(", ")) >= {"GET", "POST"}


@pytest.mark.parametrize("path", ["/nope", "/items/abc", "/c/"])
def test_an_unknown_page_is_an_html_404(client, path):
    response = client.get(path)
    assert (response.status_code, response.mimetype) == (404, "text/html")
    assert b"<html" in response.data.lower()


def test_a_wrong_method_on_a_page_is_an_html_405_with_allow(client):
    response = client.delete("/signin")
    assert (response.status_code, response.mimetype) == (405, "text/html")
    assert "GET" in response.headers["Allow"]
