"""gunicorn hooks for the click buffer: ``gunicorn -c python:app.clicks.gunicorn ...``.

A worker that stops (restart, deploy, SIGTERM) writes its buffered clicks
before it exits; atexit does the same, this hook makes it explicit.
"""

from __future__ import annotations


def worker_exit(server, worker) -> None:
    app = getattr(worker, "wsgi", None)
    if app is None or "clicks" not in getattr(app, "extensions", {}):
        return
    from app.clicks.services import stop

    try:
        written = stop(app)
    except Exception:  # noqa: BLE001 - never keep a worker from exiting
        server.log.exception("flushing click statistics at worker exit failed")
        return
    if written:
        server.log.info("worker %s flushed %s buffered clicks", worker.pid, written)
