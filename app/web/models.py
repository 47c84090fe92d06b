"""Member sign-in links and the member's own settings."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from ledger import UTCDateTime


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
    """What a member chose on their account page, and the generation of their sessions."""

    __tablename__ = "member_profiles"

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    offers_consent: Mapped[bool] = mapped_column(Boolean)
    offers_consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A session cookie names the epoch it was made in; bumping it ends every session.
    session_epoch: Mapped[int] = mapped_column(Integer)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
