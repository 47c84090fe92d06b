"""Members redeem in two phases: points held and stock reserved together; posted
when the supplier fulfils; voided on cancel or timeout. Each change runs in a
unit of work; its webhook event joins the same transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

import ledger
from app.boutique.errors import (
    AddressRequired,
    NotAvailable,
    OutOfStock,
    RedemptionNotFound,
    RedemptionResolved,
    RedemptionTimedOut,
)
from app.boutique.models import (
    CANCELLED,
    EXPIRED,
    FULFILLED,
    PHYSICAL,
    PLACED,
    VOUCHER,
    CatalogItem,
    Redemption,
    VoucherCode,
)
from app.boutique.schemas import RedemptionSchema
from app.constants import REDEMPTION_EXPIRY_BATCH_MAX
from app.merchants.models import MerchantTerms
from app.pagination import Page, paginate
from app.unit_of_work import UnitOfWork

_ITEMS = CatalogItem.__table__
_REDEMPTION_SCHEMA = RedemptionSchema()
_EVENT_OF_STATUS = {
    PLACED: "redemption.placed",
    FULFILLED: "redemption.fulfilled",
    CANCELLED: "redemption.cancelled",
    EXPIRED: "redemption.cancelled",
}


def place_redemption(
    uow: UnitOfWork, *, member_id: int, item_id: int, idempotency_key: str, shipping_address: str, timeout_s: int
) -> dict:
    """Hold the member's points and reserve one unit, and commit; vouchers are
    fulfilled at once. Returns the redemption as the API shows it.

    ``idempotency_key`` (the form's) is claimed for this item and address: the
    same request again returns the first answer (``uow.replayed``); the key sent
    for another item or address raises ``IdempotencyKeyReused``."""
    asked = {"item_id": item_id, "shipping_address": shipping_address}
    stored = uow.once(f"redemptions:{member_id}", idempotency_key, asked)
    if stored is not None:
        return stored
    session, now = uow.session, uow.now
    member_key = str(member_id)
    # The member's lock first, as every points flow does: one redemption at a time per member.
    ledger.lock_member(session, member_key)
    item = session.get(CatalogItem, item_id)
    if item is None or not item.available_at(now):
        raise NotAvailable()
    if item.kind == PHYSICAL and not shipping_address.strip():
        raise AddressRequired()
    hold = ledger.place_hold(
        session,
        member_key=member_key,
        points=item.points_price,
        idempotency_key=f"redemption:{member_id}:{idempotency_key}",
        ref="redemption:pending",
        now=now,
        timeout_s=timeout_s,
    )
    _take_stock(session, item.id)
    redemption = Redemption(
        member_id=member_id,
        item_id=item.id,
        merchant_id=item.merchant_id,
        kind=item.kind,
        title=item.title,
        points=item.points_price,
        wholesale_value_cents=item.wholesale_value_cents,
        currency=item.currency,
        status=PLACED,
        idempotency_key=idempotency_key,
        hold_id=hold.id,
        prize=False,
        shipping_address=shipping_address.strip() if item.kind == PHYSICAL else "",
        created_at=now,
        expires_at=hold.expires_at,
    )
    session.add(redemption)
    session.flush()
    hold.ref = ledger.redemption_ref(redemption.id)
    session.flush()
    _announce(uow, redemption)
    if item.kind == VOUCHER:
        _give_code(session, item.id, redemption.id)
        _post(session, redemption, now=now)
        _announce(uow, redemption)
    return uow.commit(_REDEMPTION_SCHEMA.dump(with_codes(session, [redemption])[0]))


def reserve_prize_stock(session: Session, item_id: int, units: int) -> None:
    """Set ``units`` of a voucher item aside for a contest's winners (their codes stay
    free until the draw gives them), or raise ``OutOfStock``."""
    taken = session.execute(
        update(_ITEMS).where(_ITEMS.c.id == item_id, _ITEMS.c.stock >= units).values(stock=_ITEMS.c.stock - units)
    ).rowcount
    if taken != 1:
        raise OutOfStock()


def return_prize_stock(session: Session, item_id: int, units: int) -> None:
    """Units set aside for prizes that nobody won go back on sale."""
    session.execute(update(_ITEMS).where(_ITEMS.c.id == item_id).values(stock=_ITEMS.c.stock + units))


def give_prize(uow: UnitOfWork, *, member_id: int, item_id: int, key: str) -> Redemption:
    """A contest prize: a fulfilled voucher redemption at no points and no hold, from
    stock set aside by ``reserve_prize_stock`` (the caller commits). The ledger does not
    move: the supplier gives its code away, so it is owed nothing (wholesale 0)."""
    session, now = uow.session, uow.now
    item = session.get(CatalogItem, item_id)
    if item is None or item.kind != VOUCHER:
        raise RuntimeError(f"prize item {item_id} is not a voucher item")
    redemption = Redemption(
        member_id=member_id,
        item_id=item.id,
        merchant_id=item.merchant_id,
        kind=item.kind,
        title=item.title,
        points=0,
        wholesale_value_cents=0,
        currency=item.currency,
        status=FULFILLED,
        idempotency_key=key,
        hold_id=None,
        prize=True,
        shipping_address="",
        created_at=now,
        expires_at=now,
        resolved_at=now,
    )
    session.add(redemption)
    session.flush()
    _give_code(session, item.id, redemption.id)
    _announce(uow, redemption)
    return redemption


def _take_stock(session: Session, item_id: int) -> None:
    taken = session.execute(
        update(_ITEMS).where(_ITEMS.c.id == item_id, _ITEMS.c.stock > 0).values(stock=_ITEMS.c.stock - 1)
    ).rowcount
    if taken != 1:
        raise OutOfStock()


def _give_code(session: Session, item_id: int, redemption_id: int) -> None:
    # Stock counts free codes less those set aside for contest prizes (reserve_prize_stock),
    # so the unit just reserved, or set aside, guarantees one is free.
    code_id = session.execute(
        select(VoucherCode.id)
        .where(VoucherCode.item_id == item_id, VoucherCode.redemption_id.is_(None))
        .order_by(VoucherCode.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).scalar_one_or_none()
    if code_id is None:
        raise RuntimeError(f"item {item_id} has stock but no free voucher code")
    session.execute(update(VoucherCode).where(VoucherCode.id == code_id).values(redemption_id=redemption_id))


def _post(session: Session, redemption: Redemption, *, now: datetime) -> None:
    """Spend the held points; the supplier is owed the wholesale value, the rest is margin."""
    ledger.post_redemption(
        session,
        redemption.hold_id,
        supplier_key=str(redemption.merchant_id),
        currency=redemption.currency,
        wholesale_value_cents=redemption.wholesale_value_cents,
        now=now,
    )
    redemption.status = FULFILLED
    redemption.resolved_at = now


def fulfil_redemption(
    uow: UnitOfWork, merchant: MerchantTerms, redemption_id: int, *, tracking_reference: str | None
) -> Redemption:
    """The supplier sent the reward: the points are spent and the supplier is owed.
    Fulfilling a fulfilled redemption changes nothing and answers it again."""
    redemption = _supplied(uow.session, merchant, redemption_id)
    if redemption.status == PLACED:
        redemption.tracking_reference = tracking_reference
        try:
            _post(uow.session, redemption, now=uow.now)
        except ledger.HoldExpired as error:
            raise RedemptionTimedOut() from error
        _announce(uow, redemption)
    elif redemption.status != FULFILLED:
        raise RedemptionResolved(redemption.status)
    return with_codes(uow.session, [redemption])[0]


def cancel_redemption(uow: UnitOfWork, merchant: MerchantTerms, redemption_id: int, *, reason: str) -> Redemption:
    """The supplier cannot send the reward: the points and the unit come back.
    Cancelling a cancelled redemption changes nothing and answers it again."""
    redemption = _supplied(uow.session, merchant, redemption_id)
    if redemption.status == PLACED:
        release(uow, redemption, CANCELLED, reason)
    elif redemption.status != CANCELLED:
        raise RedemptionResolved(redemption.status)
    return with_codes(uow.session, [redemption])[0]


def release(uow: UnitOfWork, redemption: Redemption, status: str, reason: str) -> None:
    """Void the hold and return the unit to stock (the caller commits)."""
    session = uow.session
    ledger.void_hold(session, redemption.hold_id, now=uow.now)
    session.execute(update(_ITEMS).where(_ITEMS.c.id == redemption.item_id).values(stock=_ITEMS.c.stock + 1))
    redemption.status = status
    redemption.cancel_reason = reason
    redemption.resolved_at = uow.now
    _announce(uow, redemption)


def _announce(uow: UnitOfWork, redemption: Redemption) -> None:
    """Tell the supplying merchant's webhooks, in the transaction of the change."""
    data = _REDEMPTION_SCHEMA.dump(with_codes(uow.session, [redemption])[0])
    uow.emit("merchant", redemption.merchant_id, _EVENT_OF_STATUS[redemption.status], data)


