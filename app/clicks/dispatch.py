"""``/c/<code>`` ahead of Flask: the tracking redirect without the request stack.

The redirect is the platform's hottest public route, and Flask's stack (contexts,
routing, a dozen hooks) costs more than the redirect's own work. ``install`` puts a
small WSGI dispatcher in front of the Flask app: a GET or HEAD of ``/c/<code>`` goes
to ``Redirect``, every other request to Flask untouched.

``Redirect`` answers from the view's own state (``ClickState``: the link cache, the
token signer, the click buffer, the bot rules), with the view's 302 or 404 page and
every header Flask would add (``app.security_headers``, ``X-Request-Id``) and the
latency histogram of ``app.observability`` (and its access line, for a 404). It opens
an app context and a session on a cache miss only, and answers a malformed code (too
long, a slash, a newline, percent-encoded junk) with the unknown link's 404 page
without one. What it does not answer, Flask answers as before: ``/c/`` alone (the
site's 404 page), other methods (405 with ``Allow``), query strings or forms with NUL
(``app.input_guard``'s 400), and a request whose link lookup failed (the error pages).
Neither path is rate limited (``app.rate_limits`` exempts ``/c/``).
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask

from app import metrics, unit_of_work
from app.clicks.services import CODE, UNCACHED, Target, counted, state_of
from app.clicks.views import NOT_FOUND_PAGE
from app.logs import access_log, sane_request_id
from app.security_headers import headers_for
from ledger import utcnow

log = logging.getLogger(__name__)

PREFIX = "/c/"
ENDPOINT = "clicks.follow"
LEAN_METHODS = ("GET", "HEAD")
HTML = "text/html; charset=utf-8"
# Bodies app.input_guard reads for NUL characters: such a request goes to Flask.
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")
_STATUS_LINES = {302: "302 FOUND", 404: "404 NOT FOUND"}

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def install(app: Flask) -> None:
    """Put the dispatcher in front of ``app.wsgi_app``: gunicorn and the test client
    both call the app through it. Installed before ``ProxyFix`` (app.rate_limits), so
    a trusted proxy's client address reaches both paths."""
    app.wsgi_app = ClickDispatcher(app, app.wsgi_app)  # type: ignore[method-assign]


def leanable(environ: dict[str, Any], code: str) -> bool:
    """Does the lean redirect answer this ``/c/<code>`` request (a malformed code too)?"""
    query = environ.get("QUERY_STRING", "")
    return (
        environ.get("REQUEST_METHOD") in LEAN_METHODS
        and code != ""
        and "%00" not in query
        and "\x00" not in query
        and not environ.get("CONTENT_TYPE", "").lower().startswith(_FORMS)
    )


