"""Contests: a prize of boutique vouchers, an entry window, who may enter, and a
draw anyone can recompute from the seed committed to before entries opened."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from ledger import BigId, UTCDateTime

BOUTIQUE = "boutique"
API = "api"
ENTRY_SOURCES = (BOUTIQUE, API)


class Contest(db.Model):
    __tablename__ = "contests"
    __table_args__ = (
        CheckConstraint("winners_count >= 1", name="winners_positive"),
        CheckConstraint("entries_open_at < entries_close_at", name="window_ordered"),
        CheckConstraint("(segment_id IS NULL) = free_entry", name="one_eligibility"),
        Index("ix_contests_owner", "merchant_id", "id"),
        Index("ix_contests_window", "entries_close_at", "entries_open_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    merchant_id: Mapped[int | None] = mapped_column(ForeignKey("merchants.id"))  # None: the operator's
    name: Mapped[str] = mapped_column(String(120))
    item_id: Mapped[int] = mapped_column(ForeignKey("catalog_items.id"))
    winners_count: Mapped[int] = mapped_column(Integer)
    entries_open_at: Mapped[datetime] = mapped_column(UTCDateTime)
    entries_close_at: Mapped[datetime] = mapped_column(UTCDateTime)
    segment_id: Mapped[int | None] = mapped_column(ForeignKey("segments.id"))
    free_entry: Mapped[bool] = mapped_column(Boolean)
    # Secret until the draw: only its SHA-256 (seed_commitment) is shown before.
    seed: Mapped[str] = mapped_column(String(64))
    seed_commitment: Mapped[str] = mapped_column(String(64))
    entries_count: Mapped[int | None] = mapped_column(Integer)
    entries_hash: Mapped[str | None] = mapped_column(String(64))
    algorithm: Mapped[str | None] = mapped_column(String(40))
    drawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ContestEntry(db.Model):
    __tablename__ = "contest_entries"
    __table_args__ = (Index("ix_contest_entries_entry", "contest_id", "entry_id", unique=True),)

    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id"), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True, index=True)
    # The entry's public id: random, so the published entry list and winners name no member.
    entry_id: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ContestWinner(db.Model):
    """A winner, by draw order (``position`` from 0), and the prize redemption they got."""

    __tablename__ = "contest_winners"

    contest_id: Mapped[int] = mapped_column(ForeignKey("contests.id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    redemption_id: Mapped[int] = mapped_column(ForeignKey("redemptions.id"), unique=True)
