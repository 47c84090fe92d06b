"""Domain errors and the one registry that turns them into answers.

Services raise errors declared by their feature (``app/<feature>/errors.py``),
each a subclass of one of the kinds below; they know nothing of HTTP. The
registry ``PROBLEMS`` maps each problem type to its status and its one title,
and every answer is built from it: under ``/v1`` an
``application/problem+json`` body (RFC 9457), everywhere else an HTML page.
Router errors (an unknown URL, a method not allowed) go the same way.
"""

from __future__ import annotations

import http
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import marshmallow as ma
from flask import Flask, Response, json, request
from flask_smorest import Api
from flask_smorest.utils import prepare_response
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

import ledger
from app.constants import DATABASE_RETRY_AFTER_S
from app.logs import request_id

PROBLEM_MIME = "application/problem+json"
API_PREFIX = "/v1/"
# Machine callers outside /v1 (Stripe's webhooks, load balancers, Prometheus) get problem+json too.
JSON_PREFIXES = (API_PREFIX, "/stripe/", "/ready", "/metrics")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Problem:
    status: int
    title: str
    # What it means and what to do; ``/problems/<type>`` shows it (the type's URI resolves).
    description: str = ""

    def explained(self) -> str:
        return self.description or f"The request was answered with HTTP {self.status} ({self.title})."


def _slug(phrase: str) -> str:
    return phrase.lower().replace("'", "").replace(" ", "-")


# One title per problem type, by construction: the type is the key.
PROBLEMS: dict[str, Problem] = {
    "bad-request": Problem(
        400,
        "Bad request",
        "The request could not be read: not valid JSON, JSON nested too deeply, a NUL character in a query or "
        "form value, or a Stripe webhook without a valid signature. Nothing was changed.",
    ),
    "link-refused": Problem(
        400,
        "This sign-in link cannot be used",
        "The link expired, was used already, or is not ours: ask for a new one.",
    ),
    "unauthorized": Problem(
        401,
        "Authentication required",
        "No key was sent, or the key is unknown or revoked: send `Authorization: Bearer <key>` with a live key.",
    ),
    "forbidden": Problem(403, "Not allowed", "The key is valid but may not do this."),
    "not-found": Problem(
        404,
        "Not found",
        "Nothing here, or it belongs to another merchant or affiliate: both answer the same, on purpose.",
    ),
    "method-not-allowed": Problem(
        405, "Method not allowed", "This path does not take this method; the `Allow` header lists those it takes."
    ),
    "conflict": Problem(
        409,
        "Conflict",
        "The request clashes with the current state (a concurrent twin made the same change, or the resource is "
        "not in a state that allows it): read it again, then decide.",
    ),
    "idempotency-conflict": Problem(
        409,
        "Idempotency key reused",
        "This key (an order_id, refund_id, payout_id or Idempotency-Key header) was already used with another body. "
        "The same body answers the first result; a new request needs a new key.",
    ),
    "hold-already-resolved": Problem(
        409,
        "Hold already resolved",
        "The redemption's hold on the points was already posted or voided: it resolves once.",
    ),
    "hold-expired": Problem(
        409, "Hold expired", "The redemption timed out before it was fulfilled; its points went back to the member."
    ),
    "out-of-stock": Problem(409, "Out of stock", "The reward has no stock (or no voucher code) left."),
    "not-available": Problem(409, "Not available", "The reward is inactive or outside its active window."),
    "payload-too-large": Problem(413, "Payload too large", "The body is over the 64 KiB limit; send smaller batches."),
    "unsupported-media-type": Problem(
        415, "Unsupported media type", "Send `Content-Type: application/json` (or text/csv where a call says so)."
    ),
    "validation-failed": Problem(
        422,
        "The request is not valid",
        "A field is missing, unknown, of the wrong type or out of range: `errors` names each one. Nothing was changed.",
    ),
    "insufficient-points": Problem(422, "Not enough points", "The member's available points do not cover this."),
    "too-many-requests": Problem(
        429, "Too many requests", "A rate limit was reached: wait as many seconds as `Retry-After` says, then retry."
    ),
    "internal-error": Problem(
        500,
        "Internal error",
        "Something failed on our side and nothing you sent was kept; `request_id` finds it in our logs.",
    ),
    "service-unavailable": Problem(
        503,
        "Service unavailable",
        "The database cannot be reached right now; nothing was changed. Retry after `Retry-After` seconds.",
    ),
}