def expire_redemptions(uow: UnitOfWork, *, batch_max: int = REDEMPTION_EXPIRY_BATCH_MAX) -> int:
    """Cancel placed redemptions past their hold's timeout: points and stock come
    back (the caller commits). Returns how many; safe to run again and next to a
    supplier's fulfil."""
    session = uow.session
    ids = (
        session.execute(
            select(Redemption.id)
            .where(Redemption.status == PLACED, Redemption.expires_at <= uow.now)
            .order_by(Redemption.expires_at, Redemption.id)
            .limit(batch_max)
        )
        .scalars()
        .all()
    )
    expired = 0
    for redemption_id in ids:
        redemption = session.get(Redemption, redemption_id)
        try:
            with session.begin_nested():
                release(uow, redemption, EXPIRED, "Not fulfilled in time.")
        except ledger.HoldAlreadyResolved:
            session.refresh(redemption)
            continue
        expired += 1
    return expired


def expire_holds(uow: UnitOfWork) -> int:
    """The `expire-holds` job, one batch, committed: redemptions first (they return
    stock), then any other hold. Returns how many were expired (0: nothing left)."""
    expired = expire_redemptions(uow) + ledger.expire_holds(uow.session, now=uow.now)
    return uow.commit(expired)


def list_supplied(
    session: Session, merchant: MerchantTerms, *, status: str | None, limit: int, cursor: str | None
) -> Page:
    query = select(Redemption).where(Redemption.merchant_id == merchant.id)
    if status is not None:
        query = query.where(Redemption.status == status)
    page = paginate(session, query, Redemption.id, limit=limit, cursor=cursor)
    return Page(with_codes(session, page.data), page.next_cursor)


