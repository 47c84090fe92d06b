"""The catalog merchants supply, and their voucher codes accepted at checkout.

Each change works in the caller's unit of work and leaves the commit to it: the
API views are ``@idempotent``, which commits the answer with its key."""

from __future__ import annotations

import secrets

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.boutique.errors import (
    CodeNotGiven,
    CodesRepeated,
    CodesTaken,
    CodeTakenMeanwhile,
    CodeUsed,
    ItemNotFound,
    NotAVoucher,
    TooManyCodes,
    VoucherNotFound,
    VoucherStockIsCodes,
    WindowInverted,
)
from app.boutique.models import VOUCHER, CatalogItem, VoucherCode
from app.constants import VOUCHER_CODES_PER_ITEM_MAX
from app.merchants.models import MerchantTerms
from app.pagination import Page, paginate
from app.rows import one_or_raise
from app.unit_of_work import UnitOfWork

GENERATED_CODE_BYTES = 9  # 12 URL-safe characters


def create_item(uow: UnitOfWork, merchant: MerchantTerms, data: dict) -> CatalogItem:
    """Add a reward to the catalog; a voucher's codes come with it or are generated
    (``generated_codes`` on the item, shown only in this answer)."""
    data = dict(data)
    codes = list(data.pop("voucher_codes", []))
    generate = data.pop("generate_codes", 0)
    item = CatalogItem(
        merchant_id=merchant.id,
        currency=merchant.currency,
        stock=data.pop("stock", 0),
        active=True,
        created_at=uow.now,
        updated_at=uow.now,
        **data,
    )
    uow.session.add(item)
    uow.session.flush()
    item.generated_codes = []
    if item.kind == VOUCHER:
        item.generated_codes = _add_codes(uow, item, codes, generate)
    return item


def add_codes(uow: UnitOfWork, merchant: MerchantTerms, item_id: int, data: dict) -> dict:
    item = _own_item(uow.session, merchant, item_id, for_update=True)
    if item.kind != VOUCHER:
        raise NotAVoucher()
    generated = _add_codes(uow, item, data["voucher_codes"], data["generate_codes"])
    added = len(data["voucher_codes"]) + len(generated)
    return {"added": added, "generated_codes": generated, "stock": item.stock}


def _add_codes(uow: UnitOfWork, item: CatalogItem, codes: list[str], generate: int) -> list[str]:
    session = uow.session
    if len(set(codes)) != len(codes):
        raise CodesRepeated()
    total = session.execute(select(func.count(VoucherCode.id)).where(VoucherCode.item_id == item.id)).scalar_one()
    if total + len(codes) + generate > VOUCHER_CODES_PER_ITEM_MAX:
        raise TooManyCodes()
    if codes:
        mine = VoucherCode.merchant_id == item.merchant_id
        taken = session.execute(select(VoucherCode.code).where(mine, VoucherCode.code.in_(codes))).scalars().all()
        if taken:
            raise CodesTaken(list(taken))
    generated = [secrets.token_urlsafe(GENERATED_CODE_BYTES).replace("_", "X").upper() for _ in range(generate)]
    rows = [
        {"item_id": item.id, "merchant_id": item.merchant_id, "code": code, "created_at": uow.now}
        for code in [*codes, *generated]
    ]
    try:
        with session.begin_nested():
            if rows:
                session.execute(VoucherCode.__table__.insert(), rows)
    except IntegrityError as error:
        raise CodeTakenMeanwhile() from error
    item.stock += len(rows)
    item.updated_at = uow.now
    session.flush()
    return generated


def update_item(uow: UnitOfWork, merchant: MerchantTerms, item_id: int, data: dict) -> CatalogItem:
    item = _own_item(uow.session, merchant, item_id, for_update=True)
    if "stock" in data and item.kind == VOUCHER:
        raise VoucherStockIsCodes()
    for name, value in data.items():
        setattr(item, name, value)
    if item.active_from and item.active_until and item.active_until <= item.active_from:
        raise WindowInverted()
    item.updated_at = uow.now
    uow.session.flush()
    return item


def deactivate_item(uow: UnitOfWork, merchant: MerchantTerms, item_id: int) -> CatalogItem:
    return update_item(uow, merchant, item_id, {"active": False})


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
    return one_or_raise(session, query, ItemNotFound(item_id), for_update=for_update)


def redeem_voucher(uow: UnitOfWork, merchant: MerchantTerms, code: str) -> dict:
    """Accept a voucher code at the issuing merchant's checkout, once."""
    session, now = uow.session, uow.now
    found = session.execute(
        select(VoucherCode, CatalogItem.title)
        .join(CatalogItem, CatalogItem.id == VoucherCode.item_id)
        .where(VoucherCode.merchant_id == merchant.id, VoucherCode.code == code)
        .with_for_update(of=VoucherCode)
    ).first()
    if found is None:
        raise VoucherNotFound()
    voucher, title = found
    if voucher.redemption_id is None:
        raise CodeNotGiven()
    used = session.execute(
        update(VoucherCode).where(VoucherCode.id == voucher.id, VoucherCode.used_at.is_(None)).values(used_at=now)
    ).rowcount
    if used != 1:
        raise CodeUsed()
    return {
        "code": voucher.code,
        "item_id": str(voucher.item_id),
        "title": title,
        "redemption_id": str(voucher.redemption_id),
        "used_at": now,
    }
