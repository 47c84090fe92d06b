"""The JSON lines formatter and the logging configuration (no database, no app)."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from app import config
from app.logs import JsonFormatter, sane_request_id


def record(message: str = "order %s recorded", *args, exc_info=None, **extra) -> logging.LogRecord:
    if not args and message == "order %s recorded":
        args = ("o-1",)
    return logging.getLogger("app.orders").makeRecord(
        "app.orders", logging.WARNING, __file__, 1, message, args, exc_info, extra=extra or None
    )


def test_a_record_is_one_json_object_on_one_line_with_the_fields():
    stamped = record()
    stamped.request_id = "r-1"  # as the record factory stamps it in a request

    line = JsonFormatter().format(stamped)

    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["message"] == "order o-1 recorded"
    assert parsed["level"] == "WARNING"
    assert parsed["logger"] == "app.orders"
    assert parsed["request_id"] == "r-1"
    assert parsed["time"].endswith("+00:00")
    assert "exception" not in parsed and "status" not in parsed


def test_the_access_line_carries_method_path_status_and_duration():
    access = record("%s %s", "GET", "/health", method="GET", path="/health", status=200, duration_ms=1.5)

    parsed = json.loads(JsonFormatter().format(access))

    assert {key: parsed[key] for key in ("method", "path", "status", "duration_ms")} == {
        "method": "GET",
        "path": "/health",
        "status": 200,
        "duration_ms": 1.5,
    }


def test_an_exception_is_kept_whole_in_one_line():
    try:
        raise ValueError("broken\ninvariant")
    except ValueError:
        failed = record("it failed", exc_info=sys.exc_info())

    line = JsonFormatter().format(failed)

    assert "\n" not in line
    exception = json.loads(line)["exception"]
    assert exception.startswith("Traceback (most recent call last):")
    assert "ValueError: broken\ninvariant" in exception


def test_a_record_outside_a_request_has_a_null_request_id():
    assert json.loads(JsonFormatter().format(record()))["request_id"] is None


def test_a_message_that_would_forge_a_line_stays_inside_its_string():
    line = JsonFormatter().format(record("%s", 'x"}\n{"level": "INFO'))

    assert "\n" not in line
    assert json.loads(line)["message"] == 'x"}\n{"level": "INFO'


@pytest.mark.parametrize(
    ("given", "kept"),
    [("abc-123", True), ("a" * 128, True), ("a" * 129, False), ("a\nb", False), ("a b", False), ("", False)],
)
def test_a_request_id_is_kept_only_when_sane(given, kept):
    assert (sane_request_id(given) == given) is kept


def test_logs_are_json_in_production_and_text_elsewhere(tmp_path):
    assert config.load(str(tmp_path), {"LOYALTY_ENV": "production"})["LOG_FORMAT"] == "json"
    assert config.load(str(tmp_path), {})["LOG_FORMAT"] == "text"
    assert config.load(str(tmp_path), {"LOG_FORMAT": "json"})["LOG_FORMAT"] == "json"


@pytest.mark.parametrize("env", [{"LOG_FORMAT": "xml"}, {"LOG_LEVEL": "LOUD"}])
def test_an_unknown_log_format_or_level_is_refused(tmp_path, env):
    with pytest.raises(config.ConfigError):
        config.load(str(tmp_path), env)
