"""One error shape for the whole API: application/problem+json (RFC 9457)."""

from __future__ import annotations

import http
import logging

import marshmallow as ma
from flask import Flask, Response, json
from flask_smorest import Api
from flask_smorest.utils import prepare_response
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException

import ledger

PROBLEM_MIME = "application/problem+json"
log = logging.getLogger(__name__)


class ProblemSchema(ma.Schema):
    """An error, as RFC 9457 problem details."""

    type = ma.fields.String(metadata={"description": "URI reference naming the kind of problem"})
    title = ma.fields.String(metadata={"description": "Short summary of the kind of problem"})
    status = ma.fields.Integer(metadata={"description": "HTTP status code"})
    detail = ma.fields.String(metadata={"description": "What went wrong with this request"})
    errors = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Raw(),
        metadata={"description": "Per-field messages, for validation problems"},
    )


class ApiError(Exception):
    """A refusal the service layer raises; rendered as a problem once, here."""

    status = 400
    slug = "bad-request"
    title = "Bad request"

    def __init__(self, detail: str, *, errors: dict | None = None):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors


class NotFound(ApiError):
    status, slug, title = 404, "not-found", "Not found"


class Unauthorized(ApiError):
    status, slug, title = 401, "unauthorized", "Authentication required"


class Forbidden(ApiError):
    status, slug, title = 403, "forbidden", "Not allowed"


class Conflict(ApiError):
    status, slug, title = 409, "conflict", "Conflict"


class Unprocessable(ApiError):
    status, slug, title = 422, "validation-failed", "The request is not valid"


def conflict(description: str) -> dict:
    """Arguments of ``alt_response`` documenting a 409 problem."""
    return {"schema": ProblemSchema, "content_type": PROBLEM_MIME, "description": description}


def problem(
    status: int, slug: str, title: str, detail: str, *, errors: dict | None = None, headers: dict | None = None
) -> Response:
    body = {"type": f"/problems/{slug}", "title": title, "status": status, "detail": detail}
    if errors:
        body["errors"] = errors
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_MIME)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _flatten_webargs(messages: dict) -> dict:
    """webargs nests messages by location ({"json": {...}}); clients want fields."""
    flat: dict = {}
    for location, fields in messages.items():
        if isinstance(fields, dict):
            flat.update(fields)
        else:
            flat[location] = fields
    return flat


_LEDGER_PROBLEMS: list[tuple[type[Exception], int, str, str]] = [
    (ledger.IdempotencyConflict, 409, "idempotency-conflict", "Idempotency key reused"),
    (ledger.InsufficientPoints, 422, "insufficient-points", "Not enough points"),
    (ledger.HoldAlreadyResolved, 409, "hold-already-resolved", "Hold already resolved"),
    (ledger.HoldExpired, 409, "hold-expired", "Hold expired"),
    (ledger.HoldNotFound, 404, "not-found", "Not found"),
]


class ProblemApi(Api):
    ERROR_SCHEMA = ProblemSchema

    def _register_responses(self):
        """Document every error response as application/problem+json."""
        for status in http.HTTPStatus:
            response = {"description": status.phrase}
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_MIME)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Default error response", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_MIME)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)

    def handle_http_exception(self, error: HTTPException):
        data = getattr(error, "data", None) or {}
        errors = None
        if "messages" in data:
            errors = _flatten_webargs(data["messages"])
        detail = data.get("message") or error.description or error.name
        if error.code == 422 and errors:
            detail = "Some fields are missing or not valid; see errors."
        slug = "validation-failed" if error.code == 422 else error.name.lower().replace(" ", "-")
        return problem(error.code or 500, slug, error.name, detail, errors=errors, headers=data.get("headers"))


def register(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(error: ApiError):
        return problem(error.status, error.slug, error.title, error.detail, errors=error.errors)

    @app.errorhandler(ledger.LedgerError)
    def _ledger_error(error: ledger.LedgerError):
        for kind, status, slug, title in _LEDGER_PROBLEMS:
            if isinstance(error, kind):
                return problem(status, slug, title, str(error))
        log.exception("ledger invariant refused a write", exc_info=error)
        return problem(500, "internal-error", "Internal error", "The ledger refused an inconsistent write.")

    @app.errorhandler(IntegrityError)
    def _integrity_error(error: IntegrityError):
        # Services check before they insert; a unique key can still refuse a concurrent twin.
        if not is_unique_violation(error):
            log.exception("a database constraint refused a write", exc_info=error)
            return problem(500, "internal-error", "Internal error", "Something went wrong on our side.")
        return problem(
            409, "conflict", "Conflict", "A concurrent request made the same change; read it and retry if needed."
        )

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        # HTTP exceptions have their own, more specific handler (ProblemApi).
        log.exception("unhandled error", exc_info=error)
        return problem(500, "internal-error", "Internal error", "Something went wrong on our side.")


def is_unique_violation(error: IntegrityError) -> bool:
    """A unique key refused the row (PostgreSQL SQLSTATE 23505, SQLite's UNIQUE failure)."""
    orig = error.orig
    return getattr(orig, "sqlstate", None) == "23505" or str(orig).startswith("UNIQUE constraint failed")
