"""Segments: rules over what the platform knows of members, their members kept up
to date by a job that reads only what changed (``member_facts`` is its summary of
orders per member, per merchant and for the whole coalition)."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from ledger import BigId, UTCDateTime

# member_facts.merchant_id of the coalition-wide row.
COALITION_FACTS = 0

HERE, ELSEWHERE_NOT_HERE, ANYWHERE = "here", "elsewhere_not_here", "anywhere"
BOUGHT = (HERE, ELSEWHERE_NOT_HERE, ANYWHERE)


class Segment(db.Model):
    """A merchant's segment (``merchant_id``) or the operator's (null), with its sizes."""

    __tablename__ = "segments"
    __table_args__ = (Index("ix_segments_merchant", "merchant_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    merchant_id: Mapped[int | None] = mapped_column(ForeignKey("merchants.id"))
    name: Mapped[str] = mapped_column(String(120))
    # The rules as given (JSON object); every one must hold.
    rules_json: Mapped[str] = mapped_column("rules", Text)
    size: Mapped[int] = mapped_column(BigInteger)
    size_customers: Mapped[int] = mapped_column(BigInteger)
    size_others: Mapped[int] = mapped_column(BigInteger)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    @property
    def rules(self) -> dict:
        return json.loads(self.rules_json)


class SegmentMember(db.Model):
    """A member in a segment; ``customer``: a customer of the segment's merchant (the
    merchant may see who they are), or for the operator's segments, one who ordered."""

    __tablename__ = "segment_members"
    __table_args__ = (Index("ix_segment_members_member", "member_id"),)

    segment_id: Mapped[int] = mapped_column(ForeignKey("segments.id"), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    customer: Mapped[bool] = mapped_column(Boolean)
    since: Mapped[datetime] = mapped_column(UTCDateTime)


class SegmentSize(db.Model):
    """How a segment moved: its sizes after each run of the job that changed them."""

    __tablename__ = "segment_sizes"
    __table_args__ = (Index("ix_segment_sizes_segment", "segment_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    segment_id: Mapped[int] = mapped_column(ForeignKey("segments.id"))
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    size: Mapped[int] = mapped_column(BigInteger)
    size_customers: Mapped[int] = mapped_column(BigInteger)
    size_others: Mapped[int] = mapped_column(BigInteger)
    joined: Mapped[int] = mapped_column(BigInteger)
    left: Mapped[int] = mapped_column(BigInteger)


class MemberFacts(db.Model):
    """A member's orders with net amount above zero, at one merchant or (merchant 0)
    in the coalition: how many, net spend, first and last. Coalition spend counts the
    coalition currency only (EUR, as tiers do)."""

    __tablename__ = "member_facts"
    __table_args__ = (
        Index("ix_member_facts_last", "merchant_id", "last_order_at"),
        Index("ix_member_facts_first", "merchant_id", "first_order_at"),
    )

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    merchant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    orders: Mapped[int] = mapped_column(Integer)
    spend_cents: Mapped[int] = mapped_column(BigInteger)
    first_order_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_order_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SegmentJobState(db.Model):
    """Where the refresh job is: the end of its last completed pass, and within a
    pass, its window and the last member it re-read."""

    __tablename__ = "segment_job_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    ran_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pass_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    member_cursor: Mapped[int] = mapped_column(BigInteger)
