"""One mail interface: SMTP when MAIL_SMTP_HOST is configured, otherwise a
local outbox table that the development outbox page and the tests read."""

from __future__ import annotations

import smtplib
from datetime import datetime
from email.message import EmailMessage

from flask import current_app
from sqlalchemy import String, Text, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.extensions import db
from ledger import BigId, UTCDateTime

SMTP_TIMEOUT_S = 10


class OutboxMail(db.Model):
    """A mail kept locally instead of sent (no SMTP configured)."""

    __tablename__ = "mail_outbox"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    recipient: Mapped[str] = mapped_column(String(254), index=True)
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


def send(session: Session, *, to: str, subject: str, body: str, now: datetime) -> None:
    """Send a plain-text mail. The outbox row joins the caller's transaction;
    SMTP sends at once, so call this after the state the mail tells of is committed."""
    config = current_app.config
    if not config["MAIL_SMTP_HOST"]:
        session.add(OutboxMail(recipient=to, subject=subject, body=body, created_at=now))
        session.flush()
        return
    message = EmailMessage()
    message["From"] = config["MAIL_FROM"]
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    with smtplib.SMTP(config["MAIL_SMTP_HOST"], config["MAIL_SMTP_PORT"], timeout=SMTP_TIMEOUT_S) as smtp:
        if config["MAIL_SMTP_STARTTLS"]:
            smtp.starttls()
        if config["MAIL_SMTP_USER"]:
            smtp.login(config["MAIL_SMTP_USER"], config["MAIL_SMTP_PASSWORD"])
        smtp.send_message(message)


def outbox(session: Session, *, to: str | None = None, limit: int) -> list[OutboxMail]:
    """The newest mails of the outbox first, optionally for one recipient."""
    query = select(OutboxMail).order_by(OutboxMail.id.desc()).limit(limit)
    if to is not None:
        query = query.where(OutboxMail.recipient == to)
    return list(session.execute(query).scalars())


def forget(session: Session, recipient: str) -> None:
    """Erase the outbox mails of one address (a member deleting their account)."""
    session.execute(delete(OutboxMail).where(OutboxMail.recipient == recipient))


__all__ = ["OutboxMail", "forget", "outbox", "send"]
