"""The one mail interface: SMTP when configured, never the outbox then."""

from __future__ import annotations

from unittest import mock

from flask import Flask

from app import mail
from ledger import utcnow


def smtp_app(**overrides) -> Flask:
    app = Flask(__name__)
    config = {
        "MAIL_SMTP_HOST": "smtp.invalid",
        "MAIL_SMTP_PORT": 2525,
        "MAIL_SMTP_USER": "user",
        "MAIL_SMTP_PASSWORD": "pw",
        "MAIL_SMTP_STARTTLS": True,
        "MAIL_FROM": "Boutique <no-reply@example.com>",
    }
    app.config.update({**config, **overrides})
    return app


def test_with_smtp_configured_the_mail_is_sent_over_smtp_with_login_and_starttls():
    session = mock.Mock()
    with smtp_app().app_context(), mock.patch("app.mail.smtplib.SMTP") as smtp_class:
        mail.send(session, to="member@example.com", subject="Your sign-in link", body="http://x/link", now=utcnow())

    smtp_class.assert_called_once_with("smtp.invalid", 2525, timeout=mail.SMTP_TIMEOUT_S)
    smtp = smtp_class.return_value.__enter__.return_value
    smtp.starttls.assert_called_once_with()
    smtp.login.assert_called_once_with("user", "pw")
    sent = smtp.send_message.call_args.args[0]
    assert (sent["To"], sent["Subject"]) == ("member@example.com", "Your sign-in link")
    assert "http://x/link" in sent.get_content()
    session.add.assert_not_called()


def test_without_smtp_the_mail_goes_to_the_outbox():
    session = mock.Mock()
    with smtp_app(MAIL_SMTP_HOST="").app_context(), mock.patch("app.mail.smtplib.SMTP") as smtp_class:
        mail.send(session, to="member@example.com", subject="S", body="B", now=utcnow())

    smtp_class.assert_not_called()
    [added] = [c.args[0] for c in session.add.call_args_list]
    assert (added.recipient, added.subject, added.body) == ("member@example.com", "S", "B")