class ClickDispatcher:
    """WSGI: ``/c/<code>`` to ``Redirect``, everything else to ``flask_wsgi``."""

    def __init__(self, app: Flask, flask_wsgi: WSGIApp):
        self.app = app
        self.flask_wsgi = flask_wsgi
        # Built at the first click: create_app registers the click state after installing this.
        self._redirect: Redirect | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith(PREFIX) and leanable(environ, path[len(PREFIX) :]):
            redirect = self._redirect or self._build()
            return redirect(environ, start_response)
        return self.flask_wsgi(environ, start_response)

    def to_flask(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """What the lean redirect hands back: Flask, as the dispatcher holds it now."""
        return self.flask_wsgi(environ, start_response)

    def _build(self) -> Redirect:
        self._redirect = Redirect(self.app, fallback=self.to_flask)
        return self._redirect


class Redirect:
    """The lean handler: the answer's fixed parts are built once, a click signs a token,
    counts itself in the buffer and observes its latency."""

    def __init__(self, app: Flask, *, fallback: WSGIApp):
        self.app = app
        self.fallback = fallback
        self.state = state_of(app)
        production = app.config["LOYALTY_ENV"] == "production"
        # The headers app.security_headers adds to the view's HTML answers (no-store among them).
        secured = list(headers_for("text/html", ENDPOINT, False, production=production).items())
        self.not_found_body = NOT_FOUND_PAGE.encode()
        self.found_headers = [("Content-Type", HTML), ("Content-Length", "0"), *secured]
        self.not_found_headers = [("Content-Type", HTML), ("Content-Length", str(len(self.not_found_body))), *secured]
        rule = next(rule.rule for rule in app.url_map.iter_rules() if rule.endpoint == ENDPOINT)
        self.latency = {
            (method, status): metrics.http_request_duration.labels(*metrics.route_labels(method, rule, status))
            for method in LEAN_METHODS
            for status in _STATUS_LINES
        }

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        started_s = time.perf_counter()
        method = environ["REQUEST_METHOD"]
        try:
            status, headers, body = self.answer(environ, method)
        except Exception:  # Flask answers instead, with its error pages (a click fails before it is counted)
            log.exception("the lean redirect failed; the Flask view answers instead")
            return self.fallback(environ, start_response)
        # As app.logs: the caller's id when sane, else 32 random hex digits.
        request_id = sane_request_id(environ.get("HTTP_X_REQUEST_ID")) or os.urandom(16).hex()
        headers.append(("X-Request-Id", request_id))
        start_response(_STATUS_LINES[status], headers)
        self.observe(environ, method, status, request_id, started_s)
        return [] if method == "HEAD" else [body]

    def answer(self, environ: dict[str, Any], method: str) -> tuple[int, list[tuple[str, str]], bytes]:
        """The status, headers and body of a click; counting it is the last step that may fail."""
        state = self.state
        code = environ["PATH_INFO"][len(PREFIX) :]
        if CODE.fullmatch(code) is None:
            target = None  # no link has such a code: no lookup, the same page
        else:
            target = state.cached(code)
            if target is UNCACHED:
                target = self.load(code)
        if target is None:
            return 404, self.not_found_headers.copy(), self.not_found_body
        token = state.tokens.issue(
            click_id=secrets.token_urlsafe(12),
            affiliate_id=target.affiliate_id,
            program_id=target.program_id,
            link_id=target.link_id,
        )
        user_agent = environ.get("HTTP_USER_AGENT", "")
        if counted(method, user_agent):
            state.record(target.link_id, utcnow(), state.visitor(environ.get("REMOTE_ADDR") or "", user_agent))
        return 302, [("Location", target.location(token)), *self.found_headers], b""

    def load(self, code: str) -> Target | None:
        """A cache miss: the link read in an app context, on a read-only unit's session."""
        with self.app.app_context(), unit_of_work.unit(read_only=True) as uow:
            return self.state.load(uow.session, code)

    def observe(self, environ: dict[str, Any], method: str, status: int, request_id: str, started_s: float) -> None:
        """What app.observability does for a Flask answer, less the access line of a 302: at
        a click peak that is thousands of lines a second, each costing about as much as the
        redirect's own work, while the histogram counts them and click_stats records them."""
        try:
            duration_s = time.perf_counter() - started_s
            self.latency[method, status].observe(duration_s)
            if status == 302 or not access_log.isEnabledFor(logging.INFO):
                return
            duration_ms = round(duration_s * 1000, 1)
            path = (
                environ["PATH_INFO"].encode("latin-1", "replace").decode("utf-8", "replace")
            )  # as request.path reads it
            fields = {"method": method, "path": path, "status": status, "duration_ms": duration_ms}
            record = access_log.makeRecord(
                access_log.name, logging.INFO, __file__, 0, "%s %s %s %sms", tuple(fields.values()), None, extra=fields
            )
            record.request_id = request_id  # outside a Flask request: the record factory cannot know it
            access_log.handle(record)
        except Exception:  # watching a request must never break its answer
            log.exception("observing a redirect failed")
