"""Orders earn points; refunds take back the difference. One transaction each.

An order's points are its base (the merchant's rule over its rate groups,
app.programme.earning) and its extras (campaign bonuses, tier and card,
app.programme.extras), each a ledger entry of its own. With a return window
(``points_pending_days``) they are all incoming until the ``release-points`` job
or the merchant's confirmation makes them available.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

import ledger
from app import metrics
from app.campaigns import services as campaigns
from app.card import services as card
from app.commissions import attribution
from app.commissions import services as commissions
from app.members import services as members
from app.members.schemas import CustomerPointsSchema
from app.merchants.models import MerchantTerms
from app.orders.errors import CurrencyNotAccepted, EarnsTooMuch, OrderNotFound, RefundExceedsOrder
from app.orders.models import Order, OrderLine, Refund
from app.orders.schemas import OrderSchema, RefundSchema
from app.programme import earning, extras, tiers
from app.programme.extras import Extra, OrderAward
from app.rows import one_or_raise
from app.unit_of_work import UnitOfWork

_ORDER_SCHEMA = OrderSchema()
_INSERT_ORDER = insert(Order.__table__).returning(Order.__table__.c.id)
_REFUND_SCHEMA = RefundSchema()
_NO_ATTRIBUTION = {"commission": None, "attribution_error": None}
HIDDEN_POINTS = dict.fromkeys(CustomerPointsSchema().fields, None)


def issuer_of(merchant: MerchantTerms) -> ledger.Issuer:
    return ledger.Issuer(str(merchant.id), merchant.currency, merchant.price_per_1000_points_cents)


def funder_of(merchant: MerchantTerms, funder: str) -> ledger.Issuer:
    """Who pays for an extra: the merchant, or the operator at the merchant's point price."""
    if funder == extras.MERCHANT:
        return issuer_of(merchant)
    return ledger.Issuer(ledger.OPERATOR, merchant.currency, merchant.price_per_1000_points_cents)


def points_for(amount_cents: int, earn_points: int, per_amount_cents: int) -> int:
    """The published rounding: ``earn_points`` per *full* block of ``per_amount_cents``."""
    return earning.points_for(amount_cents, earning.Rate(earn_points, per_amount_cents))


@dataclass(frozen=True)
class Earning:
    """What an order earns, decided before anything is written."""

    groups: list[earning.Group]
    base: int
    extras: list[Extra]
    available_at: datetime | None

    @property
    def total(self) -> int:
        return self.base + sum(extra.points for extra in self.extras)


def _first_orders(session: Session, merchant: MerchantTerms, member_id: int | None) -> tuple[bool, bool]:
    """Whether this order is the member's first here, and in the coalition (before it is written)."""
    here = anywhere = True
    if member_id is not None:
        anywhere = session.execute(select(Order.id).where(Order.member_id == member_id).limit(1)).first() is None
        here = anywhere or (
            session.execute(
                select(Order.id).where(Order.member_id == member_id, Order.merchant_id == merchant.id).limit(1)
            ).first()
            is None
        )
    return here, anywhere


def _tier_of(session: Session, member_id: int | None, data: dict, now: datetime, *, write: bool):
    """The tier the order earns at: the one held, or the one this order's spend reaches."""
    added = data["amount_cents"] if data["currency"] == tiers.TIER_CURRENCY else 0
    if member_id is None:  # a preview for someone not yet a member: this order is all their spend
        return tiers.qualified(tiers.tiers(session), added)
    return tiers.upgrade(session, member_id, now, added_spend=added, write=write)


