from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from ledger import BigId, UTCDateTime


class Order(db.Model):
    """A merchant's order as recorded for points, with the earn rule in force then."""

    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("merchant_id", "order_id"),
        # A member's rolling 12-month spend (tiers) and first orders read this.
        Index("ix_orders_member_created", "member_id", "created_at"),
        # The segments job reads the orders of the last minutes.
        Index("ix_orders_created", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    order_id: Mapped[str] = mapped_column(String(120))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    earn_points: Mapped[int] = mapped_column(Integer)
    earn_per_amount_cents: Mapped[int] = mapped_column(Integer)
    points_earned: Mapped[int] = mapped_column(BigInteger)
    refunded_cents: Mapped[int] = mapped_column(BigInteger)
    points_reversed: Mapped[int] = mapped_column(BigInteger)
    earn_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The rate groups the order earned by (app.programme.earning.stored); null for an
    # order without lines, which earned at earn_points per earn_per_amount_cents.
    earn_groups: Mapped[list | None] = mapped_column(JSON)
    # While the order's points are incoming: when they become available.
    points_available_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def net_amount_cents(self) -> int:
        return self.amount_cents - self.refunded_cents

    @property
    def points_net(self) -> int:
        return self.points_earned - self.points_reversed


class Refund(db.Model):
    __tablename__ = "refunds"
    __table_args__ = (UniqueConstraint("merchant_id", "refund_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    refund_id: Mapped[str] = mapped_column(String(120))
    order_pk: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    points_reversed: Mapped[int] = mapped_column(BigInteger)
    points_to_debt: Mapped[int] = mapped_column(BigInteger)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class OrderLine(db.Model):
    """A line of an order as the merchant sent it."""

    __tablename__ = "order_lines"

    order_pk: Mapped[int] = mapped_column(ForeignKey("orders.id"), primary_key=True)
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    sku: Mapped[str] = mapped_column(String(120))
    category: Mapped[str] = mapped_column(String(40))
    quantity: Mapped[int] = mapped_column(Integer)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
