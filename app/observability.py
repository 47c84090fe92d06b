"""What an operator watches: every request's id and access line (docs/operations.md#observability)."""

from __future__ import annotations

import logging
import time

from flask import Flask, Response, g, request

from app import logs

log = logging.getLogger(__name__)


def register(app: Flask) -> None:
    logs.configure(app)
    # First of all before_request functions: the clock starts before any other work.
    app.before_request_funcs.setdefault(None, []).insert(0, _start_clock)
    app.after_request(_answered)


def _start_clock() -> None:
    g.request_started_s = time.perf_counter()


def _answered(response: Response) -> Response:
    """The request id in the answer, and the access line."""
    response.headers[logs.REQUEST_ID_HEADER] = logs.request_id() or ""
    try:
        started_s = g.get("request_started_s")
        duration_s = time.perf_counter() - started_s if started_s is not None else 0.0
        duration_ms = round(duration_s * 1000, 1)
        fields = {"method": request.method, "path": request.path, "status": response.status_code}
        logs.access_log.info(
            "%s %s %s %sms", *fields.values(), duration_ms, extra={**fields, "duration_ms": duration_ms}
        )
    except Exception:  # watching a request must never break its answer
        log.exception("observing a request failed")
    return response
