from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from ledger import UTCDateTime


class ClickStat(db.Model):
    """Clicks on one link in one hour: every counted click, and distinct visitors."""

    __tablename__ = "click_stats"

    link_id: Mapped[int] = mapped_column(ForeignKey("affiliate_links.id"), primary_key=True)
    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    clicks: Mapped[int] = mapped_column(BigInteger)
    unique_clicks: Mapped[int] = mapped_column(BigInteger)


class ClickVisitor(db.Model):
    """A visitor seen on a link in an hour, as a keyed hash (never the IP): makes
    unique counting exact across flushes and processes. Rows older than the
    current hour's neighbour are pruned at each flush."""

    __tablename__ = "click_visitors"
    __table_args__ = (Index("ix_click_visitors_hour", "hour"),)

    link_id: Mapped[int] = mapped_column(ForeignKey("affiliate_links.id"), primary_key=True)
    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    visitor: Mapped[str] = mapped_column(String(32), primary_key=True)
