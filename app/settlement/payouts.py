"""Payouts: money the operator pays from ``platform:cash`` to affiliates (their
approved commissions, negative adjustments included) and to merchants (what a
statement says the operator owes them).

Three ways a payout is made:

- ``manual``: the operator records a transfer made elsewhere (``create_payout``);
  it is paid at once.
- the ``payouts`` job (``schedule_due``) makes a ``pending`` payout for every
  affiliate whose approved balance in a currency reaches the threshold, and for
  every statement that leaves the operator owing a merchant, by the payee's
  payout method. Its commissions are linked to it, so no other payout takes
  them, and stay ``approved`` until it is paid.
- ``stripe_connect`` payouts are then sent by the job (``send_due``): each is
  *claimed* (``attempt_started_at``) and committed before Stripe is asked (key and
  transfer group ``payout-{id}``), and its outcome recorded in a second commit. A
  claim left without an outcome (a crash, Stripe unreachable) is looked up at
  Stripe by its transfer group after ``PAYOUT_CLAIM_TIMEOUT_S`` before anything is
  sent again. ``bank_transfer`` payouts wait in the operator's CSV export until
  ``mark_paid``.

Paid, a payout posts one entry (payable -> ``platform:cash``) and its commissions
become ``paid``. Refused by Stripe, it is ``failed`` and lets its commissions go;
the job leaves that payee alone until its payout method is set again.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

import ledger
from app.affiliates.services import get_affiliate
from app.commissions import events
from app.commissions.models import Commission
from app.constants import PAYOUT_CLAIM_TIMEOUT_S, PAYOUT_ERROR_LENGTH_MAX
from app.locks import serialize
from app.pagination import Page, paginate
from app.payments.errors import PaymentProviderError
from app.payments.stripe_gateway import StripeGateway, Transfer
from app.settlement.errors import NothingToPay, PayoutFailed, PayoutNotBankTransfer, PayoutNotFound
from app.settlement.log import with_log
from app.settlement.models import Collection, Payout, PayoutMethod, Statement
from app.settlement.payout_methods import Payee, method_of
from app.settlement.schemas import PayoutSchema
from app.transparency import services as transparency
from app.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)
_PAYOUT_SCHEMA = PayoutSchema()

# ----------------------------------------------------------------- manual


def create_payout(uow: UnitOfWork, affiliate_id: int, data: dict) -> dict:
    """Record a transfer the operator made to an affiliate for every approved commission
    in one currency not yet in a payout (negative adjustments included), and commit;
    returns the answer.

    ``payout_id`` is the idempotency key, per affiliate: replaying it with the same
    (loaded) body returns the first answer (``uow.replayed``); with another body it
    raises ``IdempotencyKeyReused``.
    """
    stored = uow.once(f"payouts:a{affiliate_id}", data["payout_id"], data)
    if stored is not None:
        return stored
    session = uow.session
    affiliate = get_affiliate(session, affiliate_id)
    # One payout at a time per affiliate: commissions are read, then linked to it.
    serialize(session, _lock("affiliate", affiliate.id))
    due = _due_commissions(session, affiliate.id, data["currency"])
    total_cents = sum(c.amount_cents for c in due)
    if total_cents <= 0:
        raise NothingToPay(data["currency"], total_cents)
    payout = _new_payout(
        uow,
        None,
        affiliate_id=affiliate.id,
        payout_key=data["payout_id"],
        # The fingerprint ``once`` keyed the answer with, kept on the row: it says
        # which request made this payout without a join to the idempotency records.
        request_hash=ledger.request_fingerprint(data),
        currency=data["currency"],
        amount_cents=total_cents,
        commissions=due,
    )
    payout.reference = data["reference"]
    _paid(uow, payout)
    return uow.commit(_PAYOUT_SCHEMA.dump(payout))


def _due_commissions(session: Session, affiliate_id: int, currency: str) -> list[Commission]:
    """The approved commissions (adjustments included) in no payout yet, locked until the transaction ends."""
    return list(
        session.execute(
            select(Commission)
            .where(
                Commission.affiliate_id == affiliate_id,
                Commission.currency == currency,
                Commission.status == "approved",
                Commission.payout_id.is_(None),
            )
            .order_by(Commission.id)
            .with_for_update()
        ).scalars()
    )


def _lock(kind: str, payee_id: int) -> str:
    """One payout at a time per payee: ``payouts:a{id}`` for an affiliate, ``payouts:m{id}`` for a merchant."""
    return f"payouts:{kind[0]}{payee_id}"


def _new_payout(
    uow: UnitOfWork, method: PayoutMethod | None, *, commissions: list[Commission] = (), **fields
) -> Payout:
    """A pending payout by ``method`` (None: manual), linked to its commissions."""
    payout = Payout(
        status="pending",
        method="manual" if method is None else method.type,
        commission_count=len(commissions),
        created_at=uow.now,
        **fields,
    )
    if method is not None:
        payout.destination = method.stripe_account if method.type == "stripe_connect" else method.iban
        payout.holder_name = method.holder_name
    uow.session.add(payout)
    uow.session.flush()
    ids = [commission.id for commission in commissions]
    if ids:
        uow.session.execute(update(Commission).where(Commission.id.in_(ids)).values(payout_id=payout.id))
    return payout


def _paid(uow: UnitOfWork, payout: Payout) -> None:
    """The money has left: post the payout's entry, mark it and its commissions paid."""
    session, now = uow.session, uow.now
    if payout.affiliate_id is not None:
        entry = ledger.post_payout(
            session,
            affiliate_key=str(payout.affiliate_id),
            payout_key=payout.payout_key,
            currency=payout.currency,
            amount_cents=payout.amount_cents,
            now=now,
        )
    else:
        entry = ledger.post_merchant_payout(
            session,
            merchant_key=str(payout.merchant_id),
            payout_key=payout.payout_key,
            currency=payout.currency,
            amount_cents=payout.amount_cents,
            now=now,
        )
    payout.status, payout.entry_id, payout.paid_at = "paid", entry.id, now
    payout.last_error = None
    payout.tree_head_id = transparency.head_now(uow).id
    session.flush()
    for commission in _commissions_of(session, payout):
        commission.status = "paid"
        events.announce(uow, commission, "commission.paid")
    with_log(session, [payout])
    uow.emit(*payout.payee, "payout.paid", _PAYOUT_SCHEMA.dump(payout))


