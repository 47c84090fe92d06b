"""Delivering the outbox: claim due deliveries, POST them signed, log every attempt.

A claim is a short transaction that takes due deliveries (``FOR UPDATE SKIP
LOCKED`` on PostgreSQL; SQLite's write lock serializes claimers), logs one
``in_flight`` attempt for each and leases it until the POSTs can have ended.
The POST happens outside any transaction; its result is written in another
short one, guarded by the attempt number so a late worker whose lease ran
out cannot overwrite a newer attempt. So one attempt is sent by one worker,
at most once; a worker that dies mid-flight leaves an attempt that the next
claim marks ``abandoned`` before trying again.

Before each POST the URL's host is resolved and checked again (production:
public addresses only, see ``app.webhooks.addresses``) and the connection goes
to the addresses checked, with the URL's host name for Host, SNI and the
certificate. The attempt log says what a receiver's owner needs (HTTP status,
refused, connection failed, timed out), never what a socket said.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import logging
import random
import socket
import ssl
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update

from app.constants import (
    WEBHOOK_CLAIM_BATCH,
    WEBHOOK_RESPONSE_BYTES_MAX,
    WEBHOOK_RETRY_SCHEDULE_S,
    WEBHOOK_TIMEOUT_S,
)
from app.unit_of_work import UnitOfWork
from app.webhooks import addresses
from app.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from ledger import utcnow

SIGNATURE_HEADER = "Loyalty-Signature"
EVENT_ID_HEADER = "Loyalty-Event-Id"
ATTEMPT_ID_HEADER = "Loyalty-Attempt-Id"
USER_AGENT = "loyalty-webhooks/1"
RETRY_JITTER = 0.1
_LEASE_MARGIN_S = 60
log = logging.getLogger(__name__)

_D = WebhookDelivery.__table__
_E = WebhookEvent.__table__
_P = WebhookEndpoint.__table__
_A = WebhookAttempt.__table__


@dataclass(frozen=True)
class Claimed:
    attempt_id: int
    delivery_id: int
    number: int
    url: str
    secrets: tuple[str, ...]
    event_public_id: str
    body: str


@dataclass(frozen=True)
class Result:
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def sign(body: bytes, timestamp: int, secrets: tuple[str, ...] | list[str]) -> str:
    """``t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">``, one v1 per secret."""
    signed = str(timestamp).encode() + b"." + body
    parts = [f"t={timestamp}"]
    for secret in secrets:
        parts.append("v1=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest())
    return ",".join(parts)


def retry_delay_s(failed_attempts: int) -> float | None:
    """Seconds before the next attempt after ``failed_attempts`` failures; None when out of tries."""
    if failed_attempts > len(WEBHOOK_RETRY_SCHEDULE_S):
        return None
    base = WEBHOOK_RETRY_SCHEDULE_S[failed_attempts - 1]
    return base * random.uniform(1 - RETRY_JITTER, 1 + RETRY_JITTER)


def deliver_due(
    uow: UnitOfWork, *, allow_insecure: bool, batch: int = WEBHOOK_CLAIM_BATCH, timeout_s: float = WEBHOOK_TIMEOUT_S
) -> int:
    """Claim up to ``batch`` deliveries due at ``uow.now``, POST each once, log the results.

    ``allow_insecure`` is WEBHOOK_ALLOW_INSECURE_URLS: false in production, where
    each URL must still be https and resolve to public addresses only. Returns how
    many attempts were made (0: nothing was due). Commits through ``uow``: once for
    the claim, then once per recorded attempt.
    """
    now = uow.now
    claimed = claim_due(uow, batch=batch, lease_s=batch * timeout_s + _LEASE_MARGIN_S)
    for one in claimed:
        result = post(one, timeout_s=timeout_s, allow_insecure=allow_insecure)
        record(uow, one, result, finished_at=now + timedelta(milliseconds=result.duration_ms))
    return len(claimed)


def claim_due(uow: UnitOfWork, *, batch: int, lease_s: float) -> list[Claimed]:
    """Take and lease up to ``batch`` deliveries due at ``uow.now``, and commit: the
    rows are locked only for this short transaction, never during the POSTs."""
    session, now = uow.session, uow.now
    query = (
        select(
            _D.c.id,
            _D.c.attempts,
            _D.c.event_id,
            _E.c.public_id,
            _E.c.event_type,
            _E.c.body,
            _P.c.id.label("endpoint_id"),
            _P.c.url,
            _P.c.secret,
            _P.c.previous_secret,
            _P.c.previous_secret_expires_at,
        )
        .join(_E, _E.c.id == _D.c.event_id)
        .join(_P, _P.c.id == _D.c.endpoint_id)
        .where(_D.c.status == "pending", _D.c.next_attempt_at <= now, _P.c.enabled.is_(True))
        .order_by(_D.c.next_attempt_at, _D.c.id)
        .limit(batch)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=_D)
    claimed = []
    for row in session.execute(query).all():
        if row.attempts:
            session.execute(
                update(_A).where(_A.c.delivery_id == row.id, _A.c.outcome == "in_flight").values(outcome="abandoned")
            )
        number = row.attempts + 1
        session.execute(
            update(_D)
            .where(_D.c.id == row.id)
            .values(attempts=number, next_attempt_at=now + timedelta(seconds=lease_s))
        )
        attempt_id = session.execute(
            insert(_A).returning(_A.c.id),
            {
                "delivery_id": row.id,
                "endpoint_id": row.endpoint_id,
                "event_id": row.event_id,
                "event_public_id": row.public_id,
                "event_type": row.event_type,
                "number": number,
                "outcome": "in_flight",
                "started_at": now,
                "status_code": None,
                "duration_ms": None,
                "error": None,
                "next_attempt_at": None,
            },
        ).scalar_one()
        secrets = (row.secret,)
        if row.previous_secret and row.previous_secret_expires_at and row.previous_secret_expires_at > now:
            secrets = (row.secret, row.previous_secret)
        claimed.append(Claimed(attempt_id, row.id, number, row.url, secrets, row.public_id, row.body))
    return uow.commit(claimed)


# What the attempt log says: never the resolved address nor the socket's own words,
# which would tell an endpoint's owner what listens where. Details go to the server log.
REFUSED_NOT_PUBLIC = "refused: not a public address"
REFUSED_URL = "refused: URL not accepted"
CONNECTION_FAILED = "connection failed"
TIMED_OUT = "timed out"


def open_connection(addresses: list[str], port: int, timeout_s: float) -> socket.socket:
    """A TCP connection to the first of the checked ``addresses`` that answers (tests replace this)."""
    failure: OSError = ConnectionError("no address")
    for address in addresses:
        try:
            return socket.create_connection((address, port), timeout=timeout_s)
        except OSError as failed:
            failure = failed
    raise failure


class _PinnedHTTP(http.client.HTTPConnection):
    """Connects to addresses checked beforehand, whatever DNS answers now; Host stays the URL's."""

    def __init__(self, host: str, port: int, addresses: list[str], timeout_s: float):
        super().__init__(host, port, timeout=timeout_s)
        self._addresses = addresses

    def connect(self) -> None:
        self.sock = open_connection(self._addresses, self.port, self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """As _PinnedHTTP, with TLS: SNI and the certificate checked for the URL's host name."""

    def __init__(self, host: str, port: int, addresses: list[str], timeout_s: float, tls: ssl.SSLContext):
        super().__init__(host, port, timeout=timeout_s, context=tls)
        self._addresses = addresses
        self._tls = tls

    def connect(self) -> None:
        sock = open_connection(self._addresses, self.port, self.timeout)
        try:
            self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise


def tls_context() -> ssl.SSLContext:
    """Certificate and host name verified (tests replace this to trust their own authority)."""
    return ssl.create_default_context()


def post(claimed: Claimed, *, timeout_s: float, allow_insecure: bool) -> Result:
    """One POST of the event; the host is resolved and checked again first, and the
    connection goes to the addresses checked. Redirects are answers, not followed."""
    started = time.monotonic()
    try:
        target = addresses.target_of(claimed.url, allow_insecure=allow_insecure)
        checked = addresses.checked_addresses(target, allow_private=allow_insecure)
    except addresses.Refused as refused:
        log.warning("webhook attempt %s to %s refused: %s", claimed.attempt_id, claimed.url, refused)
        error = REFUSED_NOT_PUBLIC if isinstance(refused, addresses.NotPublic) else REFUSED_URL
        return Result(None, error, _ms_since(started))
    if target.scheme == "https":
        connection = _PinnedHTTPS(target.host, target.port, checked, timeout_s, tls_context())
    else:
        connection = _PinnedHTTP(target.host, target.port, checked, timeout_s)
    try:
        status, error = _exchange(connection, target, claimed, timeout_s)
    finally:
        connection.close()
    if status is not None and not 200 <= status < 300:
        error = f"HTTP {status}"
    return Result(status, error, _ms_since(started))


def _exchange(
    connection: http.client.HTTPConnection, target: addresses.Target, claimed: Claimed, timeout_s: float
) -> tuple[int | None, str | None]:
    body = claimed.body.encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        SIGNATURE_HEADER: sign(body, int(utcnow().timestamp()), claimed.secrets),
        EVENT_ID_HEADER: claimed.event_public_id,
        ATTEMPT_ID_HEADER: str(claimed.attempt_id),
        "Connection": "close",
    }
    try:
        connection.connect()
    except Exception as failed:  # refused, unreachable, timed out, TLS: one answer for all
        log.warning("webhook attempt %s to %s: connect failed: %r", claimed.attempt_id, claimed.url, failed)
        return None, CONNECTION_FAILED
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(WEBHOOK_RESPONSE_BYTES_MAX)
        return response.status, None
    except TimeoutError:
        # Connected, then no answer in time: the endpoint's owner needs to know that much.
        log.warning("webhook attempt %s to %s: no answer in %ss", claimed.attempt_id, claimed.url, timeout_s)
        return None, TIMED_OUT
    except Exception as failed:  # any transport failure is an attempt to log, never a crash
        log.warning("webhook attempt %s to %s: %r", claimed.attempt_id, claimed.url, failed)
        return None, CONNECTION_FAILED


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def record(uow: UnitOfWork, claimed: Claimed, result: Result, *, finished_at: datetime) -> None:
    """Write an attempt's result, and commit; a newer claim of the same delivery wins."""
    session = uow.session
    if result.delivered:
        outcome, status, next_at = "delivered", "delivered", None
    else:
        delay_s = retry_delay_s(claimed.number)
        if delay_s is None:
            outcome, status, next_at = "failed", "failed", None
        else:
            outcome, status, next_at = "retry", "pending", finished_at + timedelta(seconds=delay_s)
    session.execute(
        update(_A)
        .where(_A.c.id == claimed.attempt_id, _A.c.outcome == "in_flight")
        .values(
            outcome=outcome,
            status_code=result.status_code,
            duration_ms=result.duration_ms,
            error=result.error,
            next_attempt_at=next_at,
        )
    )
    values = {"status": status, "next_attempt_at": next_at or finished_at}
    if status != "pending":
        values["finished_at"] = finished_at
    session.execute(update(_D).where(_D.c.id == claimed.delivery_id, _D.c.attempts == claimed.number).values(**values))
    uow.commit(status)
