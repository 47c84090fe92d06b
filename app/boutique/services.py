"""The boutique's rules: merchants supply the catalog, members redeem in two
phases (points held and stock reserved together; posted on fulfilment; voided
on cancel or timeout). Every function owns its transaction and commits."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import ledger
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
from app.constants import REDEMPTION_EXPIRY_BATCH_MAX, VOUCHER_CODES_PER_ITEM_MAX
from app.errors import Conflict, Invalid, NotFound
from app.merchants.models import MerchantTerms
from app.pagination import Page, paginate
from app.webhooks.services import emit

_ITEMS = CatalogItem.__table__
_REDEMPTION_SCHEMA = RedemptionSchema()
_EVENT_OF_STATUS = {
    PLACED: "redemption.placed",
    FULFILLED: "redemption.fulfilled",
    CANCELLED: "redemption.cancelled",
    EXPIRED: "redemption.cancelled",
}
GENERATED_CODE_BYTES = 9  # 12 URL-safe characters


class OutOfStock(Conflict):
    problem = "out-of-stock"


class NotAvailable(Conflict):
    problem = "not-available"


# --- catalog (supplying merchant) -------------------------------------------------


def create_item(
    session: Session, merchant: MerchantTerms, data: dict, *, now: datetime
) -> tuple[CatalogItem, list[str]]:
    """Add a reward to the catalog; a voucher's codes come with it or are generated."""
    codes = list(data.pop("voucher_codes", []))
    generate = data.pop("generate_codes", 0)
    item = CatalogItem(
        merchant_id=merchant.id,
        currency=merchant.currency,
        stock=data.pop("stock", 0),
        active=True,
        created_at=now,
        updated_at=now,
        **data,
    )
    session.add(item)
    session.flush()
    generated = []
    if item.kind == VOUCHER:
        generated = _add_codes(session, item, codes, generate, now=now)
    session.commit()
    return item, generated


def add_codes(session: Session, merchant: MerchantTerms, item_id: int, data: dict, *, now: datetime) -> dict:
    item = _own_item(session, merchant, item_id, for_update=True)
    if item.kind != VOUCHER:
        raise Invalid("Only voucher items have codes.", errors={"voucher_codes": ["Item is not a voucher."]})
    generated = _add_codes(session, item, data["voucher_codes"], data["generate_codes"], now=now)
    added = len(data["voucher_codes"]) + len(generated)
    session.commit()
    return {"added": added, "generated_codes": generated, "stock": item.stock}


def _add_codes(session: Session, item: CatalogItem, codes: list[str], generate: int, *, now: datetime) -> list[str]:
    if len(set(codes)) != len(codes):
        raise Invalid("The same code is listed twice.", errors={"voucher_codes": ["Codes must be unique."]})
    total = session.execute(select(func.count(VoucherCode.id)).where(VoucherCode.item_id == item.id)).scalar_one()
    if total + len(codes) + generate > VOUCHER_CODES_PER_ITEM_MAX:
        raise Invalid(f"An item holds at most {VOUCHER_CODES_PER_ITEM_MAX} codes.")
    if codes:
        taken = (
            session.execute(
                select(VoucherCode.code).where(VoucherCode.merchant_id == item.merchant_id, VoucherCode.code.in_(codes))
            )
            .scalars()
            .all()
        )
        if taken:
            raise Conflict(f"{len(taken)} of these codes exist already.", errors={"voucher_codes": sorted(taken)[:20]})
    generated = [secrets.token_urlsafe(GENERATED_CODE_BYTES).replace("_", "X").upper() for _ in range(generate)]
    rows = [
        {"item_id": item.id, "merchant_id": item.merchant_id, "code": code, "created_at": now}
        for code in [*codes, *generated]
    ]
    try:
        with session.begin_nested():
            if rows:
                session.execute(VoucherCode.__table__.insert(), rows)
    except IntegrityError as error:
        raise Conflict("A code exists already; nothing was added.") from error
    item.stock += len(rows)
    item.updated_at = now
    session.flush()
    return generated