def _commissions_of(session: Session, payout: Payout) -> list[Commission]:
    return list(
        session.execute(
            select(Commission).where(Commission.payout_id == payout.id).order_by(Commission.id).with_for_update()
        ).scalars()
    )


# ----------------------------------------------------------------- the payouts job


def run_payouts(uow: UnitOfWork, gateway: StripeGateway, *, threshold_cents: int, limit: int) -> int:
    """One batch of the ``payouts`` job: make the payouts that are due, then send the
    Connect transfers that are due; returns how many payouts were made or handled."""
    made = schedule_due(uow, threshold_cents=threshold_cents, limit=limit)
    return made + send_due(uow, gateway, limit=limit)


def schedule_due(uow: UnitOfWork, *, threshold_cents: int, limit: int) -> int:
    """Make (and commit, one by one) up to ``limit`` pending payouts: affiliates whose
    approved balance in a currency is at least ``threshold_cents``, and statements
    that leave the operator owing a merchant; returns how many were made."""
    affiliates = _affiliates_due(uow.session, threshold_cents, limit)
    statements = _statements_due(uow.session, limit)
    uow.commit(None)
    made = 0
    for affiliate_id, currency in affiliates:
        made += _schedule_affiliate(uow, affiliate_id, currency, threshold_cents)
    for statement_id in statements:
        made += _schedule_statement(uow, statement_id)
    return made


def _failed_since_method_set(payee_column, payee_id):
    """A payout of the payee that failed after its method was last set: the job waits
    for the operator to set the method again (``PayoutMethod`` is in the outer query)."""
    return (
        select(Payout.id)
        .where(payee_column == payee_id, Payout.status == "failed", Payout.created_at >= PayoutMethod.updated_at)
        .exists()
    )


