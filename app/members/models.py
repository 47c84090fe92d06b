"""Members: who they are, which merchants know them, how they sign in, what they chose."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
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


class SignInLink(db.Model):
    """One emailed sign-in link: its signed token carries only this row's id.

    Rows exist for every request, member or not, so the rate limits count the
    same way for both and nothing tells them apart."""

    __tablename__ = "sign_in_links"
    __table_args__ = (
        Index("ix_sign_in_links_email", "email", "created_at"),
        Index("ix_sign_in_links_client", "client", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    client: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MemberProfile(db.Model):
    """A member who signed in: the generation of their sessions, and whether they deleted their account."""

    __tablename__ = "member_profiles"

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    # A session cookie names the epoch it was made in; bumping it ends every session.
    session_epoch: Mapped[int] = mapped_column(Integer)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