def _campaign_extras(
    session: Session,
    merchant: MerchantTerms,
    data: dict,
    member_id: int | None,
    base: int,
    tier,
    now: datetime,
    *,
    write: bool,
) -> list[Extra]:
    """The campaigns' bonuses: reserved from their budgets when recording (``award``
    locks their rows, before the member's ledger row), only read for a preview."""
    if not campaigns.any_live(session, merchant.id, now):
        return []
    here, anywhere = _first_orders(session, merchant, member_id)
    facts = campaigns.OrderFacts(
        merchant_id=merchant.id,
        member_id=member_id or 0,
        amount_cents=data["amount_cents"],
        currency=data["currency"],
        categories=frozenset(line["category"] for line in data.get("lines") or []),
        tier=tier.name if tier is not None else None,
        first_order_here=here,
        first_order_anywhere=anywhere,
        base_points=base,
        now=now,
    )
    bonuses = campaigns.award(session, facts) if write else campaigns.offered(session, facts)
    return [
        Extra(
            extras.CAMPAIGN,
            bonus.name,
            bonus.funder,
            bonus.points,
            campaign_id=bonus.campaign_id,
            extra_bp=None if bonus.factor_bp is None else bonus.factor_bp - extras.NO_MULTIPLIER_BP,
            fixed_points=None if bonus.factor_bp is not None else bonus.points,
        )
        for bonus in bonuses
    ]


def plan_earning(
    session: Session, merchant: MerchantTerms, data: dict, member_id: int | None, now: datetime, *, write: bool
) -> Earning:
    """The order's groups, base and extras. With ``write`` the tier upgrade is kept;
    without (a preview) nothing is written."""
    groups, base = base_of(merchant, data)
    tier = _tier_of(session, member_id, data, now, write=write)
    found = _campaign_extras(session, merchant, data, member_id, base, tier, now, write=write)
    if tier is not None:
        extra = extras.of_multiplier(extras.TIER, f"{tier.name} tier", base, tier.earn_multiplier_bp)
        found += [extra] if extra else []
    held = card.benefit(session, member_id, now) if member_id is not None else None
    if held is not None:
        extra = extras.of_multiplier(extras.CARD, held[0], base, held[1])
        found += [extra] if extra else []
    return checked_earning(merchant, groups, base, found, now)


def base_of(merchant: MerchantTerms, data: dict) -> tuple[list[earning.Group], int]:
    """The order's rate groups and base points under the merchant's rule."""
    groups = earning.groups_of(merchant.earn_rule, data["amount_cents"], data.get("lines"))
    return groups, earning.base_points(groups)


def checked_earning(
    merchant: MerchantTerms, groups: list[earning.Group], base: int, found: list[Extra], now: datetime
) -> Earning:
    """The plan, once no entry of it exceeds ``POINTS_PER_ENTRY_MAX`` (else ``EarnsTooMuch``)."""
    largest = max([base, *(extra.points for extra in found)])
    if largest > ledger.POINTS_PER_ENTRY_MAX:
        raise EarnsTooMuch(largest, ledger.POINTS_PER_ENTRY_MAX)
    days = merchant.points_pending_days
    return Earning(groups, base, found, now + timedelta(days=days) if days else None)


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
    member_id = members.find_or_create_member(session, data["member_email"], now=now)
    plan = plan_earning(session, merchant, data, member_id, now, write=True)
    earned = _earn(session, merchant, data["order_id"], member_id, plan.base, "", plan.available_at, now)
    order = order_row(merchant, data, member_id, plan, earned, now)
    order_pk = session.execute(_INSERT_ORDER, order).scalar_one()
    _record_lines(session, order_pk, data.get("lines") or [])
    awards = _record_extras(session, merchant, data["order_id"], order_pk, member_id, plan, now)
    card.on_order(uow, member_id, data["amount_cents"], data["currency"])  # vouchers as spend accumulates
    if plan.total > 0:
        members.link_customer(session, merchant.id, member_id, now=now)
    attributed = _attribute(uow, merchant, data)
    answer = order_answer(order, awards, data, _points_if_customer(session, merchant, member_id), attributed)
    uow.emit("merchant", merchant.id, "order.points_awarded", answer)
    uow.commit(answer)
    metrics.orders_recorded.inc()  # after the commit: a replay returned above, a failed commit raised
    return answer


