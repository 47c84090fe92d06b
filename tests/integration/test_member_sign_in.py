"""Magic-link sign-in: single use, 15 minutes, rate-limited, never telling who is a member."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from app.constants import (
    SIGN_IN_LINKS_PER_CLIENT_MAX,
    SIGN_IN_LINKS_PER_EMAIL_AND_CLIENT_MAX,
    SIGN_IN_LINKS_PER_EMAIL_MAX,
)
from app.members import sign_in
from app.members.errors import LinkRefused, TooManyLinks
from app.unit_of_work import UnitOfWork
from ledger.types import utcnow
from tests.factories.members import csrf_of, earn, last_link, open_link, request_link, web_client
from tests.factories.names import unique_email

SECRET = "test-secret-for-sign-in-links-0123456789"


def mailed_token(engine, email: str) -> str:
    return last_link(engine, email).split("token=", 1)[1].split("&", 1)[0]


def ask(app, engine, email: str, now):
    with app.test_request_context():
        with UnitOfWork(Session(engine), now=now) as uow:
            sign_in.request_link(
                uow,
                email=email,
                client="203.0.113.9",
                secret_key=SECRET,
                link_url=lambda t: f"http://x/signin/link?token={t}",
            )
    return mailed_token(engine, email)


def use(engine, token: str, now):
    with UnitOfWork(Session(engine), now=now) as uow:
        return sign_in.use_link(uow, token=token, secret_key=SECRET)


def test_a_link_signs_in_once_only(app, engine):
    client, email = web_client(app), unique_email()
    request_link(client, email)
    link = last_link(engine, email)

    first = open_link(client, link)
    second = open_link(web_client(app), link)

    assert first.status_code == 303
    assert email in client.get("/account").get_data(as_text=True)
    assert second.status_code == 400
    assert "used already" in second.get_data(as_text=True)


def test_a_link_works_until_15_minutes_and_not_after(app, engine):
    t0 = utcnow()
    fresh = ask(app, engine, unique_email(), t0)
    stale = ask(app, engine, unique_email(), t0)

    member_id, _ = use(engine, fresh, t0 + timedelta(minutes=14, seconds=59))
    with pytest.raises(LinkRefused, match="expired"):
        use(engine, stale, t0 + timedelta(minutes=15, seconds=1))

    assert member_id > 0


def test_a_forged_or_foreign_token_is_refused(app, engine):
    token = ask(app, engine, unique_email(), utcnow())

    with pytest.raises(LinkRefused, match="not valid"):
        use(engine, token[:-2] + "xx", utcnow())
    with UnitOfWork(Session(engine)) as uow, pytest.raises(LinkRefused, match="not valid"):
        sign_in.use_link(uow, token=token, secret_key="another-secret")


def test_the_answer_is_the_same_for_a_member_and_a_stranger(app, client, engine, merchant):
    member_email, stranger_email = unique_email(), unique_email()
    earn(client, merchant, member_email, 15000)

    known = request_link(web_client(app), member_email)
    unknown = request_link(web_client(app), stranger_email)

    assert known.status_code == unknown.status_code == 200
    strip = lambda r, e: r.get_data(as_text=True).replace(e, "EMAIL")  # noqa: E731
    assert strip(known, member_email) == strip(unknown, stranger_email)


def test_links_are_rate_limited_per_address_and_client_and_the_member_is_not_locked_out(app, engine):
    client, email = web_client(app), unique_email()
    answers = [request_link(client, email).status_code for _ in range(SIGN_IN_LINKS_PER_EMAIL_AND_CLIENT_MAX + 1)]

    assert answers == [200] * SIGN_IN_LINKS_PER_EMAIL_AND_CLIENT_MAX + [429]
    assert "Too many" in request_link(client, email).get_data(as_text=True)
    # Someone else asking for this member's links does not keep the member out.
    own = request_link(web_client(app), email)
    assert own.status_code == 200 and "Too many" not in own.get_data(as_text=True)


def test_an_address_asked_for_from_many_clients_gets_no_flood(app, engine):
    email = unique_email()
    answers = [request_link(web_client(app), email).status_code for _ in range(SIGN_IN_LINKS_PER_EMAIL_MAX + 1)]

    assert answers == [200] * SIGN_IN_LINKS_PER_EMAIL_MAX + [429]


def test_links_are_rate_limited_per_client(app):
    client = web_client(app)
    answers = [request_link(client, unique_email()).status_code for _ in range(SIGN_IN_LINKS_PER_CLIENT_MAX + 1)]

    assert answers[-1] == 429 and set(answers[:-1]) == {200}


def test_sign_out_ends_the_session_even_for_a_copied_cookie(app, engine):
    client, email = web_client(app), unique_email()
    request_link(client, email)
    open_link(client, last_link(engine, email))
    copy = web_client(app)
    cookie = client.get_cookie("session")
    copy.set_cookie("session", cookie.value)
    assert copy.get("/account").status_code == 200

    client.post("/signout", data={"csrf_token": csrf_of(client.get("/account"))})

    assert client.get("/account").status_code == 302
    assert copy.get("/account").status_code == 302


def test_the_session_cookie_is_http_only_and_same_site_lax(app, engine):
    client, email = web_client(app), unique_email()
    request_link(client, email)
    response = open_link(client, last_link(engine, email))

    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_the_outbox_page_is_refused_in_production(db_url):
    from tests.conftest import make_app

    development = make_app(db_url)
    production = make_app(db_url)
    # A real production app needs PostgreSQL and secrets; the page only reads this flag.
    production.config["LOYALTY_ENV"] = "production"

    try:
        assert production.test_client().get("/dev/outbox").status_code == 404
        assert development.test_client().get("/dev/outbox").status_code == 200
    finally:
        from app.extensions import db

        for each in (development, production):
            with each.app_context():
                db.engine.dispose()


def test_a_next_url_off_site_is_ignored(app):
    page = web_client(app).get("/signin", query_string={"next": "https://evil.example/"})

    assert 'name="next" value="/"' in page.get_data(as_text=True)


def test_concurrent_requests_for_one_address_never_pass_the_limit(app):
    import threading

    from app.extensions import db
    from app.members.models import SignInLink

    email = unique_email()
    attempts = SIGN_IN_LINKS_PER_EMAIL_AND_CLIENT_MAX * 3
    outcomes: list[str] = []
    start = threading.Barrier(attempts)

    def ask(index: int) -> None:
        with app.app_context():
            start.wait()
            try:
                sign_in.request_link(
                    UnitOfWork(db.session),
                    email=email,
                    client="10.9.9.9",
                    secret_key="k" * 32,
                    link_url=lambda token: f"http://boutique.test/signin/link?token={token}",
                )
                outcomes.append("sent")
            except TooManyLinks:
                outcomes.append("refused")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes).count("sent") == SIGN_IN_LINKS_PER_EMAIL_AND_CLIENT_MAX
    with app.app_context():
        assert db.session.query(SignInLink).filter_by(email=email).count() == SIGN_IN_LINKS_PER_EMAIL_AND_CLIENT_MAX
        db.session.remove()
