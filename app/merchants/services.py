"""Onboarding merchants and managing their API keys (the operator's work)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.auth import new_key
from app.constants import ACTIVE_KEYS_PER_MERCHANT_MAX
from app.errors import NotFound, Unprocessable
from app.merchants.models import ApiKey, Merchant, MerchantDomain
from app.pagination import Page, paginate


def create_merchant(session: Session, data: dict, *, now: datetime) -> tuple[Merchant, ApiKey, str]:
    """Create a merchant with its first API key; returns the key in clear, once."""
    merchant = Merchant(
        name=data["name"],
        currency=data["currency"],
        earn_points=data["earn_rule"]["points"],
        earn_per_amount_cents=data["earn_rule"]["per_amount_cents"],
        price_per_1000_points_cents=data["price_per_1000_points_cents"],
        points_lifetime_days=data["points_lifetime_days"],
        active=True,
        created_at=now,
        domains=_domains(data["domains"]),
    )
    session.add(merchant)
    session.flush()
    key, clear = _add_key(session, merchant.id, now)
    session.commit()
    return merchant, key, clear


def list_merchants(session: Session, *, limit: int, cursor: str | None) -> Page:
    return paginate(session, select(Merchant), Merchant.id, limit=limit, cursor=cursor)


def get_merchant(session: Session, merchant_id: int) -> Merchant:
    merchant = session.get(Merchant, merchant_id)
    if merchant is None:
        raise NotFound(f"No merchant {merchant_id}.")
    return merchant


def update_merchant(session: Session, merchant_id: int, data: dict) -> Merchant:
    """Change a merchant's terms; orders already recorded keep the rule they earned under."""
    merchant = get_merchant(session, merchant_id)
    if "earn_rule" in data:
        merchant.earn_points = data["earn_rule"]["points"]
        merchant.earn_per_amount_cents = data["earn_rule"]["per_amount_cents"]
    if "domains" in data:
        merchant.domains = _domains(data["domains"])
        session.flush()
    for field in ("name", "price_per_1000_points_cents", "points_lifetime_days", "active"):
        if field in data:
            setattr(merchant, field, data[field])
    session.commit()
    return merchant


def list_keys(session: Session, merchant_id: int, *, limit: int, cursor: str | None) -> Page:
    get_merchant(session, merchant_id)
    return paginate(
        session, select(ApiKey).where(ApiKey.merchant_id == merchant_id), ApiKey.id, limit=limit, cursor=cursor
    )


def issue_key(session: Session, merchant_id: int, *, now: datetime) -> tuple[ApiKey, str]:
    """A new key beside the existing ones (for a zero-downtime rotation)."""
    get_merchant(session, merchant_id)
    key, clear = _add_key(session, merchant_id, now)
    session.commit()
    return key, clear


def rotate_key(session: Session, merchant_id: int, key_id: int, *, now: datetime) -> tuple[ApiKey, str]:
    """Replace a key: the new one works at once, the old one stops at once."""
    old = _live_key(session, merchant_id, key_id)
    old.revoked_at = now
    session.flush()
    key, clear = _add_key(session, merchant_id, now)
    session.commit()
    return key, clear


def revoke_key(session: Session, merchant_id: int, key_id: int, *, now: datetime) -> None:
    key = _live_key(session, merchant_id, key_id)
    key.revoked_at = now
    session.commit()


def _domains(names: list[str]) -> list[MerchantDomain]:
    return [MerchantDomain(domain=name) for name in sorted(set(names))]


def _live_key(session: Session, merchant_id: int, key_id: int) -> ApiKey:
    get_merchant(session, merchant_id)
    key = session.get(ApiKey, key_id)
    if key is None or key.merchant_id != merchant_id or key.revoked_at is not None:
        raise NotFound(f"No live key {key_id} for merchant {merchant_id}.")
    return key


def _add_key(session: Session, merchant_id: int, now: datetime) -> tuple[ApiKey, str]:
    live = session.execute(
        select(func.count(ApiKey.id)).where(ApiKey.merchant_id == merchant_id, ApiKey.revoked_at.is_(None))
    ).scalar_one()
    if live >= ACTIVE_KEYS_PER_MERCHANT_MAX:
        raise Unprocessable(f"A merchant has at most {ACTIVE_KEYS_PER_MERCHANT_MAX} live keys; revoke one first.")
    clear, prefix, digest = new_key()
    key = ApiKey(merchant_id=merchant_id, prefix=prefix, key_hash=digest, created_at=now)
    session.add(key)
    session.flush()
    return key, clear
