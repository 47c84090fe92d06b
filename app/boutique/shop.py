"""The boutique as members see it: the rewards they can redeem now, with their suppliers' names."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.boutique.errors import RewardNotOffered
from app.boutique.models import CatalogItem
from app.merchants.models import Merchant
from app.pagination import Page, paginate


def _available(now: datetime):
    return (
        CatalogItem.active.is_(True),
        or_(CatalogItem.active_from.is_(None), CatalogItem.active_from <= now),
        or_(CatalogItem.active_until.is_(None), CatalogItem.active_until > now),
    )


@dataclass(frozen=True)
class Shelf:
    item: CatalogItem
    merchant: str


def catalog(
    session: Session,
    *,
    q: str,
    category: str | None,
    points_max: int | None,
    limit: int,
    cursor: str | None,
    now: datetime,
) -> Page:
    """Rewards members can redeem now, filtered; each with its supplier's name."""
    query = select(CatalogItem).where(*_available(now))
    if q:
        query = query.where(
            or_(
                CatalogItem.title.ilike(f"%{_escape(q)}%", escape="\\"),
                CatalogItem.description.ilike(f"%{_escape(q)}%", escape="\\"),
            )
        )
    if category:
        query = query.where(CatalogItem.category == category)
    if points_max is not None:
        query = query.where(CatalogItem.points_price <= points_max)
    page = paginate(session, query, CatalogItem.id, limit=limit, cursor=cursor)
    names = merchant_names(session, {i.merchant_id for i in page.data})
    return Page([Shelf(i, names.get(i.merchant_id, "")) for i in page.data], page.next_cursor)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def categories(session: Session, *, now: datetime) -> list[str]:
    return list(
        session.execute(
            select(CatalogItem.category).where(*_available(now)).distinct().order_by(CatalogItem.category)
        ).scalars()
    )


def item(session: Session, item_id: int, *, now: datetime) -> Shelf:
    found = session.execute(select(CatalogItem).where(CatalogItem.id == item_id, *_available(now))).scalar_one_or_none()
    if found is None:
        raise RewardNotOffered()
    return Shelf(found, merchant_names(session, {found.merchant_id}).get(found.merchant_id, ""))


def merchant_names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(session.execute(select(Merchant.id, Merchant.name).where(Merchant.id.in_(ids))).all())