def order_row(
    merchant: MerchantTerms, data: dict, member_id: int, plan: Earning, earn_entry_id: int | None, now: datetime
) -> dict:
    """The ``orders`` row of a recorded order."""
    return {
        "merchant_id": merchant.id,
        "order_id": data["order_id"],
        "member_id": member_id,
        "amount_cents": data["amount_cents"],
        "currency": data["currency"],
        "earn_points": merchant.earn_points,
        "earn_per_amount_cents": merchant.earn_per_amount_cents,
        "points_earned": plan.base,
        "refunded_cents": 0,
        "points_reversed": 0,
        "earn_entry_id": earn_entry_id,
        "created_at": now,
        "earn_groups": earning.stored(plan.groups) if data.get("lines") else None,
        "points_available_at": plan.available_at,
    }


class _Recorded:
    """An ``orders`` row just written, read as ``_order_view`` reads an ``Order`` (without
    the cost of a mapped object, which a batch would pay once per order)."""

    def __init__(self, row: dict):
        self.__dict__.update(row)

    @property
    def net_amount_cents(self) -> int:
        return self.amount_cents - self.refunded_cents

    @property
    def points_net(self) -> int:
        return self.points_earned - self.points_reversed


def order_answer(order: dict, awards: list, data: dict, points: dict, attributed: dict = _NO_ATTRIBUTION) -> dict:
    """The answer to recording an order (and to every replay of it)."""
    view = _order_view(_Recorded(order), awards, data.get("lines") or [], points)
    return _ORDER_SCHEMA.dump({**view, **attributed})


def _earn(
    session: Session,
    merchant: MerchantTerms,
    order_id: str,
    member_id: int,
    points: int,
    suffix: str,
    available_at: datetime | None,
    now: datetime,
    *,
    issuer: ledger.Issuer | None = None,
    memo: str | None = None,
) -> int | None:
    """One earn entry of the order (the base, or an extra with its key ``suffix``)."""
    return ledger.earn(
        session,
        member_key=str(member_id),
        issuer=issuer or issuer_of(merchant),
        points=points,
        idempotency_key=f"earn:{merchant.id}:{order_id}{suffix}",
        ref=ledger.order_ref(str(merchant.id), order_id),
        memo=memo or f"Order {order_id} at {merchant.name}",
        now=now,
        lifetime_days=merchant.points_lifetime_days,
        available_at=available_at,
    ).entry_id


def _record_lines(session: Session, order_pk: int, lines: list[dict]) -> None:
    if lines:
        session.execute(
            insert(OrderLine), [{"order_pk": order_pk, "line_no": i, **line} for i, line in enumerate(lines, 1)]
        )


def _record_extras(
    session: Session, merchant: MerchantTerms, order_id: str, order_pk: int, member_id: int, plan: Earning, now
) -> list[OrderAward]:
    awards = []
    for extra in plan.extras:
        suffix = f":{extra.source}" + (f":{extra.campaign_id}" if extra.campaign_id is not None else "")
        memo = f"{extra.name} at {merchant.name} (order {order_id})"
        entry_id = _earn(
            session,
            merchant,
            order_id,
            member_id,
            extra.points,
            suffix,
            plan.available_at,
            now,
            issuer=funder_of(merchant, extra.funder),
            memo=memo,
        )
        award = OrderAward(
            order_pk=order_pk,
            source=extra.source,
            campaign_id=extra.campaign_id,
            name=extra.name,
            funder=extra.funder,
            extra_bp=extra.extra_bp,
            fixed_points=extra.fixed_points,
            points_earned=extra.points,
            points_reversed=0,
            earn_entry_id=entry_id,
            created_at=now,
        )
        session.add(award)
        awards.append(award)
    session.flush()
    return awards


def _attribute(uow: UnitOfWork, merchant: MerchantTerms, data: dict) -> dict:
    if "click_token" not in data:
        return _NO_ATTRIBUTION
    commission, error = attribution.attribute(
        uow,
        merchant,
        token=data["click_token"],
        kind="sale",
        conversion_ref=f"order:{data['order_id']}",
        sale_cents=data["amount_cents"],
        member_email=data["member_email"],
    )
    return {"commission": commission, "attribution_error": error}


