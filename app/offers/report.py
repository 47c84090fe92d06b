"""An offer's report: every figure a recount of its recipients and of the orders.

A conversion is an order at the offering merchant (any merchant, for the operator's
offers) recorded within the offer's window by a member who was sent the offer
(targeted) or held out. Orders count with their net amount (refunds deducted) as it
is when the report is read. The incremental figures compare the targeted with what
the holdout says they would have done anyway:

    incremental_orders = orders_sent - round(orders_held_out * sent / held_out)

and the same for sales; both are null while nobody is held out or sent.
"""

from __future__ import annotations

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from app.boutique.models import CatalogItem
from app.campaigns import services as campaigns
from app.offers.models import BONUS, Offer, OfferRecipient
from app.offers.services import vouchers_given
from app.orders.models import Order

BASIS_POINTS = 10_000


def report(session: Session, offer: Offer) -> dict:
    r = OfferRecipient
    counts = session.execute(
        select(
            func.count(),
            func.count(case((r.held_out.is_(True), 1))),
            func.count(r.sent_at),
            func.count(r.opened_at),
            func.count(r.clicked_at),
        ).where(r.offer_id == offer.id)
    ).one()
    eligible, held_out, sent, opened, clicked = (int(n) for n in counts)
    groups = _conversions(session, offer)
    sent_group, held_group = groups.get(False, (0, 0, 0)), groups.get(True, (0, 0, 0))
    return {
        "offer_id": str(offer.id),
        "eligible": eligible,
        "sent": sent,
        "held_out": held_out,
        "opened": opened,
        "clicked": clicked,
        "converted": sent_group[0],
        "conversion_rate_bp": _rate(sent_group[0], sent),
        "holdout_conversion_rate_bp": _rate(held_group[0], held_out),
        "orders": sent_group[1],
        "holdout_orders": held_group[1],
        "incremental_orders": _incremental(sent_group[1], sent, held_group[1], held_out),
        "incremental_sales_cents": _incremental(sent_group[2], sent, held_group[2], held_out),
        "points_cost": _points_cost(session, offer),
    }


def _points_cost(session: Session, offer: Offer) -> int:
    """The bonus points given, or the vouchers given at the item's points price."""
    if offer.reward_type == BONUS:
        return campaigns.offer_bonus_awarded(session, offer.id)
    return vouchers_given(session, offer.id) * int(session.get(CatalogItem, offer.reward_item_id).points_price)


def _conversions(session: Session, offer: Offer) -> dict[bool, tuple[int, int, int]]:
    """Per group (held out or not): members who ordered, orders, net sales."""
    r, o = OfferRecipient, Order
    window = [o.created_at >= offer.starts_at, o.created_at < offer.ends_at]
    if offer.merchant_id is not None:
        window.append(o.merchant_id == offer.merchant_id)
    rows = session.execute(
        select(
            r.held_out,
            func.count(func.distinct(o.member_id)),
            func.count(o.id),
            func.coalesce(func.sum(o.amount_cents - o.refunded_cents), 0),
        )
        .join(Order, and_(o.member_id == r.member_id, *window))
        .where(r.offer_id == offer.id, (r.held_out.is_(True)) | (r.sent_at.is_not(None)))
        .group_by(r.held_out)
    ).all()
    return {bool(row[0]): (int(row[1]), int(row[2]), int(row[3])) for row in rows}


def _rate(part: int, whole: int) -> int:
    return part * BASIS_POINTS // whole if whole else 0


def _incremental(targeted: int, sent: int, holdout: int, held_out: int) -> int | None:
    if not sent or not held_out:
        return None
    return targeted - (holdout * sent * 2 + held_out) // (2 * held_out)
