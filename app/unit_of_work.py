"""The unit of work: the one way a request or a job changes the database.

Every request and every job runs in a ``UnitOfWork``. It owns the transaction:
nothing is kept unless ``commit`` is called, and leaving the unit (the end of
the request, the end of the ``with`` block, an exception) rolls back whatever
was not committed. This module is the only place in ``app/`` that commits or
rolls back.

It also holds the one idempotency mechanism, ``once``: the key is claimed, the
work done, the answer stored and the outbox rows written in **one**
transaction, so a retry either finds the whole first answer or nothing at all.
The claim writes nothing (a lock on the key and a read); the record is written
once, with its answer, at ``commit``.
The request it fingerprints is the loaded, normalized request (what the schema
made of the body), never the raw bytes: the same order with the email in
another case is the same request.

On SQLite a unit that writes starts with ``BEGIN IMMEDIATE`` (the write lock
up front, instead of a failed upgrade from a read lock later); a unit that only
reads (a GET request) begins deferred and never blocks writers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, g, has_request_context, jsonify, request
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

import ledger
from app.errors import Conflict, Invalid, conflict

T = TypeVar("T")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_HEADER_DOC = {
    "parameters": [
        {
            "in": "header",
            "name": IDEMPOTENCY_HEADER,
            "required": False,
            "schema": {"type": "string", "pattern": f"^[!-~]{{1,{ledger.IDEMPOTENCY_KEY_LENGTH_MAX}}}$"},
            "description": "Makes a retry of this call return the first answer "
            f"(1 to {ledger.IDEMPOTENCY_KEY_LENGTH_MAX} visible ASCII characters).",
        }
    ]
}

# Units that only read, outside a request (a job that reports): begin deferred on SQLite.
_read_only: ContextVar[bool] = ContextVar("unit_of_work_read_only", default=False)

# The outbox writer: app.webhooks registers it at start-up, so this module depends on no feature.
Outbox = Callable[..., object]  # (session, owner_kind, owner_id, event_type, data, *, now)
_outbox: list[Outbox] = []


class IdempotencyKeyReused(Conflict):
    """The key was first used for another request."""

    problem = "idempotency-conflict"


class UnitOfWork:
    """One transaction at a time on ``session``; rolled back unless committed.

    ``now`` is the unit's clock: every time a service records comes from it,
    so that one request is one instant and tests can inject the time.
    """

    def __init__(self, session: Session, *, now: datetime | None = None, clock: Callable[[], datetime] = ledger.utcnow):
        self.session = session
        self._clock = clock
        self.now = now if now is not None else clock()
        self.replayed = False
        self._claimed: tuple[str, str, str] | None = None  # scope, key, request fingerprint

    # -- idempotency ------------------------------------------------------------------

    def once(self, scope: str, key: str | None, request: Mapping[str, Any]) -> dict | None:
        """Claim ``key`` in ``scope`` for ``request``; ``None`` means: do the work, then
        ``commit(answer)``. A retry of the same request gets the stored answer back
        (and ``replayed`` becomes true); the key used for another request raises
        ``IdempotencyKeyReused``. Without a key there is nothing to claim."""
        if key is None:
            return None
        if self._claimed is not None:
            raise RuntimeError(f"this unit already claimed {self._claimed[:2]}; one key per transaction")
        fingerprint = ledger.request_fingerprint(request)
        stored = self._claim(scope, key, fingerprint)
        if stored is not None:
            self.discard()
            self.replayed = True
            return stored
        self._claimed = (scope, key, fingerprint)
        return None

    def _claim(self, scope: str, key: str, fingerprint: str) -> dict | None:
        try:
            return ledger.claim_request(self.session, scope, key, fingerprint)
        except ledger.IdempotencyConflict as error:
            self.discard()
            raise IdempotencyKeyReused(f"This key ({key}) was used for a different request.") from error

    # -- the outbox ---------------------------------------------------------------------

    def emit(self, owner_kind: str, owner_id: int, event_type: str, data: dict) -> None:
        """Put a webhook event in the outbox, in this transaction: it is sent if and
        only if the change it describes commits."""
        if not _outbox:
            raise RuntimeError("no outbox writer is registered (create_app registers app.webhooks)")
        _outbox[0](self.session, owner_kind, owner_id, event_type, data, now=self.now)

    # -- the end of a transaction ---------------------------------------------------------

    def commit(self, answer: T) -> T:
        """Keep everything done since the last commit; with a claimed key, store
        ``answer`` (JSON-able) as the answer to every retry, in the same transaction."""
        if self._claimed is not None:
            if not isinstance(answer, dict):
                raise TypeError(f"the answer to {self._claimed[:2]} must be a dict to be stored, not {type(answer)}")
            scope, key, fingerprint = self._claimed
            self._claimed = None
            try:
                ledger.complete_request(self.session, scope, key, answer)
            except ledger.IdempotencyConflict:
                # Answered meanwhile by a writer that did not wait on our claim: ours is
                # rolled back and the stored answer (or the 409) is what a retry would get.
                self.discard()
                stored = self._claim(scope, key, fingerprint)
                if stored is None:
                    raise RuntimeError(f"{scope}:{key} conflicted at commit but holds no answer") from None
                self.discard()
                self.replayed = True
                return stored  # type: ignore[return-value]
        self.session.commit()
        return answer

    def discard(self) -> None:
        """Drop everything done since the last commit."""
        self._claimed = None
        self.session.rollback()

    def tick(self) -> datetime:
        """Move the unit's clock on (a job between its batches)."""
        self.now = self._clock()
        return self.now

    def close(self) -> None:
        self.discard()
        self.session.close()

    def __enter__(self) -> UnitOfWork:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@contextmanager
