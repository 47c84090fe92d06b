"""What members tell the platform about themselves: interests from the operator's
list, and consent per purpose with every change kept (time and source)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from ledger import BigId, UTCDateTime

# Offers from the merchants the member bought from / from other coalition merchants.
MERCHANTS = "merchants"
COALITION = "coalition"
PURPOSES = (MERCHANTS, COALITION)
PURPOSE_TEXT = {
    MERCHANTS: "offers from the shops I bought from",
    COALITION: "offers from other participating shops",
}

# Where a consent change came from.
ACCOUNT_PAGE = "account-page"
UNSUBSCRIBE_LINK = "unsubscribe-link"
ONE_CLICK = "list-unsubscribe"
ACCOUNT_DELETED = "account-deleted"
EARLIER_CHOICE = "earlier-choice"  # the single "offers" choice kept before purposes existed


class Interest(db.Model):
    """One entry of the coalition-wide list of interests the operator manages."""

    __tablename__ = "interests"

    slug: Mapped[str] = mapped_column(String(40), primary_key=True)
    label: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # A retired interest is no longer offered to members; segments naming it still work.
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MemberInterest(db.Model):
    __tablename__ = "member_interests"
    __table_args__ = (Index("ix_member_interests_slug", "slug", "member_id"),)

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    slug: Mapped[str] = mapped_column(ForeignKey("interests.slug"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Consent(db.Model):
    """The member's current choice for one purpose (no row: never given)."""

    __tablename__ = "consents"

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16), primary_key=True)
    granted: Mapped[bool] = mapped_column(Boolean)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ConsentEvent(db.Model):
    """Every change of a consent, with its time and its source (kept for the export)."""

    __tablename__ = "consent_events"
    __table_args__ = (Index("ix_consent_events_member", "member_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    purpose: Mapped[str] = mapped_column(String(16))
    granted: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(32))


class MemberChange(db.Model):
    """A member whose interests or tier changed: the segments job re-reads them."""

    __tablename__ = "member_changes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
