"""The platform's Prometheus metrics, created once per process in the default registry.

They are module-level on purpose: prometheus_client refuses a second metric of
the same name in one registry, and tests (like a gunicorn master that imports
the app before forking) create many apps in one process. A metric counts what
the process did, whichever app did it; ``/metrics`` reads them back.

Features import this module only (it imports nothing of ``app``), and count
after their unit of work committed: a rolled-back or replayed request counts
nothing. Under gunicorn, ``PROMETHEUS_MULTIPROC_DIR`` (read by prometheus_client
when it is imported) makes every worker, the ``flask worker`` and ``flask jobs
run`` write their values to files there, which ``exposition`` adds up.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

# The methods a route can answer; anything else a client invents is counted as "other".
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED_ROUTE = "unmatched"

http_request_duration = Histogram(
    "loyalty_http_request_duration_seconds",
    "Time from the request reaching the app to its answer, by route rule (not the raw path).",
    ["method", "route", "status"],
)
orders_recorded = Counter("loyalty_orders_recorded", "Orders recorded (replays not counted).")
refunds_recorded = Counter("loyalty_refunds_recorded", "Refunds recorded (replays not counted).")
clicks_counted = Counter("loyalty_clicks_counted", "Clicks on /c/<code> counted into the click buffer.")
clicks_dropped = Counter("loyalty_clicks_dropped", "Clicks dropped because the click buffer was full.")
click_flushes = Counter("loyalty_click_flushes", "Flushes of the click buffer that wrote counts.")
click_flush_rows = Counter("loyalty_click_flush_rows", "(link, hour) rows of click counts written by flushes.")
click_flush_failures = Counter("loyalty_click_flush_failures", "Flushes of the click buffer that failed (retried).")
job_runs = Counter("loyalty_job_runs", "Runs of a background job (flask jobs run, flask worker).", ["job"])
job_failures = Counter("loyalty_job_failures", "Runs of a background job that raised.", ["job"])
job_items = Counter("loyalty_job_items", "What the runs of a job did (the sum of its batches' counts).", ["job"])


def route_labels(method: str, rule: str | None, status: int) -> tuple[str, str, str]:
    """Bounded labels: a known method, the url rule or ``unmatched``, the status code."""
    return (method if method in HTTP_METHODS else "other", rule or UNMATCHED_ROUTE, str(status))


class _DefaultRegistry:
    """This process's metrics, inside a registry built for one scrape."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


def exposition(extra: Iterable[Collector], *, multiprocess_dir: str | None) -> bytes:
    """The text exposition of this process's metrics (or, with ``multiprocess_dir``,
    of every process writing there) plus ``extra`` collectors, read at scrape time."""
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess_dir:
        multiprocess.MultiProcessCollector(registry, path=multiprocess_dir)
    else:
        registry.register(_DefaultRegistry())
    for collector in extra:
        registry.register(collector)
    return generate_latest(registry)
