"""Orders earn points; refunds take back the difference. One transaction each."""

from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

import ledger
from app import metrics
from app.commissions import attribution
from app.commissions import services as commissions
from app.members import services as members
from app.merchants.models import MerchantTerms
from app.orders.errors import CurrencyNotAccepted, OrderNotFound, RefundExceedsOrder
from app.orders.models import Order, Refund
from app.orders.schemas import OrderSchema, RefundSchema
from app.rows import one_or_raise
from app.unit_of_work import UnitOfWork

_ORDER_SCHEMA = OrderSchema()
_INSERT_ORDER = insert(Order.__table__)
_REFUND_SCHEMA = RefundSchema()
_NO_ATTRIBUTION = {"commission": None, "attribution_error": None}


def issuer_of(merchant: MerchantTerms) -> ledger.Issuer:
    return ledger.Issuer(str(merchant.id), merchant.currency, merchant.price_per_1000_points_cents)


def points_for(amount_cents: int, earn_points: int, per_amount_cents: int) -> int:
    """The published rounding: ``earn_points`` per *full* block of ``per_amount_cents``."""
    if amount_cents <= 0:
        return 0
    return (amount_cents // per_amount_cents) * earn_points


def record_order(uow: UnitOfWork, merchant: MerchantTerms, data: dict) -> dict:
    """Record an order and award its points, and commit; returns the answer.

    ``order_id`` is the idempotency key: replaying it with the same (loaded)
    body returns the first answer (``uow.replayed``); with another body it
    raises ``IdempotencyKeyReused``.
    """
    stored = uow.once(f"orders:{merchant.id}", data["order_id"], data)
    if stored is not None:
        return stored
    if data["currency"] != merchant.currency:
        raise CurrencyNotAccepted(merchant.currency)
    session, now = uow.session, uow.now
    member_id = members.find_or_create_customer(session, merchant.id, data["member_email"], now=now)
    points = points_for(data["amount_cents"], merchant.earn_points, merchant.earn_per_amount_cents)
    earned = ledger.earn(
        session,
        member_key=str(member_id),
        issuer=issuer_of(merchant),
        points=points,
        idempotency_key=f"earn:{merchant.id}:{data['order_id']}",
        ref=ledger.order_ref(str(merchant.id), data["order_id"]),
        memo=f"Order {data['order_id']} at {merchant.name}",
        now=now,
        lifetime_days=merchant.points_lifetime_days,
    )
    order = {
        "merchant_id": merchant.id,
        "order_id": data["order_id"],
        "member_id": member_id,
        "amount_cents": data["amount_cents"],
        "currency": data["currency"],
        "earn_points": merchant.earn_points,
        "earn_per_amount_cents": merchant.earn_per_amount_cents,
        "points_earned": points,
        "refunded_cents": 0,
        "points_reversed": 0,
        "earn_entry_id": earned.entry_id,
        "created_at": now,
    }
    session.execute(_INSERT_ORDER, order)
    attributed = _NO_ATTRIBUTION
    if "click_token" in data:
        commission, error = attribution.attribute(
            uow,
            merchant,
            token=data["click_token"],
            kind="sale",
            conversion_ref=f"order:{data['order_id']}",
            sale_cents=data["amount_cents"],
            member_email=data["member_email"],
        )
        attributed = {"commission": commission, "attribution_error": error}
    after = earned.member_after or ledger.member_points(session, str(member_id))
    # A transient Order (never added to the session) gives the answer the same shape as GET.
    answer = _ORDER_SCHEMA.dump({**_order_view(Order(**order), after), **attributed})
    uow.emit("merchant", merchant.id, "order.points_awarded", answer)
    uow.commit(answer)
    metrics.orders_recorded.inc()  # after the commit: a replay returned above, a failed commit raised
    return answer


def get_order(session: Session, merchant: MerchantTerms, order_id: str) -> dict:
    order = _order_of(session, merchant, order_id)
    return {
        **_order_view(order, ledger.member_points(session, str(order.member_id))),
        **attribution.order_attribution(session, merchant.id, order_id),
    }


def refund_order(uow: UnitOfWork, merchant: MerchantTerms, order_id: str, data: dict) -> dict:
    """Refund part of an order, and commit: points are recomputed on the net amount
    and the difference is taken back; points already spent become member debt.
    ``refund_id`` is the idempotency key, as ``order_id`` is for orders."""
    stored = uow.once(f"refunds:{merchant.id}", data["refund_id"], {"order_id": order_id, **data})
    if stored is not None:
        return stored
    session, now = uow.session, uow.now
    order = _order_of(session, merchant, order_id, for_update=True)
    if data["amount_cents"] > order.net_amount_cents:
        raise RefundExceedsOrder(order_id, order.net_amount_cents)
    net_after = order.net_amount_cents - data["amount_cents"]
    points_after = points_for(net_after, order.earn_points, order.earn_per_amount_cents)
    reverse = max(0, order.points_net - points_after)
    taken = ledger.clawback(
        session,
        member_key=str(order.member_id),
        issuer=issuer_of(merchant),
        points=reverse,
        earn_entry_id=order.earn_entry_id,
        idempotency_key=f"refund:{merchant.id}:{data['refund_id']}",
        ref=ledger.order_ref(str(merchant.id), order_id),
        memo=f"Refund {data['refund_id']} of order {order_id} at {merchant.name}",
        now=now,
    )
    order.refunded_cents += data["amount_cents"]
    order.points_reversed += reverse
    commissions.on_refund(uow, merchant, order_id, order.net_amount_cents, data["refund_id"])
    refund = Refund(
        merchant_id=merchant.id,
        refund_id=data["refund_id"],
        order_pk=order.id,
        amount_cents=data["amount_cents"],
        points_reversed=reverse,
        points_to_debt=taken.points_to_debt,
        entry_id=taken.entry_id,
        created_at=now,
    )
    session.add(refund)
    session.flush()
    answer = _REFUND_SCHEMA.dump(
        {
            "refund_id": refund.refund_id,
            "order_id": order.order_id,
            "member_id": str(order.member_id),
            "amount_cents": refund.amount_cents,
            "order_net_amount_cents": order.net_amount_cents,
            "points_reversed": reverse,
            "points_from_expired": taken.points_from_expired,
            "points_to_debt": taken.points_to_debt,
            "created_at": now,
            **members.points_of(session, order.member_id),
        }
    )
    uow.emit("merchant", merchant.id, "order.refunded", answer)
    uow.commit(answer)
    metrics.refunds_recorded.inc()
    return answer


def _order_of(session: Session, merchant: MerchantTerms, order_id: str, *, for_update: bool = False) -> Order:
    query = select(Order).where(Order.merchant_id == merchant.id, Order.order_id == order_id)
    return one_or_raise(session, query, OrderNotFound(order_id), for_update=for_update)


def _order_view(order: Order, points: ledger.MemberPoints) -> dict:
    return {
        "order_id": order.order_id,
        "member_id": str(order.member_id),
        "amount_cents": order.amount_cents,
        "net_amount_cents": order.net_amount_cents,
        "currency": order.currency,
        "points_earned": order.points_earned,
        "points_net": order.points_net,
        "created_at": order.created_at,
        **members.points_view(points),
    }
