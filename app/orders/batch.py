"""Batch earning: many orders in one request (``POST /v1/orders/batch``).

Each order is answered exactly as its own ``POST /v1/orders`` would be, in
request order: 201 created, 200 replay (the stored answer), 409 conflict, 422
invalid, with the same body. An order_id named twice in one batch is answered
as two POSTs in a row would be: the later one replays the first (same body) or
conflicts with it (another body).

Plain orders (no live campaign for the merchant, no tiers, no click token, a
member without a card) take the bulk path: one transaction for the whole batch,
one read of the idempotency records, members found and created in bulk, every
member's ledger row locked in account id order, ``ledger.earn_many``, and
multi-row inserts of orders, lines, links, outbox rows and idempotency records.
Every other order goes through ``services.record_order`` after the bulk
transaction committed, one transaction each, exactly as a single POST (its
campaign, tier, card and attribution rules, and their lock order, unchanged).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import marshmallow as ma
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.exceptions import UnprocessableEntity

import ledger
from app import metrics
from app.campaigns import services as campaigns
from app.card.models import CardSubscription
from app.constants import BATCH_ORDERS_MAX
from app.errors import DomainError, is_unique_violation, problem_response
from app.members import services as members
from app.members.models import Member, MerchantMember
from app.merchants.models import MerchantTerms
from app.orders import services
from app.orders.errors import CurrencyNotAccepted
from app.orders.models import Order, OrderLine
from app.orders.schemas import OrderCreateSchema
from app.programme import tiers
from app.unit_of_work import IdempotencyKeyReused, UnitOfWork
from app.webhooks import services as webhooks

# A concurrent request recorded one of the batch's orders meanwhile: the batch is done again.
BATCH_ATTEMPTS_MAX = 3

_CREATE_SCHEMA = OrderCreateSchema()
_MEMBERS = Member.__table__
_LINKS = MerchantMember.__table__
_ORDERS = Order.__table__
_CREATED, _REPLAYED = 201, 200


@dataclass
class _Slot:
    """One order of the batch, and what it was answered."""

    index: int
    body: Any
    data: dict | None = None
    fingerprint: str = ""
    status: int | None = None
    answer: dict | None = None
    replay_of: _Slot | None = None
    plan: services.Earning | None = None

    @property
    def order_id(self) -> str | None:
        if self.data is not None:
            return self.data["order_id"]
        found = self.body.get("order_id") if isinstance(self.body, dict) else None
        return found if isinstance(found, str) else None

    def answered(self, status: int, answer: dict) -> None:
        self.status, self.answer = status, answer


class _LostRace(Exception):
    """A concurrent request recorded one of the batch's orders after the batch read the records."""


def record_orders(uow: UnitOfWork, merchant: MerchantTerms, bodies: list) -> dict:
    """Record up to ``BATCH_ORDERS_MAX`` orders; returns ``{"results": [...]}`` in request order.
    Commits the bulk path's orders at once, then each other order on its own."""
    if not 1 <= len(bodies) <= BATCH_ORDERS_MAX:
        raise ValueError(f"a batch has 1 to {BATCH_ORDERS_MAX} orders, not {len(bodies)}")
    slots = [_Slot(i, body) for i, body in enumerate(bodies)]
    for slot in slots:
        _load(slot)
    for attempt in range(1, BATCH_ATTEMPTS_MAX + 1):
        try:
            one_by_one, recorded = _record_bulk(uow, merchant, slots)
            break
        except (IntegrityError, _LostRace) as error:
            uow.discard()
            if isinstance(error, IntegrityError) and not is_unique_violation(error) or attempt == BATCH_ATTEMPTS_MAX:
                raise
            for slot in slots:
                if slot.data is not None:
                    slot.status = slot.answer = slot.replay_of = slot.plan = None
    metrics.orders_recorded.inc(recorded)
    for slot in one_by_one:
        _record_one(uow, merchant, slot)
    return {"results": [{"order_id": s.order_id, "status": s.status, "body": s.answer} for s in slots]}


def _load(slot: _Slot) -> None:
    """Validate the order alone, as ``POST /v1/orders`` validates its body."""
    try:
        slot.data = _CREATE_SCHEMA.load(slot.body)
    except ma.ValidationError as error:
        refused = UnprocessableEntity()
        refused.data = {"messages": {"json": error.messages}}
        slot.answered(422, problem_body(refused))
        return
    slot.fingerprint = ledger.request_fingerprint(slot.data)