# The router's and the framework's errors, by status; any other status gets a type of its own.
_HTTP_TYPES = {problem.status: name for name, problem in reversed(PROBLEMS.items())}
_HTTP_TYPES.update({400: "bad-request", 409: "conflict", 422: "validation-failed", 500: "internal-error"})
for _status in http.HTTPStatus:
    if _status >= 400 and _status not in _HTTP_TYPES:
        _HTTP_TYPES[_status] = _slug(_status.phrase)
        PROBLEMS[_HTTP_TYPES[_status]] = Problem(_status, _status.phrase)

# Registered after the framework's types, so that a bare 402 or 502 keeps its generic type.
PROBLEMS.update(
    {
        "payment-method-declined": Problem(
            402, "Payment method declined", "The card's issuer or the bank declined the payment method."
        ),
        "payment-method-refused": Problem(
            422, "Payment method refused", "Stripe does not know the payment method or will not attach it."
        ),
        "payment-provider-error": Problem(
            502,
            "Payment provider error",
            "Stripe could not be reached or failed; nothing was recorded. Retry later.",
        ),
    }
)


class DomainError(Exception):
    """A refusal a service raises: ``problem`` names its type in ``PROBLEMS``."""

    problem: ClassVar[str] = "bad-request"

    def __init__(self, detail: str, *, errors: dict | None = None):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors


class NotFound(DomainError):
    problem = "not-found"


class Unauthorized(DomainError):
    problem = "unauthorized"


class Forbidden(DomainError):
    problem = "forbidden"


class Conflict(DomainError):
    problem = "conflict"


class Invalid(DomainError):
    problem = "validation-failed"


class TooManyRequests(DomainError):
    problem = "too-many-requests"


# The ledger's refusals; any other LedgerError is a broken invariant (a bug): 500.
LEDGER_PROBLEMS: dict[type[ledger.LedgerError], str] = {
    ledger.IdempotencyConflict: "idempotency-conflict",
    ledger.InsufficientPoints: "insufficient-points",
    ledger.HoldAlreadyResolved: "hold-already-resolved",
    ledger.HoldExpired: "hold-expired",
    ledger.HoldNotFound: "not-found",
}


def problem_of(error: BaseException) -> tuple[str, Problem, str, dict | None]:
    """(type, problem, detail, per-field errors) of any error an answer can carry."""
    if isinstance(error, DomainError):
        return error.problem, PROBLEMS[error.problem], error.detail, error.errors
    if isinstance(error, ledger.LedgerError):
        for kind, name in LEDGER_PROBLEMS.items():
            if isinstance(error, kind):
                return name, PROBLEMS[name], str(error), None
        log.exception("ledger invariant refused a write", exc_info=error)
        return "internal-error", PROBLEMS["internal-error"], "The ledger refused an inconsistent write.", None
    if isinstance(error, HTTPException):
        return _http_problem(error)
    if isinstance(error, RecursionError) and "decoding a JSON" in str(error):
        return "bad-request", PROBLEMS["bad-request"], "The JSON document is nested too deeply.", None
    if _database_unavailable(error):
        log.warning("database unavailable: %s", type(error).__name__, exc_info=error)
        detail = "The database cannot be reached just now; nothing was changed. Retry shortly."
        return "service-unavailable", PROBLEMS["service-unavailable"], detail, None
    if isinstance(error, IntegrityError) and is_unique_violation(error):
        # Services check before they insert; a unique key can still refuse a concurrent twin.
        detail = "A concurrent request made the same change; read it and retry if needed."
        return "conflict", PROBLEMS["conflict"], detail, None
    log.exception("unhandled error", exc_info=error)
    return "internal-error", PROBLEMS["internal-error"], "Something went wrong on our side.", None


_SQLITE_NOT_OUTAGES = ("no such table", "no such column", "near ", "table ", "index ")


