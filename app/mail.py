"""One mail interface: every mail is queued in the ``mail_outbox`` table in the
caller's transaction, so it leaves if and only if what it tells of committed, and
no request ever waits for an SMTP server.

With ``MAIL_SMTP_HOST`` configured, the ``send-mail`` job (which ``flask worker``
runs as mails arrive) sends the due mails over one SMTP connection and deletes each
once sent (a sign-in link does not linger in the database); a failure is retried
with backoff, ``MAIL_ATTEMPTS_MAX`` times in all. Without SMTP the mails stay in the
table: the development outbox page and the tests read them there.
"""

from __future__ import annotations

import json
import logging
import smtplib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from email.message import EmailMessage

from flask import current_app
from sqlalchemy import Index, Integer, String, Text, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.constants import MAIL_ATTEMPTS_MAX, MAIL_CLAIM_TIMEOUT_S, MAIL_ERROR_LENGTH_MAX, MAIL_RETRY_DELAYS_S
from app.extensions import db
from ledger import BigId, UTCDateTime

SMTP_TIMEOUT_S = 10
log = logging.getLogger(__name__)


class OutboxMail(db.Model):
    """A mail queued to be sent (``next_attempt_at`` set: SMTP is configured), or kept
    for the development outbox (no SMTP)."""

    __tablename__ = "mail_outbox"
    __table_args__ = (Index("ix_mail_outbox_due", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    recipient: Mapped[str] = mapped_column(String(254), index=True)
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # When the send-mail job tries it next; null: never (no SMTP, or every attempt failed).
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(MAIL_ERROR_LENGTH_MAX))
    # Extra headers as a JSON object (List-Unsubscribe of offers), and an HTML alternative.
    headers: Mapped[str | None] = mapped_column(Text)
    html: Mapped[str | None] = mapped_column(Text)

    @property
    def header_map(self) -> dict[str, str]:
        return json.loads(self.headers) if self.headers else {}


def send(
    session: Session,
    *,
    to: str,
    subject: str,
    body: str,
    now: datetime,
    headers: dict[str, str] | None = None,
    html: str | None = None,
) -> OutboxMail:
    """Queue a mail (plain text, optionally with an HTML alternative and extra headers)
    in the caller's transaction: it leaves (through the ``send-mail`` job) only if
    that transaction commits."""
    smtp = bool(current_app.config["MAIL_SMTP_HOST"])
    mail = OutboxMail(
        recipient=to,
        subject=subject,
        body=body,
        created_at=now,
        attempts=0,
        next_attempt_at=now if smtp else None,
        headers=json.dumps(headers, sort_keys=True) if headers else None,
        html=html,
    )
    session.add(mail)
    session.flush()
    return mail


def send_due(uow, *, limit: int) -> int:
    """One batch of the ``send-mail`` job: claim up to ``limit`` due mails (committed,
    so no other worker takes them), send them over one SMTP connection, delete each
    one sent and schedule a retry for the others; returns how many were tried."""
    config = current_app.config
    if not config["MAIL_SMTP_HOST"]:
        return 0
    due = list(
        uow.session.execute(
            select(OutboxMail)
            .where(OutboxMail.next_attempt_at <= uow.now)
            .order_by(OutboxMail.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).scalars()
    )
    for mail in due:
        mail.attempts += 1
        mail.next_attempt_at = uow.now + timedelta(seconds=MAIL_CLAIM_TIMEOUT_S)
    uow.commit(None)
    if not due:
        return 0
    left = list(due)
    try:
        with _smtp(config) as smtp:
            while left:
                _send_one(uow, smtp, left[0], config["MAIL_FROM"])
                left.pop(0)
    except (OSError, smtplib.SMTPException) as error:  # the server went away: the mails not sent wait
        for mail in left:
            _failed(uow, mail, error)
    return len(due)


@contextmanager
def _smtp(config) -> Iterator[smtplib.SMTP]:
    with smtplib.SMTP(config["MAIL_SMTP_HOST"], config["MAIL_SMTP_PORT"], timeout=SMTP_TIMEOUT_S) as smtp:
        if config["MAIL_SMTP_STARTTLS"]:
            smtp.starttls()
        if config["MAIL_SMTP_USER"]:
            smtp.login(config["MAIL_SMTP_USER"], config["MAIL_SMTP_PASSWORD"])
        yield smtp


def _send_one(uow, smtp: smtplib.SMTP, mail: OutboxMail, sender: str) -> None:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.recipient
    message["Subject"] = mail.subject
    for name, value in mail.header_map.items():
        message[name] = value
    message.set_content(mail.body)
    if mail.html:
        message.add_alternative(mail.html, subtype="html")
    try:
        smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as error:
        _failed(uow, mail, error)
        return
    uow.session.delete(mail)
    uow.commit(None)


def _failed(uow, mail: OutboxMail, error: BaseException) -> None:
    log.warning("mail %s to the outbox's recipient not sent: %s", mail.id, type(error).__name__)
    mail.last_error = f"{type(error).__name__}: {error}"[:MAIL_ERROR_LENGTH_MAX]
    tries = mail.attempts
    delay_s = MAIL_RETRY_DELAYS_S[min(tries, len(MAIL_RETRY_DELAYS_S)) - 1]
    mail.next_attempt_at = None if tries >= MAIL_ATTEMPTS_MAX else uow.now + timedelta(seconds=delay_s)
    uow.commit(None)


def outbox(session: Session, *, to: str | None = None, limit: int) -> list[OutboxMail]:
    """The newest mails of the outbox first, optionally for one recipient."""
    query = select(OutboxMail).order_by(OutboxMail.id.desc()).limit(limit)
    if to is not None:
        query = query.where(OutboxMail.recipient == to)
    return list(session.execute(query).scalars())


def forget(session: Session, recipient: str) -> None:
    """Erase the outbox mails of one address (a member deleting their account)."""
    session.execute(delete(OutboxMail).where(OutboxMail.recipient == recipient))


__all__ = ["OutboxMail", "forget", "outbox", "send", "send_due"]