def _affiliates_due(session: Session, threshold_cents: int, limit: int) -> list[tuple[int, str]]:
    failed = _failed_since_method_set(Payout.affiliate_id, Commission.affiliate_id)
    rows = session.execute(
        select(Commission.affiliate_id, Commission.currency)
        .join(PayoutMethod, PayoutMethod.affiliate_id == Commission.affiliate_id)
        .where(Commission.status == "approved", Commission.payout_id.is_(None), ~failed)
        .group_by(Commission.affiliate_id, Commission.currency)
        .having(func.sum(Commission.amount_cents) >= threshold_cents)
        .order_by(Commission.affiliate_id, Commission.currency)
        .limit(limit)
    )
    return [(affiliate_id, currency) for affiliate_id, currency in rows]


def _statements_due(session: Session, limit: int) -> list[int]:
    """Statements whose net is owed to the merchant, with no payout yet (but a failed one),
    of merchants with a payout method and no failure since it was set."""
    paying = select(Payout.id).where(Payout.statement_id == Statement.id, Payout.status != "failed").exists()
    failed = _failed_since_method_set(Payout.merchant_id, Statement.merchant_id)
    return list(
        session.execute(
            select(Statement.id)
            .join(Collection, Collection.statement_id == Statement.id)
            .join(PayoutMethod, PayoutMethod.merchant_id == Statement.merchant_id)
            .where(Collection.status == "not_needed", Collection.amount_cents < 0, ~paying, ~failed)
            .order_by(Statement.id)
            .limit(limit)
        ).scalars()
    )


def _schedule_affiliate(uow: UnitOfWork, affiliate_id: int, currency: str, threshold_cents: int) -> int:
    session = uow.session
    serialize(session, _lock("affiliate", affiliate_id))
    # Read again under the lock: another worker may have made this payout meanwhile.
    due = _due_commissions(session, affiliate_id, currency)
    total_cents = sum(c.amount_cents for c in due)
    method = method_of(session, Payee("affiliate", affiliate_id))
    if total_cents < threshold_cents or method is None:
        uow.commit(None)
        return 0
    _new_payout(
        uow,
        method,
        affiliate_id=affiliate_id,
        payout_key=f"auto-{secrets.token_hex(8)}",
        currency=currency,
        amount_cents=total_cents,
        commissions=due,
    )
    uow.commit(None)
    return 1


def _schedule_statement(uow: UnitOfWork, statement_id: int) -> int:
    session = uow.session
    statement = session.get(Statement, statement_id)
    serialize(session, _lock("merchant", statement.merchant_id))
    paying = session.execute(
        select(Payout.id).where(Payout.statement_id == statement.id, Payout.status != "failed")
    ).first()
    collection = session.execute(select(Collection).where(Collection.statement_id == statement.id)).scalar_one()
    method = method_of(session, Payee("merchant", statement.merchant_id))
    if paying is not None or method is None:
        uow.commit(None)
        return 0
    attempts = session.execute(select(func.count(Payout.id)).where(Payout.statement_id == statement.id)).scalar_one()
    _new_payout(
        uow,
        method,
        merchant_id=statement.merchant_id,
        statement_id=statement.id,
        payout_key=f"statement-{statement.id}" + (f"-{attempts + 1}" if attempts else ""),
        currency=collection.currency,
        amount_cents=-collection.amount_cents,
    )
    uow.commit(None)
    return 1


def send_due(uow: UnitOfWork, gateway: StripeGateway, *, limit: int) -> int:
    """Send up to ``limit`` pending Connect payouts (new ones, and claims that timed out
    without an outcome), each in its own commits; returns how many were handled."""
    stale = uow.now - timedelta(seconds=PAYOUT_CLAIM_TIMEOUT_S)
    due = list(
        uow.session.execute(
            select(Payout.id)
            .where(Payout.status == "pending", Payout.method == "stripe_connect")
            .where((Payout.attempt_started_at.is_(None)) | (Payout.attempt_started_at <= stale))
            .order_by(Payout.id)
            .limit(limit)
        ).scalars()
    )
    uow.commit(None)
    handled = 0
    for payout_id in due:
        handled += _send(uow, gateway, payout_id, stale)
    return handled


