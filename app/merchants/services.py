"""Onboarding merchants and managing their API keys (the operator's work).

The mutations work in the caller's unit of work and leave the commit to it
(the view's ``idempotent``, which stores the answer with the same commit)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.constants import ACTIVE_KEYS_PER_MERCHANT_MAX
from app.identity.keys import KeyRing
from app.identity.models import ApiKey
from app.merchants.errors import MerchantNotFound
from app.merchants.models import Merchant, MerchantDomain
from app.pagination import Page, paginate
from app.unit_of_work import UnitOfWork


def create_merchant(uow: UnitOfWork, data: dict) -> tuple[Merchant, ApiKey, str]:
    """Create a merchant with its first API key; returns the key in clear, once."""
    session = uow.session
    merchant = Merchant(
        name=data["name"],
        currency=data["currency"],
        price_per_1000_points_cents=data["price_per_1000_points_cents"],
        points_lifetime_days=data["points_lifetime_days"],
        points_pending_days=data.get("points_pending_days", 0),
        active=True,
        created_at=uow.now,
        domains=_domains(data["domains"]),
    )
    _set_earn_rule(merchant, data["earn_rule"])
    session.add(merchant)
    session.flush()
    key, clear = KEYS.add(session, merchant.id, uow.now)
    return merchant, key, clear


def list_merchants(session: Session, *, limit: int, cursor: str | None) -> Page:
    return paginate(session, select(Merchant), Merchant.id, limit=limit, cursor=cursor)


def get_merchant(session: Session, merchant_id: int) -> Merchant:
    merchant = session.get(Merchant, merchant_id)
    if merchant is None:
        raise MerchantNotFound(merchant_id)
    return merchant


def update_merchant(uow: UnitOfWork, merchant_id: int, data: dict) -> Merchant:
    """Change a merchant's terms; orders already recorded keep the rule they earned under.

    Deactivating it records ``deactivated_at`` (the ``statements`` job then issues
    its final statement); reactivating it clears it."""
    merchant = get_merchant(uow.session, merchant_id)
    if "earn_rule" in data:
        _set_earn_rule(merchant, data["earn_rule"])
    if "domains" in data:
        merchant.domains = _domains(data["domains"])
        uow.session.flush()
    if "active" in data and data["active"] != merchant.active:
        # Leaving the coalition dates the merchant's final statement.
        merchant.deactivated_at = None if data["active"] else uow.now
    for field in ("name", "price_per_1000_points_cents", "points_lifetime_days", "points_pending_days", "active"):
        if field in data:
            setattr(merchant, field, data[field])
    uow.session.flush()
    return merchant


def _set_earn_rule(merchant: Merchant, rule: dict) -> None:
    merchant.earn_points = rule["points"]
    merchant.earn_per_amount_cents = rule["per_amount_cents"]
    merchant.earn_excluded_categories = sorted(rule.get("excluded_categories", []))
    merchant.earn_category_rates = sorted(rule.get("category_rates", []), key=lambda r: r["category"])


def _domains(names: list[str]) -> list[MerchantDomain]:
    return [MerchantDomain(domain=name) for name in sorted(set(names))]


KEYS = KeyRing(ApiKey, "merchant_id", "merchant", ACTIVE_KEYS_PER_MERCHANT_MAX, get_merchant)
