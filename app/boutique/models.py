"""Catalog items supplied by merchants, their voucher codes, and members' redemptions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from ledger import BigId, UTCDateTime

PHYSICAL = "physical"
VOUCHER = "voucher"
KINDS = (PHYSICAL, VOUCHER)

PLACED = "placed"
FULFILLED = "fulfilled"
CANCELLED = "cancelled"
EXPIRED = "expired"
STATUSES = (PLACED, FULFILLED, CANCELLED, EXPIRED)


class CatalogItem(db.Model):
    """A reward a merchant supplies: points price for members, wholesale value for the supplier."""

    __tablename__ = "catalog_items"
    __table_args__ = (
        CheckConstraint("stock >= 0", name="stock_non_negative"),
        CheckConstraint("kind IN ('physical', 'voucher')", name="kind_known"),
        Index("ix_catalog_items_merchant", "merchant_id", "id"),
        Index("ix_catalog_items_category", "category", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(String(2000))
    image_url: Mapped[str | None] = mapped_column(String(500))
    category: Mapped[str] = mapped_column(String(40))
    points_price: Mapped[int] = mapped_column(BigInteger)
    wholesale_value_cents: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    # Vouchers: the number of codes not yet given to a member nor set aside for a contest.
    stock: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean)
    active_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    active_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    def available_at(self, now: datetime) -> bool:
        return (
            self.active
            and (self.active_from is None or self.active_from <= now)
            and (self.active_until is None or now < self.active_until)
        )


class Redemption(db.Model):
    """A member spending points on a reward: placed (points held, stock reserved),
    then fulfilled (points posted), cancelled or expired (points and stock back)."""

    __tablename__ = "redemptions"
    __table_args__ = (
        UniqueConstraint("member_id", "idempotency_key"),
        CheckConstraint("status IN ('placed', 'fulfilled', 'cancelled', 'expired')", name="status_known"),
        CheckConstraint(
            "(prize AND hold_id IS NULL AND points = 0) OR (NOT prize AND hold_id IS NOT NULL)",
            name="held_unless_prize",
        ),
        Index("ix_redemptions_supplier", "merchant_id", "status", "id"),
        Index("ix_redemptions_member", "member_id", "id"),
        Index("ix_redemptions_expiry", "status", "expires_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("catalog_items.id"), index=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(120))
    points: Mapped[int] = mapped_column(BigInteger)
    wholesale_value_cents: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16))
    idempotency_key: Mapped[str] = mapped_column(String(64))
    # None for a contest prize (``prize``): no points are held or spent for it.
    hold_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_holds.id"))
    prize: Mapped[bool] = mapped_column(Boolean)
    shipping_address: Mapped[str] = mapped_column(String(500))
    tracking_reference: Mapped[str | None] = mapped_column(String(120))
    cancel_reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class VoucherCode(db.Model):
    """A code of a voucher item: given to one member's redemption, used once at the merchant."""

    __tablename__ = "voucher_codes"
    __table_args__ = (
        UniqueConstraint("merchant_id", "code"),
        Index("ix_voucher_codes_free", "item_id", "redemption_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("catalog_items.id"))
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    code: Mapped[str] = mapped_column(String(64))
    redemption_id: Mapped[int | None] = mapped_column(ForeignKey("redemptions.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