def _points_if_customer(session: Session, merchant: MerchantTerms, member_id: int) -> dict:
    """The member's coalition-wide figures, for a merchant that has them as customer."""
    if not members.is_customer(session, merchant.id, member_id):
        return HIDDEN_POINTS
    return members.points_of(session, member_id)


def preview_order(session: Session, merchant: MerchantTerms, data: dict, now: datetime) -> dict:
    """What the order would earn now, and why; writes nothing."""
    if data["currency"] != merchant.currency:
        raise CurrencyNotAccepted(merchant.currency)
    member_id = members.find_member(session, data["member_email"])
    plan = plan_earning(session, merchant, data, member_id, now, write=False)
    return {  # the view's schema dumps it (a dumped timestamp would be dumped twice)
        "points_base": plan.base,
        "groups": [group.as_dict() for group in plan.groups],
        "bonuses": [extra.as_bonus() for extra in plan.extras],
        "points_total": plan.total,
        "points_available_at": plan.available_at,
    }


def get_order(session: Session, merchant: MerchantTerms, order_id: str) -> dict:
    order = _order_of(session, merchant, order_id)
    return {
        **_order_view(
            order,
            _awards_of(session, order.id),
            _lines_of(session, order.id),
            _points_if_customer(session, merchant, order.member_id),
        ),
        **attribution.order_attribution(session, merchant.id, order_id),
    }


def confirm_order(uow: UnitOfWork, merchant: MerchantTerms, order_id: str) -> dict:
    """The merchant confirms the order (no return is coming): its incoming points
    become available now. Safe to repeat; commits."""
    session = uow.session
    order = _order_of(session, merchant, order_id, for_update=True)
    awards = _awards_of(session, order.id)
    for entry_id in [order.earn_entry_id, *(a.earn_entry_id for a in awards)]:
        ledger.release_lot(session, earn_entry_id=entry_id, now=uow.now)
    order.points_available_at = None
    session.flush()
    answer = get_order(session, merchant, order_id)
    uow.commit(answer)
    return answer


def release_due(uow: UnitOfWork) -> int:
    """The ``release-points`` job: one batch of incoming lots whose date has come."""
    released = ledger.release_due(uow.session, now=uow.now)
    uow.session.execute(
        Order.__table__.update()
        .where(Order.points_available_at.is_not(None), Order.points_available_at <= uow.now)
        .values(points_available_at=None)
    )
    return released


def refund_order(uow: UnitOfWork, merchant: MerchantTerms, order_id: str, data: dict) -> dict:
    """Refund part of an order, and commit: its base and each extra are recomputed
    on the net amount and the difference is taken back; points already spent
    become member debt (incoming points never do). ``refund_id`` is the
    idempotency key, as ``order_id`` is for orders."""
    stored = uow.once(f"refunds:{merchant.id}", data["refund_id"], {"order_id": order_id, **data})
    if stored is not None:
        return stored
    session = uow.session
    order = _order_of(session, merchant, order_id, for_update=True)
    if data["amount_cents"] > order.net_amount_cents:
        raise RefundExceedsOrder(order_id, order.net_amount_cents)
    net_after = order.net_amount_cents - data["amount_cents"]
    base_after = earning.base_points(earning.after_refund(_groups_of(order), order.amount_cents, net_after))
    reverse = max(0, order.points_net - base_after)
    taken = _clawback(uow, merchant, order, data["refund_id"], reverse, order.earn_entry_id, "", issuer_of(merchant))
    order.refunded_cents += data["amount_cents"]
    order.points_reversed += reverse
    extra_reversed, extra_debt = _refund_extras(uow, merchant, order, data["refund_id"], base_after, net_after)
    commissions.on_refund(uow, merchant, order_id, order.net_amount_cents, data["refund_id"])
    refund = Refund(
        merchant_id=merchant.id,
        refund_id=data["refund_id"],
        order_pk=order.id,
        amount_cents=data["amount_cents"],
        points_reversed=reverse + extra_reversed,
        points_to_debt=taken.points_to_debt + extra_debt,
        entry_id=taken.entry_id,
        created_at=uow.now,
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
            "points_reversed": refund.points_reversed,
            "points_from_expired": taken.points_from_expired,
            "points_to_debt": refund.points_to_debt,
            "created_at": uow.now,
            **_points_if_customer(session, merchant, order.member_id),
        }
    )
    uow.emit("merchant", merchant.id, "order.refunded", answer)
    uow.commit(answer)
    metrics.refunds_recorded.inc()
    return answer