def _database_unavailable(error: BaseException) -> bool:
    """The database is down, restarting or refusing connections (or, on SQLite, locked
    past the busy timeout): the request can be retried as it is."""
    if isinstance(error, InterfaceError | PoolTimeout):
        return True
    if isinstance(error, OperationalError):
        # SQLite also reports a missing table as an OperationalError: that is a bug, not an outage.
        return not str(error.orig).startswith(_SQLITE_NOT_OUTAGES)
    return isinstance(error, DBAPIError) and error.connection_invalidated


def _http_problem(error: HTTPException) -> tuple[str, Problem, str, dict | None]:
    name = _HTTP_TYPES.get(error.code or 500, "internal-error")
    data = getattr(error, "data", None) or {}
    errors = _flatten_webargs(data["messages"]) if "messages" in data else None
    detail = data.get("message") or error.description or PROBLEMS[name].title
    if name == "validation-failed" and errors:
        detail = "Some fields are missing or not valid; see errors."
    return name, PROBLEMS[name], detail, errors


def _flatten_webargs(messages: dict) -> dict:
    """webargs nests messages by location ({"json": {...}}); clients want fields."""
    flat: dict = {}
    for location, fields in messages.items():
        if isinstance(fields, dict):
            flat.update(fields)
        else:
            flat[location] = fields
    return flat


def _keyed_by_text(messages):
    """Messages with every key a string: marshmallow keys a list's items by index
    (ints) beside ``_schema``, and JSON objects (sorted when dumped) take text keys."""
    if isinstance(messages, dict):
        return {str(key): _keyed_by_text(value) for key, value in messages.items()}
    if isinstance(messages, list):
        return [_keyed_by_text(value) for value in messages]
    return messages


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
    request_id = ma.fields.String(
        metadata={"description": "On 5xx answers: the request's id (its X-Request-Id), to quote to the operator"}
    )


def conflict(description: str) -> dict:
    """Arguments of ``alt_response`` documenting a 409 problem."""
    return {"schema": ProblemSchema, "content_type": PROBLEM_MIME, "description": description}


def problem_response(error: BaseException) -> Response:
    """The problem+json answer to ``error``."""
    name, found, detail, errors = problem_of(error)
    body = {"type": f"/problems/{name}", "title": found.title, "status": found.status, "detail": detail}
    if errors:
        body["errors"] = _keyed_by_text(errors)
    if found.status >= 500:
        # What an operator searches the logs for to find this answer's traceback.
        body["request_id"] = request_id()
    return _with_router_headers(Response(json.dumps(body), status=found.status, mimetype=PROBLEM_MIME), error, name)


def _with_router_headers(response: Response, error: BaseException, name: str) -> Response:
    """The router's and webargs' own headers (``Allow`` on a 405) stay on the answer;
    a database that cannot be reached says when to come back (``Retry-After``)."""
    if name == "service-unavailable":
        response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER_S)
    if isinstance(error, HTTPException):
        extra = (getattr(error, "data", None) or {}).get("headers") or {}
        for header, value in {**dict(error.get_headers()), **extra}.items():
            if header.lower() != "content-type":
                response.headers[header] = value
    return response


PageRenderer = Callable[[int, str, str], Response]


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
        return answer_error(error)


_page: list[PageRenderer] = []


def answer_error(error: BaseException) -> Response:
    """problem+json under /v1 (and /stripe/), an HTML page everywhere else."""
    if request.path.startswith(JSON_PREFIXES) or request.path == API_PREFIX.rstrip("/") or not _page:
        return problem_response(error)
    name, found, detail, _errors = problem_of(error)
    if found.status >= 500:
        detail = f"{detail} Reference: {request_id()}."
    return _with_router_headers(_page[0](found.status, found.title, detail), error, name)


def register(app: Flask, *, page: PageRenderer) -> None:
    """Answer every error through the registry; ``page`` renders the HTML pages."""
    _page[:] = [page]
    for kind in (DomainError, ledger.LedgerError, IntegrityError, HTTPException, Exception):
        app.register_error_handler(kind, answer_error)


def is_unique_violation(error: IntegrityError) -> bool:
    """A unique key refused the row (PostgreSQL SQLSTATE 23505, SQLite's UNIQUE failure)."""
    orig = error.orig
    return getattr(orig, "sqlstate", None) == "23505" or str(orig).startswith("UNIQUE constraint failed")