def update_item(session: Session, merchant: MerchantTerms, item_id: int, data: dict, *, now: datetime) -> CatalogItem:
    item = _own_item(session, merchant, item_id, for_update=True)
    if "stock" in data and item.kind == VOUCHER:
        raise Invalid("A voucher's stock is its number of codes.", errors={"stock": ["Add codes instead."]})
    for name, value in data.items():
        setattr(item, name, value)
    if item.active_from and item.active_until and item.active_until <= item.active_from:
        raise Invalid(
            "The active window ends before it starts.", errors={"active_until": ["Must be after active_from."]}
        )
    item.updated_at = now
    session.commit()
    return item


def deactivate_item(session: Session, merchant: MerchantTerms, item_id: int, *, now: datetime) -> CatalogItem:
    return update_item(session, merchant, item_id, {"active": False}, now=now)


def get_item(session: Session, merchant: MerchantTerms, item_id: int) -> CatalogItem:
    return _own_item(session, merchant, item_id)


def list_items(
    session: Session, merchant: MerchantTerms, *, active: bool | None, limit: int, cursor: str | None
) -> Page:
    query = select(CatalogItem).where(CatalogItem.merchant_id == merchant.id)
    if active is not None:
        query = query.where(CatalogItem.active.is_(active))
    return paginate(session, query, CatalogItem.id, limit=limit, cursor=cursor)


def _own_item(session: Session, merchant: MerchantTerms, item_id: int, *, for_update: bool = False) -> CatalogItem:
    query = select(CatalogItem).where(CatalogItem.id == item_id, CatalogItem.merchant_id == merchant.id)
    if for_update:
        query = query.with_for_update()
    item = session.execute(query).scalar_one_or_none()
    if item is None:
        raise NotFound(f"No catalog item {item_id} of yours.")
    return item


# --- vouchers at the merchant's checkout -----------------------------------------


def redeem_voucher(session: Session, merchant: MerchantTerms, code: str, *, now: datetime) -> dict:
    """Accept a voucher code at the issuing merchant's checkout, once."""
    found = session.execute(
        select(VoucherCode, CatalogItem.title)
        .join(CatalogItem, CatalogItem.id == VoucherCode.item_id)
        .where(VoucherCode.merchant_id == merchant.id, VoucherCode.code == code)
        .with_for_update(of=VoucherCode)
    ).first()
    if found is None:
        raise NotFound("No such voucher code of yours.")
    voucher, title = found
    if voucher.redemption_id is None:
        raise Conflict("This code has not been given to a member yet.")
    used = session.execute(
        update(VoucherCode).where(VoucherCode.id == voucher.id, VoucherCode.used_at.is_(None)).values(used_at=now)
    ).rowcount
    if used != 1:
        session.rollback()
        raise Conflict("This code was used already.")
    session.commit()
    return {
        "code": voucher.code,
        "item_id": str(voucher.item_id),
        "title": title,
        "redemption_id": str(voucher.redemption_id),
        "used_at": now,
    }


# --- redemptions ------------------------------------------------------------------


def place_redemption(
    session: Session,
    *,
    member_id: int,
    item_id: int,
    idempotency_key: str,
    shipping_address: str,
    now: datetime,
    timeout_s: int,
) -> tuple[Redemption, bool]:
    """Hold the member's points and reserve one unit, in one transaction;
    vouchers are fulfilled at once. Returns (redemption, created): the same
    ``idempotency_key`` again returns the first redemption."""
    member_key = str(member_id)
    # The member's lock first, as every points flow does: one redemption at a time per member.
    ledger.lock_member(session, member_key)
    existing = session.execute(
        select(Redemption).where(Redemption.member_id == member_id, Redemption.idempotency_key == idempotency_key)
    ).scalar_one_or_none()
    if existing is not None:
        session.rollback()
        return existing, False
    item = session.get(CatalogItem, item_id)
    if item is None or not item.available_at(now):
        raise NotAvailable("This reward is not available.")
    if item.kind == PHYSICAL and not shipping_address.strip():
        raise Invalid("Tell us where to send it.", errors={"shipping_address": ["Required for a physical reward."]})
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
        shipping_address=shipping_address.strip() if item.kind == PHYSICAL else "",
        created_at=now,
        expires_at=hold.expires_at,
    )
    session.add(redemption)
    session.flush()
    hold.ref = ledger.redemption_ref(redemption.id)
    session.flush()
    _announce(session, redemption, now=now)
    if item.kind == VOUCHER:
        _give_code(session, item.id, redemption.id)
        _post(session, redemption, now=now)
    session.commit()
    return redemption, True


