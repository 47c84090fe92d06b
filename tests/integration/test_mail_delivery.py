"""Mail leaves through the outbox and the send-mail job: a sign-in request only queues
its mail; the job sends it over SMTP (STARTTLS, login), deletes it once sent, and
retries a failure with backoff, five times in all. The SMTP server is replaced at
the smtplib boundary: no network."""

from __future__ import annotations

import smtplib
from datetime import timedelta
from unittest import mock

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.cli import JOBS, run_batches
from app.constants import MAIL_ATTEMPTS_MAX, MAIL_RETRY_DELAYS_S
from app.mail import OutboxMail
from app.unit_of_work import UnitOfWork
from ledger.types import utcnow
from tests.conftest import make_app
from tests.factories.members import request_link, web_client
from tests.factories.names import unique_email

SMTP = {
    "MAIL_SMTP_HOST": "smtp.example.invalid",
    "MAIL_SMTP_PORT": 2525,
    "MAIL_SMTP_USER": "user",
    "MAIL_SMTP_PASSWORD": "pw",
    "MAIL_SMTP_STARTTLS": True,
    "MAIL_FROM": "Boutique <no-reply@example.com>",
}


@pytest.fixture(scope="module")
def smtp_app(db_url):
    application = make_app(db_url, **SMTP)
    yield application
    application.extensions["stripe_gateway"].close()
    with application.app_context():
        from app.extensions import db

        db.engine.dispose()


def engine_of(app):
    with app.app_context():
        from app.extensions import db

        return db.engine


def send_mail(app, *, at=None) -> int:
    with app.app_context(), UnitOfWork(Session(engine_of(app)), clock=lambda: at or utcnow()) as uow:
        return run_batches(JOBS["send-mail"], uow)


def queued(app, email: str) -> list[OutboxMail]:
    with Session(engine_of(app)) as session:
        return list(session.execute(select(OutboxMail).where(OutboxMail.recipient == email)).scalars())


def test_a_sign_in_request_only_queues_its_mail_and_the_job_sends_it_once(smtp_app):
    email = unique_email()
    with mock.patch("app.mail.smtplib.SMTP") as smtp_class:
        assert request_link(web_client(smtp_app), email).status_code == 200
        smtp_class.assert_not_called()
        [mail] = queued(smtp_app, email)
        assert "/signin/" in mail.body and mail.next_attempt_at is not None

        send_mail(smtp_app)
        send_mail(smtp_app)

    smtp_class.assert_called_once_with("smtp.example.invalid", 2525, timeout=10)
    smtp = smtp_class.return_value.__enter__.return_value
    smtp.starttls.assert_called_once_with()
    smtp.login.assert_called_once_with("user", "pw")
    [sent] = [c.args[0] for c in smtp.send_message.call_args_list if c.args[0]["To"] == email]
    assert (sent["Subject"], sent["From"]) == ("Your sign-in link", SMTP["MAIL_FROM"])
    assert mail.body.strip() in sent.get_content()
    assert queued(smtp_app, email) == []  # the link does not linger once sent


def test_an_unreachable_server_leaves_the_mail_queued_and_it_is_retried_with_backoff(smtp_app):
    email = unique_email()
    request_link(web_client(smtp_app), email)
    start = utcnow()
    with mock.patch("app.mail.smtplib.SMTP", side_effect=ConnectionRefusedError("refused")):
        send_mail(smtp_app, at=start)
    [waiting] = queued(smtp_app, email)
    assert (waiting.attempts, waiting.next_attempt_at) == (1, start + timedelta(seconds=MAIL_RETRY_DELAYS_S[0]))
    assert "ConnectionRefusedError" in waiting.last_error

    with mock.patch("app.mail.smtplib.SMTP") as smtp_class:
        send_mail(smtp_app, at=start + timedelta(seconds=MAIL_RETRY_DELAYS_S[0] - 1))  # not due yet
        assert queued(smtp_app, email)[0].attempts == 1
        send_mail(smtp_app, at=start + timedelta(seconds=MAIL_RETRY_DELAYS_S[0]))

    smtp = smtp_class.return_value.__enter__.return_value
    assert [c.args[0]["To"] for c in smtp.send_message.call_args_list].count(email) == 1
    assert queued(smtp_app, email) == []


def test_a_mail_that_keeps_failing_is_given_up_after_five_attempts(smtp_app):
    email = unique_email()
    request_link(web_client(smtp_app), email)
    at = utcnow()
    with mock.patch("app.mail.smtplib.SMTP", side_effect=smtplib.SMTPConnectError(421, b"busy")):
        for _ in range(MAIL_ATTEMPTS_MAX + 2):
            send_mail(smtp_app, at=at)
            at += timedelta(days=1)

    [given_up] = queued(smtp_app, email)
    assert (given_up.attempts, given_up.next_attempt_at) == (MAIL_ATTEMPTS_MAX, None)


def test_a_refused_recipient_waits_and_the_other_mails_are_sent(smtp_app):
    refused, fine = unique_email(), unique_email()
    for email in (refused, fine):
        request_link(web_client(smtp_app), email)

    def deliver(message):
        if message["To"] == refused:
            raise smtplib.SMTPRecipientsRefused({refused: (550, b"no such user")})

    with mock.patch("app.mail.smtplib.SMTP") as smtp_class:
        smtp_class.return_value.__enter__.return_value.send_message.side_effect = deliver
        send_mail(smtp_app)

    assert queued(smtp_app, fine) == []
    [waiting] = queued(smtp_app, refused)
    assert waiting.attempts == 1 and "SMTPRecipientsRefused" in waiting.last_error