def problem_body(error: BaseException) -> dict:
    """The problem body a single POST answers for ``error``."""
    return json.loads(problem_response(error).get_data())


def _refused(slot: _Slot, error: BaseException) -> None:
    body = problem_body(error)
    slot.answered(body["status"], body)


def _reused(key: str) -> IdempotencyKeyReused:
    return IdempotencyKeyReused(f"This key ({key}) was used for a different request.")


def _record_bulk(uow: UnitOfWork, merchant: MerchantTerms, slots: list[_Slot]) -> tuple[list[_Slot], int]:
    """The bulk transaction; returns the orders left for the single path, and how many it recorded."""
    session, now = uow.session, uow.now
    scope = f"orders:{merchant.id}"
    valid = [s for s in slots if s.data is not None]
    existing = ledger.find_requests(session, scope, [s.data["order_id"] for s in valid if s.data])
    per_order = bool(tiers.tiers(session)) or campaigns.any_live(session, merchant.id, now)
    bulk, one_by_one = _classify(merchant, valid, existing, per_order=per_order, now=now)
    member_ids = _members_of(session, sorted({s.data["member_email"] for s in bulk if s.data}), now)
    with_card = _card_holders(session, set(member_ids.values()))
    for slot in [s for s in bulk if member_ids[_email(s)] in with_card]:
        _to_one_by_one(slot, valid, bulk, one_by_one)
    if bulk:
        _write(uow, merchant, bulk, member_ids)
    for slot in valid:
        if slot.replay_of is not None and slot.replay_of.status == _CREATED and slot.replay_of.answer:
            slot.answered(_REPLAYED, slot.replay_of.answer)
    uow.commit(None)
    return sorted(one_by_one, key=lambda s: s.index), len(bulk)


def _email(slot: _Slot) -> str:
    if slot.data is None:
        raise ValueError("an invalid order has no member")
    return slot.data["member_email"]


def _classify(
    merchant: MerchantTerms, valid: list[_Slot], existing: dict, *, per_order: bool, now: datetime
) -> tuple[list[_Slot], list[_Slot]]:
    """Answer replays, conflicts and invalid orders; split the rest into bulk and single path."""
    first: dict[str, _Slot] = {}
    single_keys: set[str] = set()
    bulk: list[_Slot] = []
    one_by_one: list[_Slot] = []
    for slot in valid:
        data = slot.data or {}
        key = data["order_id"]
        if key in single_keys:
            one_by_one.append(slot)
        elif key in existing:
            request_hash, stored = existing[key]
            if request_hash != slot.fingerprint or stored is None:
                _refused(slot, _reused(key))
            else:
                slot.answered(_REPLAYED, stored)
        elif key in first:
            if first[key].fingerprint == slot.fingerprint:
                slot.replay_of = first[key]
            else:
                _refused(slot, _reused(key))
        elif data["currency"] != merchant.currency:
            _refused(slot, CurrencyNotAccepted(merchant.currency))
        elif per_order or "click_token" in data:
            single_keys.add(key)
            one_by_one.append(slot)
        else:
            try:
                groups, base = services.base_of(merchant, data)
                slot.plan = services.checked_earning(merchant, groups, base, [], now)
            except DomainError as error:
                _refused(slot, error)
                continue
            first[key] = slot
            bulk.append(slot)
    return bulk, one_by_one


def _to_one_by_one(first: _Slot, valid: list[_Slot], bulk: list[_Slot], one_by_one: list[_Slot]) -> None:
    """Move an order (and the later orders with its order_id) to the single path."""
    key = first.data["order_id"] if first.data else None
    bulk.remove(first)
    for slot in valid:
        if slot.index >= first.index and slot.data and slot.data["order_id"] == key:
            slot.status = slot.answer = slot.replay_of = slot.plan = None
            one_by_one.append(slot)


def _record_one(uow: UnitOfWork, merchant: MerchantTerms, slot: _Slot) -> None:
    """An order through the single path, in a transaction of its own."""
    uow.replayed = False
    try:
        answer = services.record_order(uow, merchant, slot.data or {})
    except (DomainError, ledger.LedgerError) as error:
        uow.discard()
        _refused(slot, error)
        return
    except IntegrityError as error:
        uow.discard()
        if not is_unique_violation(error):
            raise
        _refused(slot, error)
        return
    slot.answered(_REPLAYED if uow.replayed else _CREATED, answer)