def get_supplied(session: Session, merchant: MerchantTerms, redemption_id: int) -> Redemption:
    return with_codes(session, [_supplied(session, merchant, redemption_id)])[0]


def _supplied(session: Session, merchant: MerchantTerms, redemption_id: int) -> Redemption:
    query = select(Redemption).where(Redemption.id == redemption_id, Redemption.merchant_id == merchant.id)
    redemption = session.execute(query).scalar_one_or_none()
    if redemption is None:
        raise RedemptionNotFound(redemption_id)
    return redemption


def of_member(session: Session, member_id: int, *, limit: int) -> list[Redemption]:
    """The member's own redemptions, newest first."""
    query = select(Redemption).where(Redemption.member_id == member_id).order_by(Redemption.id.desc()).limit(limit)
    return with_codes(session, list(session.execute(query).scalars()))


def with_codes(session: Session, redemptions: list[Redemption]) -> list[Redemption]:
    """Attach each voucher redemption's code as ``voucher_code``."""
    ids = [r.id for r in redemptions if r.kind == VOUCHER]
    codes = {}
    if ids:
        codes = dict(
            session.execute(
                select(VoucherCode.redemption_id, VoucherCode.code).where(VoucherCode.redemption_id.in_(ids))
            ).all()
        )
    for r in redemptions:
        r.voucher_code = codes.get(r.id)
    return redemptions