def _clawback(
    uow: UnitOfWork,
    merchant: MerchantTerms,
    order: Order,
    refund_id: str,
    points: int,
    earn_entry_id: int | None,
    suffix: str,
    issuer: ledger.Issuer,
):
    return ledger.clawback(
        uow.session,
        member_key=str(order.member_id),
        issuer=issuer,
        points=points,
        earn_entry_id=earn_entry_id,
        idempotency_key=f"refund:{merchant.id}:{refund_id}{suffix}",
        ref=ledger.order_ref(str(merchant.id), order.order_id),
        memo=f"Refund {refund_id} of order {order.order_id} at {merchant.name}",
        now=uow.now,
    )


def _refund_extras(
    uow: UnitOfWork, merchant: MerchantTerms, order: Order, refund_id: str, base_after: int, net_after: int
) -> tuple[int, int]:
    """Take back what each extra no longer carries; returns (points reversed, points to debt)."""
    reversed_total = debt = 0
    for award in _awards_of(uow.session, order.id, for_update=True):
        after = extras.after_refund(
            award.extra_bp, award.fixed_points, base_after=base_after, amount=order.amount_cents, net=net_after
        )
        reverse = max(0, award.points_net - after)
        if not reverse:
            continue
        issuer = funder_of(merchant, award.funder)
        taken = _clawback(uow, merchant, order, refund_id, reverse, award.earn_entry_id, f":award:{award.id}", issuer)
        award.points_reversed += reverse
        reversed_total += reverse
        debt += taken.points_to_debt
    return reversed_total, debt


def _groups_of(order: Order) -> list[earning.Group]:
    if order.earn_groups is None:
        return [earning.Group(None, order.amount_cents, earning.Rate(order.earn_points, order.earn_per_amount_cents))]
    return earning.loaded(order.earn_groups)


def _awards_of(session: Session, order_pk: int, *, for_update: bool = False) -> list[OrderAward]:
    query = select(OrderAward).where(OrderAward.order_pk == order_pk).order_by(OrderAward.id)
    if for_update:
        query = query.with_for_update()
    return list(session.execute(query).scalars())


def _lines_of(session: Session, order_pk: int) -> list[dict]:
    rows = session.execute(select(OrderLine).where(OrderLine.order_pk == order_pk).order_by(OrderLine.line_no))
    return [
        {"sku": r.sku, "category": r.category, "quantity": r.quantity, "amount_cents": r.amount_cents}
        for r in rows.scalars()
    ]


def _order_of(session: Session, merchant: MerchantTerms, order_id: str, *, for_update: bool = False) -> Order:
    query = select(Order).where(Order.merchant_id == merchant.id, Order.order_id == order_id)
    return one_or_raise(session, query, OrderNotFound(order_id), for_update=for_update)


def _order_view(order: Order | _Recorded, awards: list, lines: list[dict], points: dict) -> dict:
    bonuses = [a.as_bonus() for a in awards]
    return {
        "order_id": order.order_id,
        "member_id": str(order.member_id),
        "amount_cents": order.amount_cents,
        "net_amount_cents": order.net_amount_cents,
        "currency": order.currency,
        "points_earned": order.points_earned,
        "points_net": order.points_net,
        "bonuses": bonuses,
        "points_total": order.points_net + sum(b["points_net"] for b in bonuses),
        "points_available_at": order.points_available_at,
        "lines": lines,
        "created_at": order.created_at,
        **points,
    }
