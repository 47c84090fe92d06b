"""Logs: one request id per request, in every record, and JSON lines in production.

A request's id is the caller's ``X-Request-Id`` when it is sane (visible ASCII,
at most ``REQUEST_ID_LENGTH_MAX`` characters), else a fresh random one; it is
answered in the ``X-Request-Id`` header and carried by every log record made
while the request runs, so one id finds the access line, the traceback and the
problem+json answer of the same request.

Records get their request fields from a record factory rather than a handler
filter: a filter on our handler would miss the handlers others attach (pytest's
caplog, gunicorn's, an error tracker's), the factory stamps every record once.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Flask, has_request_context, request
from flask.logging import default_handler

REQUEST_ID_HEADER = "X-Request-Id"
REQUEST_ID_LENGTH_MAX = 128
_SANE_REQUEST_ID = re.compile(rf"[!-~]{{1,{REQUEST_ID_LENGTH_MAX}}}")
_ENVIRON_KEY = "loyalty.request_id"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
# The access line's fields: the JSON formatter writes them when a record carries them.
ACCESS_FIELDS = ("method", "path", "status", "duration_ms")
access_log = logging.getLogger("app.access")


def sane_request_id(value: str | None) -> str | None:
    """``value`` if it can be logged and echoed as it is, else None."""
    if value is not None and _SANE_REQUEST_ID.fullmatch(value):
        return value
    return None


def request_id() -> str | None:
    """The id of the request being served (chosen on first use), None outside a request."""
    if not has_request_context():
        return None
    environ = request.environ
    found = environ.get(_ENVIRON_KEY)
    if found is None:
        found = sane_request_id(environ.get("HTTP_X_REQUEST_ID")) or uuid.uuid4().hex
        environ[_ENVIRON_KEY] = found
    return found


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        for name in ACCESS_FIELDS:
            if hasattr(record, name):
                line[name] = getattr(record, name)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def _install_record_factory() -> None:
    """Stamp ``request_id`` on every record, once per process (apps come and go in tests)."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "stamps_request_id", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        record.request_id = request_id()
        return record

    factory.stamps_request_id = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


class _OurHandler(logging.StreamHandler):
    """The one handler create_app puts on the root logger (replaced, never added twice)."""


def configure(app: Flask) -> None:
    """Request ids always; a stderr handler in LOG_FORMAT unless under tests, whose
    output pytest captures and shows (plain) on failure."""
    _install_record_factory()
    if app.testing:
        return
    # Flask's own stderr handler on app.logger would print every app.* record a second time.
    logging.getLogger(app.logger.name).removeHandler(default_handler)
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _OurHandler)]:
        root.removeHandler(handler)
    handler = _OurHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if app.config["LOG_FORMAT"] == "json" else logging.Formatter(TEXT_FORMAT))
    root.addHandler(handler)
    root.setLevel(app.config["LOG_LEVEL"])