def _members_of(session: Session, emails: list[str], now: datetime) -> dict[str, int]:
    """Member ids by email, new members created in one insert (in email order, as every
    batch inserts them, so that concurrent batches cannot deadlock on new emails)."""
    if not emails:
        return {}
    found = _member_ids(session, emails)
    missing = [e for e in emails if e not in found]
    if missing:
        rows = [{"email": e, "created_at": now} for e in missing]
        ledger.insert_rows(session, _MEMBERS, rows, skip_conflicts_on=["email"])
        found.update(_member_ids(session, missing))
    return found


def _member_ids(session: Session, emails: list[str]) -> dict[str, int]:
    rows = session.execute(select(_MEMBERS.c.email, _MEMBERS.c.id).where(_MEMBERS.c.email.in_(emails)))
    return {row.email: row.id for row in rows}


def _card_holders(session: Session, member_ids: set[int]) -> set[int]:
    if not member_ids:
        return set()
    rows = session.execute(select(CardSubscription.member_id).where(CardSubscription.member_id.in_(sorted(member_ids))))
    return set(rows.scalars())


def _write(uow: UnitOfWork, merchant: MerchantTerms, bulk: list[_Slot], member_ids: dict[str, int]) -> None:
    """Earn, insert and answer the bulk path's orders, in request order."""
    session, now = uow.session, uow.now
    issuer = services.issuer_of(merchant)
    earned = ledger.earn_many(
        session,
        [_earn_request(merchant, issuer, s, member_ids[_email(s)]) for s in bulk],
        now=now,
    )
    rows = [
        services.order_row(merchant, s.data or {}, member_ids[_email(s)], _plan(s), e.entry_id, now)
        for s, e in zip(bulk, earned, strict=True)
    ]
    if all(row["earn_groups"] is None for row in rows):  # the column's default; leaves the fast path open
        rows = [{k: v for k, v in row.items() if k != "earn_groups"} for row in rows]
    order_pks = ledger.insert_rows(session, _ORDERS, rows, returning="id")
    lines = [
        {"order_pk": pk, "line_no": n, **line}
        for s, pk in zip(bulk, order_pks, strict=True)
        for n, line in enumerate((s.data or {}).get("lines") or [], 1)
    ]
    ledger.insert_rows(session, OrderLine.__table__, lines)
    customers = _customers(session, merchant, bulk, member_ids)
    links = sorted({member_ids[_email(s)] for s in bulk if _plan(s).total > 0} - customers)
    ledger.insert_rows(
        session,
        _LINKS,
        [{"merchant_id": merchant.id, "member_id": m, "first_order_at": now} for m in links],
        skip_conflicts_on=["merchant_id", "member_id"],
    )
    for slot, row, result in zip(bulk, rows, earned, strict=True):
        member_id = member_ids[_email(slot)]
        if _plan(slot).total > 0:
            customers.add(member_id)
        points = members.points_view(result.member_after) if member_id in customers else services.HIDDEN_POINTS
        slot.answered(_CREATED, services.order_answer(row, [], slot.data or {}, points))
    answers = [s.answer for s in bulk if s.answer is not None]
    webhooks.emit_many(session, "merchant", merchant.id, "order.points_awarded", answers, now=now)
    done = [(s.data["order_id"], s.fingerprint, s.answer) for s in bulk if s.data and s.answer]
    if len(ledger.record_requests(session, f"orders:{merchant.id}", done)) != len(done):
        raise _LostRace()


def _plan(slot: _Slot) -> services.Earning:
    if slot.plan is None:
        raise ValueError(f"order {slot.order_id} has no plan")
    return slot.plan


def _earn_request(merchant: MerchantTerms, issuer: ledger.Issuer, slot: _Slot, member_id: int) -> ledger.EarnRequest:
    order_id = slot.data["order_id"] if slot.data else ""
    return ledger.EarnRequest(
        member_key=str(member_id),
        issuer=issuer,
        points=_plan(slot).base,
        idempotency_key=f"earn:{merchant.id}:{order_id}",
        ref=ledger.order_ref(str(merchant.id), order_id),
        memo=f"Order {order_id} at {merchant.name}",
        lifetime_days=merchant.points_lifetime_days,
        available_at=_plan(slot).available_at,
    )


def _customers(session: Session, merchant: MerchantTerms, bulk: list[_Slot], member_ids: dict[str, int]) -> set[int]:
    """The batch's members this merchant already has as customers."""
    ids = sorted({member_ids[_email(s)] for s in bulk})
    rows = session.execute(
        select(_LINKS.c.member_id).where(_LINKS.c.merchant_id == merchant.id, _LINKS.c.member_id.in_(ids))
    )
    return set(rows.scalars())
