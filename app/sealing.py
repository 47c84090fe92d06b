"""Seal new journal entries into the hash chain and the log shortly after they commit.

Sealing runs at most once per LEDGER_SEAL_INTERVAL_S per process, after a
write request, in its own transaction; it never blocks on another sealer.
`flask ledger seal` seals everything that is left.
"""

from __future__ import annotations

import threading
import time

from flask import Flask, request

from app import unit_of_work
from app.extensions import db
from app.transparency import services as transparency
from app.unit_of_work import SAFE_METHODS

_lock = threading.Lock()
_last_seal_s = 0.0


def seal_now(*, wait: bool) -> int:
    """Seal one batch of committed entries in a unit of its own, and sign a tree head
    when one is due; returns how many entries were sealed."""
    with unit_of_work.unit() as uow:
        return uow.commit(transparency.seal_and_sign(uow, wait=wait))


def register(app: Flask) -> None:
    @app.teardown_request
    def _seal_after_writes(exc):
        global _last_seal_s
        if exc is not None or request.method in SAFE_METHODS:
            return
        interval_s = app.config["LEDGER_SEAL_INTERVAL_S"]
        if interval_s < 0:
            return
        now_s = time.monotonic()
        with _lock:
            if now_s - _last_seal_s < interval_s:
                return
            _last_seal_s = now_s
        # The request's session must let go of its connection first: on SQLite
        # it may hold the write lock that the sealer needs.
        db.session.close()
        try:
            seal_now(wait=False)
        except Exception:  # sealing is retried by the next request; never fail the caller
            app.logger.exception("sealing the journal failed")
