from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    bindparam,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from ledger import BigId, UTCDateTime

APPLICATION_STATUSES = ("pending", "approved", "refused")


class Affiliate(db.Model):
    """A referring site, onboarded by the operator."""

    __tablename__ = "affiliates"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str] = mapped_column(String(254))
    website: Mapped[str] = mapped_column(String(2048))
    active: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AffiliateKey(db.Model):
    __tablename__ = "affiliate_keys"
    __table_args__ = (Index("ix_affiliate_keys_affiliate", "affiliate_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    affiliate_id: Mapped[int] = mapped_column(ForeignKey("affiliates.id"))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Program(db.Model):
    """A merchant's commission terms for the affiliates it accepts."""

    __tablename__ = "affiliate_programs"
    __table_args__ = (Index("ix_affiliate_programs_merchant", "merchant_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id"))
    name: Mapped[str] = mapped_column(String(120))
    # "percent" of the net sale (commission_bps) or "fixed" per sale (commission_cents).
    commission_type: Mapped[str] = mapped_column(String(16))
    commission_bps: Mapped[int | None] = mapped_column(Integer)
    commission_cents: Mapped[int | None] = mapped_column(BigInteger)
    lead_amount_cents: Mapped[int | None] = mapped_column(BigInteger)
    attribution_window_days: Mapped[int] = mapped_column(Integer)
    hold_days: Mapped[int] = mapped_column(Integer)
    network_fee_bps: Mapped[int] = mapped_column(Integer)
    cap_cents: Mapped[int | None] = mapped_column(BigInteger)
    auto_approve_affiliates: Mapped[bool] = mapped_column(Boolean)
    active: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Application(db.Model):
    """An affiliate's request to promote a program, and the merchant's answer."""

    __tablename__ = "affiliate_applications"
    __table_args__ = (
        UniqueConstraint("program_id", "affiliate_id"),
        Index("ix_affiliate_applications_affiliate", "affiliate_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("affiliate_programs.id"))
    affiliate_id: Mapped[int] = mapped_column(ForeignKey("affiliates.id"))
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Link(db.Model):
    """A tracking link: a short code fixing affiliate, program and landing URL."""

    __tablename__ = "affiliate_links"
    __table_args__ = (Index("ix_affiliate_links_affiliate", "affiliate_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    affiliate_id: Mapped[int] = mapped_column(ForeignKey("affiliates.id"))
    program_id: Mapped[int] = mapped_column(ForeignKey("affiliate_programs.id"), index=True)
    landing_url: Mapped[str] = mapped_column(String(2048))
    active: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


@dataclass(frozen=True)
class AffiliateIdentity:
    """What an affiliate's API call needs to know about the caller."""

    id: int
    name: str
    email: str
    website: str


_AFFILIATES = Affiliate.__table__
_KEYS = AffiliateKey.__table__
AFFILIATE_BY_KEY = (
    select(_AFFILIATES.c.id, _AFFILIATES.c.name, _AFFILIATES.c.email, _AFFILIATES.c.website)
    .join(_KEYS, _KEYS.c.affiliate_id == _AFFILIATES.c.id)
    .where(_KEYS.c.key_hash == bindparam("key_hash"), _KEYS.c.revoked_at.is_(None), _AFFILIATES.c.active.is_(True))
)

_LINKS = Link.__table__
_PROGRAMS = Program.__table__
_APPLICATIONS = Application.__table__
# A link redirects while it, its program and the affiliate are live and the affiliate is approved.
LIVE_LINK_BY_CODE = (
    select(_LINKS.c.id, _LINKS.c.affiliate_id, _LINKS.c.program_id, _LINKS.c.landing_url)
    .join(_PROGRAMS, _PROGRAMS.c.id == _LINKS.c.program_id)
    .join(_AFFILIATES, _AFFILIATES.c.id == _LINKS.c.affiliate_id)
    .join(
        _APPLICATIONS,
        (_APPLICATIONS.c.program_id == _LINKS.c.program_id) & (_APPLICATIONS.c.affiliate_id == _LINKS.c.affiliate_id),
    )
    .where(
        _LINKS.c.code == bindparam("code"),
        _LINKS.c.active.is_(True),
        _PROGRAMS.c.active.is_(True),
        _AFFILIATES.c.active.is_(True),
        _APPLICATIONS.c.status == "approved",
    )
)