def _take_stock(session: Session, item_id: int) -> None:
    taken = session.execute(
        update(_ITEMS).where(_ITEMS.c.id == item_id, _ITEMS.c.stock > 0).values(stock=_ITEMS.c.stock - 1)
    ).rowcount
    if taken != 1:
        raise OutOfStock("This reward is out of stock.")


def _give_code(session: Session, item_id: int, redemption_id: int) -> None:
    # Stock counts free codes, so the unit just reserved guarantees one is free.
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
    _announce(session, redemption, now=now)


def fulfil_redemption(
    session: Session, merchant: MerchantTerms, redemption_id: int, *, tracking_reference: str | None, now: datetime
) -> Redemption:
    """The supplier sent the reward: the points are spent and the supplier is owed."""
    redemption = _supplied(session, merchant, redemption_id)
    if redemption.status == FULFILLED:
        session.rollback()
        return redemption
    if redemption.status != PLACED:
        raise Conflict(f"This redemption is {redemption.status}.")
    redemption.tracking_reference = tracking_reference
    try:
        _post(session, redemption, now=now)
    except ledger.HoldExpired as error:
        raise Conflict("This redemption timed out; it is being cancelled.") from error
    session.commit()
    return redemption


def cancel_redemption(
    session: Session, merchant: MerchantTerms, redemption_id: int, *, reason: str, now: datetime
) -> Redemption:
    """The supplier cannot send the reward: the points and the unit come back."""
    redemption = _supplied(session, merchant, redemption_id)
    if redemption.status == CANCELLED:
        session.rollback()
        return redemption
    if redemption.status != PLACED:
        raise Conflict(f"This redemption is {redemption.status}.")
    release(session, redemption, CANCELLED, reason, now=now)
    session.commit()
    return redemption


def release(session: Session, redemption: Redemption, status: str, reason: str, *, now: datetime) -> None:
    ledger.void_hold(session, redemption.hold_id, now=now)
    session.execute(update(_ITEMS).where(_ITEMS.c.id == redemption.item_id).values(stock=_ITEMS.c.stock + 1))
    redemption.status = status
    redemption.cancel_reason = reason
    redemption.resolved_at = now
    _announce(session, redemption, now=now)


def _announce(session: Session, redemption: Redemption, *, now: datetime) -> None:
    """Tell the supplying merchant's webhooks, in the transaction of the change."""
    data = _REDEMPTION_SCHEMA.dump(with_codes(session, [redemption])[0])
    emit(session, "merchant", redemption.merchant_id, _EVENT_OF_STATUS[redemption.status], data, now=now)


def expire_redemptions(session: Session, *, now: datetime, batch_max: int = REDEMPTION_EXPIRY_BATCH_MAX) -> int:
    """Cancel placed redemptions past their hold's timeout: points and stock come
    back. Returns how many; safe to run again and next to a supplier's fulfil."""
    ids = (
        session.execute(
            select(Redemption.id)
            .where(Redemption.status == PLACED, Redemption.expires_at <= now)
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
                release(session, redemption, EXPIRED, "Not fulfilled in time.", now=now)
        except ledger.HoldAlreadyResolved:
            session.refresh(redemption)
            continue
        expired += 1
    return expired


def expire_holds(session: Session, *, now: datetime) -> int:
    """The `expire-holds` job: redemptions first (they return stock), then any other hold."""
    return expire_redemptions(session, now=now) + ledger.expire_holds(session, now=now)


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
        raise NotFound(f"No redemption {redemption_id} of your rewards.")
    return redemption


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
