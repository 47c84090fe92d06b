"""What an operator watches: every request's id, access line and latency, ``/metrics``
for Prometheus and ``/ready`` for load balancers (docs/operations.md#observability).

``/health`` (in create_app) only says the process answers; ``/ready`` says it can
serve: the database answers within ``READY_DATABASE_TIMEOUT_S`` and its schema is
the one this release was written for. ``/metrics`` is for the operator's scraper:
the operator key or ``METRICS_TOKEN`` as a bearer, never open to the internet.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Iterator
from functools import wraps

from flask import Flask, Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select, text
from sqlalchemy.engine import Connection, Engine

import ledger
from app import logs, metrics, readiness
from app.constants import (
    METRICS_DATABASE_TIMEOUT_S,
    OUTBOX_DEPTH_COUNTED_MAX,
    READY_DATABASE_TIMEOUT_S,
)
from app.errors import DomainError, Unauthorized, problem_response
from app.extensions import db
from app.identity.auth import OPERATOR, bearer_token, grants, public
from app.webhooks.models import WebhookDelivery, WebhookEndpoint

log = logging.getLogger(__name__)


class MetricsKeyRequired(Unauthorized):
    def __init__(self) -> None:
        super().__init__("Scraping /metrics needs METRICS_TOKEN or the operator key.")


class NotReady(DomainError):
    problem = "service-unavailable"


def register(app: Flask) -> None:
    logs.configure(app)
    # First of all before_request functions: the clock starts before any other work.
    app.before_request_funcs.setdefault(None, []).insert(0, _start_clock)
    app.after_request(_answered)
    app.add_url_rule("/ready", "ready", ready, methods=["GET"])
    app.add_url_rule("/metrics", "metrics", scrape, methods=["GET"])


def _start_clock() -> None:
    g.request_started_s = time.perf_counter()


def _answered(response: Response) -> Response:
    """The request id in the answer; the access line and the latency histogram."""
    response.headers[logs.REQUEST_ID_HEADER] = logs.request_id() or ""
    try:
        started_s = g.get("request_started_s")
        duration_s = time.perf_counter() - started_s if started_s is not None else 0.0
        rule = request.url_rule.rule if request.url_rule is not None else None
        labels = metrics.route_labels(request.method, rule, response.status_code)
        metrics.http_request_duration.labels(*labels).observe(duration_s)
        duration_ms = round(duration_s * 1000, 1)
        fields = {"method": request.method, "path": request.path, "status": response.status_code}
        logs.access_log.info(
            "%s %s %s %sms", *fields.values(), duration_ms, extra={**fields, "duration_ms": duration_ms}
        )
    except Exception:  # watching a request must never break its answer
        log.exception("observing a request failed")
    return response


# -- /metrics -------------------------------------------------------------------------


@grants(OPERATOR)
def metrics_reader_required(view):
    """METRICS_TOKEN (when set) or the operator key passes."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        token = bearer_token().encode()
        keys = [current_app.config["LOYALTY_ADMIN_KEY"], current_app.config["METRICS_TOKEN"]]
        if not any(key and hmac.compare_digest(token, key.encode()) for key in keys):
            raise MetricsKeyRequired()
        return view(*args, **kwargs)

    return wrapper


@metrics_reader_required
def scrape() -> Response:
    """This process's metrics (every process's with PROMETHEUS_MULTIPROC_DIR) and the outbox."""
    body = metrics.exposition(
        (OutboxCollector(db.engine),), multiprocess_dir=current_app.config["PROMETHEUS_MULTIPROC_DIR"]
    )
    return Response(body, content_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})


class OutboxCollector:
    """The outbox read at scrape time: deliveries waiting for an enabled endpoint and
    the age of the oldest. Deliveries to a disabled endpoint wait on purpose and are
    left out. The count stops at ``OUTBOX_DEPTH_COUNTED_MAX``; the reads are bounded
    by ``METRICS_DATABASE_TIMEOUT_S`` on PostgreSQL; a failed read leaves both gauges
    out of the scrape (alert on their absence) rather than failing it."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            depth, oldest_age_s = self._read()
        except Exception:
            log.exception("reading the outbox for /metrics failed")
            return
        yield GaugeMetricFamily(
            "loyalty_outbox_pending_deliveries",
            f"Webhook deliveries pending for enabled endpoints (counted up to {OUTBOX_DEPTH_COUNTED_MAX}).",
            value=depth,
        )
        yield GaugeMetricFamily(
            "loyalty_outbox_oldest_pending_age_seconds",
            "Age of the oldest webhook delivery pending for an enabled endpoint (0 when none).",
            value=oldest_age_s,
        )

    def _read(self) -> tuple[int, float]:
        d, e = WebhookDelivery, WebhookEndpoint
        pending = select(d.created_at).join(e, e.id == d.endpoint_id).where(d.status == "pending", e.enabled.is_(True))
        counted = pending.limit(OUTBOX_DEPTH_COUNTED_MAX).subquery()
        with self.engine.connect() as connection:
            bound_statements(connection, METRICS_DATABASE_TIMEOUT_S)
            depth = connection.execute(select(func.count()).select_from(counted)).scalar_one()
            oldest = connection.execute(pending.with_only_columns(func.min(d.created_at))).scalar_one()
        age_s = (ledger.utcnow() - oldest).total_seconds() if oldest is not None else 0.0
        return depth, max(0.0, age_s)


def bound_statements(connection: Connection, timeout_s: float) -> None:
    """On PostgreSQL, no statement of this transaction may run longer than ``timeout_s``
    (SQLite is a local file: a read does not wait on the network or on writers)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text(f"SET LOCAL statement_timeout = {int(timeout_s * 1000)}"))


# -- /ready ---------------------------------------------------------------------------


@public
def ready():
    """200 when the database answers and its schema is this release's (or newer); else 503."""
    found = readiness.check(current_app, bound=lambda c: bound_statements(c, READY_DATABASE_TIMEOUT_S))
    if found.problem is not None:
        return _not_ready(found.problem[0].upper() + found.problem[1:] + ".")
    return {"status": "ready", "database": "ok", "migrations": found.migrations}


def _not_ready(detail: str) -> Response:
    # A service-unavailable problem carries Retry-After (app.errors); no-store comes with every
    # answer not listed as cacheable (app.security_headers).
    return problem_response(NotReady(detail))
