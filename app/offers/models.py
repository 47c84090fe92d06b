"""Offers: a message and a reward for a segment's members, with a random,
reproducible holdout that gets nothing, so the report can say what the offer
itself brought (the conversion of those targeted against those held out)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from ledger import BigId, UTCDateTime

BONUS, VOUCHER = "bonus", "voucher"
REWARD_TYPES = (BONUS, VOUCHER)

# Where an offer is: scheduled (before starts_at), sending (recipients chosen, mails
# leaving), sent (every mail queued), then ended at ends_at (the report's window).
SCHEDULED, SENDING, SENT, ENDED = "scheduled", "sending", "sent", "ended"


class Offer(db.Model):
    """A merchant's offer (``merchant_id``) or the operator's (null) to one segment."""

    __tablename__ = "offers"
    __table_args__ = (
        Index("ix_offers_merchant", "merchant_id", "id"),
        Index("ix_offers_due", "prepared_at", "starts_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    merchant_id: Mapped[int | None] = mapped_column(ForeignKey("merchants.id"))
    segment_id: Mapped[int] = mapped_column(ForeignKey("segments.id"))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    reward_type: Mapped[str] = mapped_column(String(16))
    reward_points: Mapped[int | None] = mapped_column(BigInteger)
    reward_item_id: Mapped[int | None] = mapped_column(ForeignKey("catalog_items.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    holdout_bp: Mapped[int] = mapped_column(Integer)
    # The holdout's secret salt: the same offer always splits its members the same way.
    salt: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # When its recipients were chosen from the segment (at or after starts_at), and when
    # the last mail was queued.
    prepared_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def status_at(self, now: datetime) -> str:
        if now >= self.ends_at:
            return ENDED
        if self.prepared_at is None:
            return SCHEDULED
        return SENT if self.sent_at is not None else SENDING

    @property
    def reward(self) -> dict:
        if self.reward_type == BONUS:
            return {"type": BONUS, "points": self.reward_points}
        return {"type": VOUCHER, "item_id": str(self.reward_item_id)}


class OfferRecipient(db.Model):
    """One eligible member of an offer: held out (gets nothing), or targeted (mailed
    if their consent allows). ``ref`` is the random reference the tracking links
    carry instead of anything that names the member."""

    __tablename__ = "offer_recipients"
    __table_args__ = (
        Index("ix_offer_recipients_ref", "ref", unique=True),
        Index("ix_offer_recipients_member", "member_id", "offer_id"),
        Index("ix_offer_recipients_sent", "sent_at"),
    )

    offer_id: Mapped[int] = mapped_column(ForeignKey("offers.id"), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    ref: Mapped[str] = mapped_column(String(32))
    held_out: Mapped[bool] = mapped_column(Boolean)
    # Targeted members whose consent did not allow a mail stay unsent (and get no reward).
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    skipped: Mapped[bool] = mapped_column(Boolean)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    clicked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
