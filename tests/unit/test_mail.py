"""The one mail interface queues: nothing talks to an SMTP server inside the caller's transaction."""

from __future__ import annotations

from unittest import mock

from flask import Flask

from app import mail
from ledger import utcnow


def smtp_app(**overrides) -> Flask:
    app = Flask(__name__)
    app.config.update({"MAIL_SMTP_HOST": "smtp.invalid", **overrides})
    return app


def test_with_smtp_configured_a_mail_is_queued_due_now_and_smtp_is_not_called():
    session, now = mock.Mock(), utcnow()
    with smtp_app().app_context(), mock.patch("app.mail.smtplib.SMTP") as smtp_class:
        mail.send(session, to="member@example.com", subject="Your sign-in link", body="http://x/link", now=now)

    smtp_class.assert_not_called()
    [queued] = [c.args[0] for c in session.add.call_args_list]
    assert (queued.recipient, queued.subject, queued.body) == (
        "member@example.com",
        "Your sign-in link",
        "http://x/link",
    )
    assert (queued.attempts, queued.next_attempt_at) == (0, now)


def test_without_smtp_the_mail_stays_in_the_outbox_and_is_never_due():
    session = mock.Mock()
    with smtp_app(MAIL_SMTP_HOST="").app_context(), mock.patch("app.mail.smtplib.SMTP") as smtp_class:
        mail.send(session, to="member@example.com", subject="S", body="B", now=utcnow())

    smtp_class.assert_not_called()
    [added] = [c.args[0] for c in session.add.call_args_list]
    assert (added.recipient, added.subject, added.body, added.next_attempt_at) == ("member@example.com", "S", "B", None)