def unit(session_factory: Callable[[], Session] | None = None, *, read_only: bool = False) -> Iterator[UnitOfWork]:
    """A unit of work outside a request (a job, a CLI command), on a session of its own
    (by default on the app's engine; needs an app context)."""
    token = _read_only.set(read_only)
    try:
        with UnitOfWork(session_factory() if session_factory else _engine_session()) as uow:
            yield uow
    finally:
        _read_only.reset(token)


def _engine_session() -> Session:
    from app.extensions import db

    return Session(db.engine)


def current() -> UnitOfWork:
    """The request's unit of work, on the request's session (created on first use,
    closed with the request)."""
    uow = g.get("unit_of_work")
    if uow is None:
        from app.extensions import db

        uow = g.unit_of_work = UnitOfWork(db.session())
    return uow


def header_key() -> str | None:
    """The request's ``Idempotency-Key`` (visible ASCII, 1 to 250 characters), or None."""
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    if not (1 <= len(key) <= ledger.IDEMPOTENCY_KEY_LENGTH_MAX and all("!" <= c <= "~" for c in key)):
        raise Invalid(
            f"{IDEMPOTENCY_HEADER} must be 1 to {ledger.IDEMPOTENCY_KEY_LENGTH_MAX} visible ASCII characters.",
            errors={IDEMPOTENCY_HEADER: ["Not a valid key."]},
        )
    return key


def caller_scope() -> str:
    """Who calls, short enough for the record's scope column: ``m42``, ``a7`` or ``op``."""
    for kind in ("merchant", "affiliate"):
        found = g.get(kind)
        if found is not None:
            return f"{kind[0]}{found.id}"
    return "op"


def idempotent(blp: Any, schema: Any, *, status: int = 201, conflicts: str | None = None) -> Callable:
    """Run a mutation view in the request's unit of work, once per ``Idempotency-Key``.

    Put it below the view's ``@blp.arguments`` and ``@blp.response``: it receives the
    loaded arguments (so the fingerprint is over the normalized request), dumps the
    view's result with ``schema``, stores that answer with the key and commits, all
    in one transaction. A retry of the same request answers the stored answer with
    200; the key reused for another request answers 409. Without the header the
    mutation simply runs and commits. ``conflicts`` documents the view's own 409s.
    """
    conflict_doc = f"This {IDEMPOTENCY_HEADER} was used for a different request."
    if conflicts is not None:
        conflict_doc = f"{conflicts} Or: {conflict_doc[0].lower()}{conflict_doc[1:]}"
    dump = schema().dump

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            uow = current()
            asked = {"endpoint": request.endpoint, "path": request.view_args, "args": list(args[1:])}
            stored = uow.once(f"{caller_scope()}:{request.endpoint}", header_key(), asked)
            if stored is not None:
                return jsonify(stored), 200
            answer = uow.commit(dump(view(*args, **kwargs)))
            return jsonify(answer), 200 if uow.replayed else status

        documented = blp.doc(**IDEMPOTENCY_HEADER_DOC)(wrapper)
        documented = blp.alt_response(200, schema=schema, description=f"Replay with the same {IDEMPOTENCY_HEADER}.")(
            documented
        )
        return blp.alt_response(409, **conflict(conflict_doc))(documented)

    return decorator


def answered(answer: dict, *, created: int = 201) -> tuple[Any, int]:
    """The HTTP answer of a mutation whose service committed through ``once``:
    ``created`` the first time, 200 for a replay (the stored answer, byte for byte)."""
    return jsonify(answer), 200 if current().replayed else created


def register_outbox(writer: Outbox) -> None:
    """Set the function that writes an event to the outbox (app.webhooks does)."""
    _outbox[:] = [writer]


def register(app: Flask) -> None:
    """Close the request's unit at teardown: what was not committed is rolled back."""

    @app.teardown_request
    def _close_unit(_exc: BaseException | None) -> None:
        uow = g.pop("unit_of_work", None)
        if uow is not None:
            uow.discard()


def configure_sqlite(engine: Engine) -> None:
    """Make SQLite safe for concurrent writers: WAL, a busy timeout, and the write
    lock taken when a writing unit begins, not when it first writes."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        if has_request_context():
            read_only = request.method in SAFE_METHODS
        else:
            read_only = _read_only.get()
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")
