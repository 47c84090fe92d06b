"""Collecting statements through Stripe (the ``collect-statements`` job).

Our side is idempotent by itself, whatever Stripe does with idempotency keys (the
test fake ignores them). Each attempt is first *claimed* and committed: the
attempt number goes up, ``attempt_started_at`` is set and ``next_attempt_at``
moves ``COLLECTION_CLAIM_TIMEOUT_S`` ahead, so no other worker takes the row.
Only then is Stripe asked (key ``statement-{id}-attempt-{n}``), and its outcome
is recorded in a second commit. A crash between the two leaves an attempt
started with no PaymentIntent recorded: the next run looks that attempt's intent
up at Stripe (by its metadata) and records it instead of charging again; if
Stripe cannot say, the row waits (``last_error``) and nothing is charged.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

import ledger
from app.billing.models import MerchantBilling
from app.constants import (
    COLLECTION_ATTEMPTS_MAX,
    COLLECTION_CLAIM_TIMEOUT_S,
    COLLECTION_ERROR_LENGTH_MAX,
    COLLECTION_RETRY_DELAYS_S,
)
from app.pagination import Page, paginate
from app.payments.errors import PaymentProviderError
from app.payments.stripe_gateway import Payment, StripeGateway
from app.settlement.models import Collection, Statement
from app.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


def collect_due(uow: UnitOfWork, gateway: StripeGateway, *, limit: int) -> int:
    """Attempt (or resume) the collections that are due, at most ``limit``, each in
    its own commits; returns how many were handled. Collections of merchants with
    no saved payment method wait until one is saved. On PostgreSQL several workers
    share the work: each row is taken ``FOR UPDATE SKIP LOCKED`` and claimed (its
    ``next_attempt_at`` moved ahead) before Stripe is asked."""
    due = _due(uow, limit)
    uow.commit(None)
    for collection_id in due:
        _attempt(uow, gateway, collection_id)
    return len(due)


def _due(uow: UnitOfWork, limit: int) -> list[int]:
    query = (
        select(Collection.id)
        .join(Statement, Statement.id == Collection.statement_id)
        .join(MerchantBilling, MerchantBilling.merchant_id == Statement.merchant_id)
        .where(
            Collection.status.in_(("pending", "failed")),
            Collection.next_attempt_at <= uow.now,
            MerchantBilling.default_payment_method_id.is_not(None),
        )
        .order_by(Collection.id)
        .limit(limit)
    )
    return list(uow.session.execute(query).scalars())


def _attempt(uow: UnitOfWork, gateway: StripeGateway, collection_id: int) -> None:
    collection = _locked(uow, collection_id)
    if collection is None:
        uow.commit(None)  # another worker has it, or it is no longer due
        return
    statement = uow.session.get(Statement, collection.statement_id)
    billing = uow.session.get(MerchantBilling, statement.merchant_id)
    resumed = collection.attempt_started_at is not None
    if not resumed:
        collection.attempts += 1
        collection.attempt_started_at = uow.now
        collection.stripe_payment_intent_id = None
    collection.next_attempt_at = uow.now + timedelta(seconds=COLLECTION_CLAIM_TIMEOUT_S)
    collection.updated_at = uow.now
    uow.commit(None)
    try:
        payment = _resumed(gateway, collection, statement) if resumed else None
        if payment is None:
            payment = gateway.collect(
                customer_id=billing.stripe_customer_id,
                payment_method_id=billing.default_payment_method_id,
                amount_cents=collection.amount_cents,
                currency=collection.currency,
                statement_id=statement.id,
                attempt=collection.attempts,
            )
    except PaymentProviderError as error:
        log.warning("collection %s: %s", collection.id, error.detail)
        collection.last_error = error.detail[:COLLECTION_ERROR_LENGTH_MAX]
        uow.commit(None)
        return
    # Lock the row again: a webhook about the same intent may have recorded it meanwhile.
    uow.session.refresh(collection, with_for_update=True)
    record(uow, collection, statement, payment)
    uow.commit(None)


def _resumed(gateway: StripeGateway, collection: Collection, statement: Statement) -> Payment | None:
    """What Stripe made of an attempt already started: its intent read again when we
    recorded one (still ``processing``), else looked up by metadata; None when Stripe
    has none, so the attempt is made (with the same key)."""
    if collection.stripe_payment_intent_id is not None:
        return gateway.payment(collection.stripe_payment_intent_id)
    return gateway.find_collection(statement.id, collection.attempts)


def _locked(uow: UnitOfWork, collection_id: int) -> Collection | None:
    """The collection, locked, if it is still due (another worker may have taken it)."""
    return uow.session.execute(
        select(Collection)
        .where(
            Collection.id == collection_id,
            Collection.status.in_(("pending", "failed")),
            Collection.next_attempt_at <= uow.now,
        )
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()


def record(uow: UnitOfWork, collection: Collection, statement: Statement, payment: Payment) -> None:
    """Record a PaymentIntent's outcome in the unit's transaction (the job and Stripe's
    webhooks both do): succeeded posts the cash entry once; failed schedules dunning."""
    if payment.id is not None:
        collection.stripe_payment_intent_id = payment.id
    collection.updated_at = uow.now
    if collection.status == "succeeded":
        return
    if payment.status == "succeeded":
        entry = ledger.post_collection(
            uow.session,
            merchant_key=str(statement.merchant_id),
            currency=collection.currency,
            amount_cents=collection.amount_cents,
            collection_key=f"statement-{statement.id}",
            now=uow.now,
        )
        collection.status, collection.entry_id = "succeeded", entry.id
        collection.next_attempt_at, collection.last_error = None, None
    elif payment.status == "failed":
        _failed(uow, collection, statement, payment.error or "The payment was declined.")
    # Anything else (``processing``) waits for Stripe's webhook; the claim timeout rechecks it.
    uow.session.flush()


def _failed(uow: UnitOfWork, collection: Collection, statement: Statement, error: str) -> None:
    collection.status = "failed"
    collection.last_error = error[:COLLECTION_ERROR_LENGTH_MAX]
    collection.attempt_started_at = None  # the attempt is over: the next one charges afresh
    retry_s = None
    if collection.attempts < COLLECTION_ATTEMPTS_MAX:
        # A failure Stripe reported for an attempt the job never counted is treated as the first.
        tries = max(collection.attempts, 1)
        retry_s = COLLECTION_RETRY_DELAYS_S[min(tries, len(COLLECTION_RETRY_DELAYS_S)) - 1]
    collection.next_attempt_at = None if retry_s is None else uow.now + timedelta(seconds=retry_s)
    uow.session.flush()
    next_attempt_at = collection.next_attempt_at
    uow.emit(
        "merchant",
        statement.merchant_id,
        "statement.payment_failed",
        {
            "statement_id": str(statement.id),
            "amount_cents": collection.amount_cents,
            "currency": collection.currency,
            "error": collection.last_error,
            "attempts": collection.attempts,
            "next_attempt_at": None if next_attempt_at is None else next_attempt_at.isoformat(),
        },
    )


def list_collections(session: Session, *, status: str | None = None, limit: int, cursor: str | None) -> Page:
    """Every merchant's collections, oldest first; ``status`` filters (``failed``: dunning's leftovers)."""
    query = select(Collection)
    if status is not None:
        query = query.where(Collection.status == status)
    return paginate(session, query, Collection.id, limit=limit, cursor=cursor)