def _send(uow: UnitOfWork, gateway: StripeGateway, payout_id: int, stale) -> int:
    payout = uow.session.execute(
        select(Payout)
        .where(
            Payout.id == payout_id,
            Payout.status == "pending",
            (Payout.attempt_started_at.is_(None)) | (Payout.attempt_started_at <= stale),
        )
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if payout is None:
        uow.commit(None)  # another worker has it
        return 0
    resumed = payout.attempt_started_at is not None
    payout.attempt_started_at = uow.now
    uow.commit(None)
    try:
        transfer = gateway.find_transfer(payout.id) if resumed else None
        if transfer is None:
            transfer = gateway.transfer(
                account=payout.destination,
                amount_cents=payout.amount_cents,
                currency=payout.currency,
                payout_id=payout.id,
            )
    except PaymentProviderError as error:
        # Nothing is known: the claim stays, and once it times out Stripe is asked first.
        log.warning("payout %s: %s", payout.id, error.detail)
        payout.last_error = error.detail[:PAYOUT_ERROR_LENGTH_MAX]
        uow.commit(None)
        return 1
    uow.session.refresh(payout, with_for_update=True)
    _record_transfer(uow, payout, transfer)
    uow.commit(None)
    return 1


def _record_transfer(uow: UnitOfWork, payout: Payout, transfer: Transfer) -> None:
    if payout.status != "pending":
        return
    if transfer.status == "paid":
        payout.stripe_transfer_id = transfer.id
        _paid(uow, payout)
        return
    payout.status = "failed"
    payout.last_error = (transfer.error or "Stripe refused the transfer.")[:PAYOUT_ERROR_LENGTH_MAX]
    # Its commissions go back to the affiliate's approved balance, for the next payout.
    uow.session.execute(update(Commission).where(Commission.payout_id == payout.id).values(payout_id=None))
    uow.session.flush()


# ----------------------------------------------------------------- bank transfers


def mark_paid(uow: UnitOfWork, payout_id: int, reference: str | None) -> Payout:
    """The operator made the bank transfer of a pending payout: record it paid (once) and
    commit. Marking a paid one again answers it unchanged."""
    session = uow.session
    payout = _payout(session, payout_id)
    if payout.method != "bank_transfer":
        raise PayoutNotBankTransfer(payout.id, payout.method)
    serialize(session, _lock(*payout.payee))
    session.refresh(payout, with_for_update=True)
    if payout.status == "failed":
        raise PayoutFailed(payout.id)
    if payout.status == "pending":
        payout.reference = reference or payout.reference
        _paid(uow, payout)  # with its log
    else:
        with_log(session, [payout])
    return uow.commit(payout)


def pending_bank_transfers(session: Session, *, limit: int) -> list[Payout]:
    """The bank transfers the operator still has to make, oldest first."""
    return list(
        session.execute(
            select(Payout)
            .where(Payout.status == "pending", Payout.method == "bank_transfer")
            .order_by(Payout.id)
            .limit(limit)
        ).scalars()
    )


# ----------------------------------------------------------------- reads


def get_payout(session: Session, payout_id: int) -> Payout:
    payout = _payout(session, payout_id)
    with_log(session, [payout])
    return payout


def _payout(session: Session, payout_id: int) -> Payout:
    payout = session.get(Payout, payout_id)
    if payout is None:
        raise PayoutNotFound(payout_id)
    return payout


def list_all_payouts(
    session: Session, *, status: str | None = None, method: str | None = None, limit: int, cursor: str | None
) -> Page:
    """Every payout, oldest first, optionally of one status and method (the operator's view)."""
    query = select(Payout)
    if status is not None:
        query = query.where(Payout.status == status)
    if method is not None:
        query = query.where(Payout.method == method)
    page = paginate(session, query, Payout.id, limit=limit, cursor=cursor)
    with_log(session, page.data)
    return page


def list_payouts(session: Session, affiliate_id: int, *, limit: int, cursor: str | None) -> Page:
    query = select(Payout).where(Payout.affiliate_id == affiliate_id)
    page = paginate(session, query, Payout.id, limit=limit, cursor=cursor)
    with_log(session, page.data)
    return page


def list_payouts_of(session: Session, affiliate_id: int, *, limit: int, cursor: str | None) -> Page:
    """The operator's view: 404 for an unknown affiliate."""
    get_affiliate(session, affiliate_id)
    return list_payouts(session, affiliate_id, limit=limit, cursor=cursor)
