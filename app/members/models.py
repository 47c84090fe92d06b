from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from ledger import BigId, UTCDateTime


class Member(db.Model):
    """A shopper, known by a normalized email; one points balance across merchants."""

    __tablename__ = "members"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MerchantMember(db.Model):
    """A member has ordered from this merchant, so the merchant may look them up."""

    __tablename__ = "merchant_members"
    __table_args__ = (Index("ix_merchant_members_member", "member_id"),)

    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    first_order_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ExpiryNotice(db.Model):
    """A lot whose coming expiry was announced (member mail and issuer webhook): once per lot."""

    __tablename__ = "expiry_notices"

    lot_id: Mapped[int] = mapped_column(BigId, ForeignKey("ledger_lots.id"), primary_key=True, autoincrement=False)
    notified_at: Mapped[datetime] = mapped_column(UTCDateTime)
