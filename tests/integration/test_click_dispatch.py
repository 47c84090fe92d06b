"""/c/<code> ahead of Flask (app.clicks.dispatch): the lean redirect answers what the Flask
view answers, and every other request reaches Flask exactly as it came."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select
from werkzeug.test import Client, EnvironBuilder

from app.clicks import services as clicks
from app.clicks.dispatch import ClickDispatcher
from app.clicks.models import ClickStat
from app.constants import CLICK_LINK_CACHE_TTL_S
from tests.conftest import BACKEND, make_app
from tests.factories.affiliates import BROWSER, World, build_world, follow, token_of
from tests.integration.test_security_headers import PRODUCTION, UNCONNECTED_POSTGRES

REQUEST_ID = "click-dispatch-test"


@pytest.fixture
def world(client, admin_headers, new_merchant) -> World:
    return build_world(client, admin_headers, new_merchant)


def dispatcher_of(app) -> ClickDispatcher:
    dispatcher = app.wsgi_app
    assert isinstance(dispatcher, ClickDispatcher)  # no ProxyFix in front without TRUSTED_PROXY_HOPS
    return dispatcher


@pytest.fixture
def flask_seen(app, monkeypatch) -> list[dict]:
    """A copy of each environ that reached Flask's own wsgi_app, behind the dispatcher."""
    dispatcher = dispatcher_of(app)
    seen: list[dict] = []
    behind = dispatcher.flask_wsgi

    def spy(environ, start_response):
        seen.append(dict(environ))
        return behind(environ, start_response)

    monkeypatch.setattr(dispatcher, "flask_wsgi", spy)
    return seen


def stats(session, link_id: str) -> tuple[int, int]:
    row = session.execute(
        select(func.coalesce(func.sum(ClickStat.clicks), 0), func.coalesce(func.sum(ClickStat.unique_clicks), 0)).where(
            ClickStat.link_id == int(link_id)
        )
    ).one()
    session.rollback()
    return tuple(row)


def comparable(app, response) -> tuple:
    """Status, headers and body, the click token (fresh for each click) checked and masked."""
    headers = sorted(response.headers.items())
    if "Location" in response.headers:
        location = response.headers["Location"]
        app.extensions["clicks"].tokens.verify(token_of(location))
        masked = location.replace(token_of(location), "<token>")
        headers = [(name, masked if name == "Location" else value) for name, value in headers]
    return response.status, headers, response.get_data()


def lean_and_flask(app, path: str, method: str = "GET", **kwargs) -> tuple[tuple, tuple]:
    """The same request through the app (the dispatcher) and through Flask behind it."""
    kwargs.setdefault("headers", {"User-Agent": BROWSER, "X-Request-Id": REQUEST_ID})
    lean = app.test_client().open(path, method=method, **kwargs)
    behind = Client(dispatcher_of(app).flask_wsgi, app.response_class).open(path, method=method, **kwargs)
    return comparable(app, lean), comparable(app, behind)


# --- the same answers -------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_click_is_answered_with_the_flask_views_status_headers_and_body(app, world, method):
    lean, behind = lean_and_flask(app, f"/c/{world.link['code']}", method)

    assert lean == behind
    assert lean[0] == "302 FOUND"
    assert ("Location", "https://shop.example/shoes?color=red&lp_click=<token>#top") in lean[1]
    assert ("X-Request-Id", REQUEST_ID) in lean[1]


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_an_unknown_code_gets_the_flask_views_html_404_with_its_headers(app, method):
    lean, behind = lean_and_flask(app, "/c/nosuchlinkcode", method)

    assert lean == behind
    status, headers, body = lean
    assert status == "404 NOT FOUND"
    assert ("Cache-Control", "no-store") in headers and ("Content-Type", "text/html; charset=utf-8") in headers
    assert dict(headers)["Content-Length"] == str(len(clicks_page()))
    assert body == (b"" if method == "HEAD" else clicks_page())


def clicks_page() -> bytes:
    from app.clicks.views import NOT_FOUND_PAGE

    return NOT_FOUND_PAGE.encode()


def test_a_paused_link_gets_the_same_404_as_from_flask_once_its_cache_entry_expires(app, client, world, monkeypatch):
    state = app.extensions["clicks"]
    now_s = [3_000_000.0]
    monkeypatch.setattr(state, "clock", lambda: now_s[0])
    assert follow(client, world.link["code"]).status_code == 302
    client.patch(f"/v1/links/{world.link['id']}", json={"active": False}, headers=world.affiliate["headers"])
    now_s[0] += CLICK_LINK_CACHE_TTL_S + 0.01

    lean, behind = lean_and_flask(app, f"/c/{world.link['code']}")

    assert lean == behind and lean[0] == "404 NOT FOUND" and lean[2] == clicks_page()


class _Row:
    """A session stand-in answering the link query with one fixed row (None: no live link)."""

    def __init__(self, row):
        self.row = row

    def execute(self, *_args):
        return self

    def first(self):
        return self.row


def test_in_production_the_lean_answers_carry_hsts_as_flasks_do(db_url):
    application = make_app(db_url if BACKEND == "postgresql" else UNCONNECTED_POSTGRES, **PRODUCTION)
    state = application.extensions["clicks"]
    # Cached links: the answers need no database (on SQLite runs the app has none it can reach).
    state.load(_Row((1, 2, 3, "https://shop.example/p?a=1")), "prodlink1")
    state.load(_Row(None), "prodgone1")
    try:
        for code in ("prodlink1", "prodgone1"):
            lean, behind = lean_and_flask(application, f"/c/{code}", base_url="https://boutique.example")

            assert lean == behind
            assert dict(lean[1])["Strict-Transport-Security"].startswith("max-age=")
    finally:
        with application.app_context():
            from app.extensions import db

            db.engine.dispose()


# --- what goes where --------------------------------------------------------------------


def test_clicks_bots_head_requests_and_unknown_codes_never_enter_flask(app, client, session, world, flask_seen):
    clicks.flush(app)
    code = world.link["code"]

    answers = [
        follow(client, code).status_code,
        follow(client, code, user_agent="Slackbot-LinkExpanding 1.0").status_code,
        follow(client, code, user_agent="").status_code,
        follow(client, code, method="head").status_code,
        client.get("/c/nosuchlinkcode").status_code,
    ]
    clicks.flush(app)

    assert answers == [302, 302, 302, 302, 404]
    assert flask_seen == []
    assert stats(session, world.link["id"]) == (1, 1)  # the browser's GET; not the bot, the empty agent, HEAD


OTHER_REQUESTS = [
    ("GET", "/health", ""),
    ("GET", "/v1/merchants", ""),
    ("GET", "/signin", "next=%2Fpoints"),
    ("GET", "/c/", ""),
    ("HEAD", "/c/", ""),
    ("GET", "/c", ""),
    ("GET", "/cabcdefgh", ""),
    ("GET", "/C/abcdefgh", ""),
    ("POST", "/c/abcdefgh", ""),
    ("OPTIONS", "/c/abcdefgh", ""),
    ("DELETE", "/c/abcdefgh", ""),
    ("GET", "/c/abcdefgh", "sub=%00"),  # app.input_guard refuses it: a 400 page
]


@pytest.mark.parametrize(("method", "path", "query"), OTHER_REQUESTS, ids=repr)
def test_every_other_request_reaches_flask_exactly_as_it_came(app, flask_seen, method, path, query):
    environ = EnvironBuilder(method=method, query_string=query).get_environ()
    environ["PATH_INFO"] = path
    sent = dict(environ)
    statuses: list[str] = []

    body = app(environ, lambda status, headers, exc_info=None: statuses.append(status))
    b"".join(body)
    getattr(body, "close", lambda: None)()

    assert flask_seen == [sent]
    assert int(statuses[0][:3]) < 500


def test_a_form_body_goes_to_flask_and_its_input_guard(app, flask_seen):
    response = app.test_client().get("/c/abcdefgh", data={"field": "a\x00b"})

    assert response.status_code == 400 and response.mimetype == "text/html"
    assert len(flask_seen) == 1


MALFORMED_CODES = [
    "a" * 33,
    "abc",
    "!bad",
    "ab%2Fcd",
    "abcd/efgh",
    "%zz%zz",
    "abcd%00",
    "abcd%0A",
    "%C3%A9" * 5,
    "%FF%FE%FD%FC",
    "abcd.efg",
    "..%2F..%2Fetc",
    "%",
    "a%20b%20c",
    "abcd/",
    "/abcd",
]


@pytest.mark.parametrize("code", MALFORMED_CODES)
def test_a_malformed_code_gets_the_links_html_404_without_a_lookup_and_never_a_500(app, client, code, flask_seen):
    state = app.extensions["clicks"]
    cached_before = len(state._cache)

    response = client.get(f"/c/{code}")

    assert response.status_code == 404, code
    assert response.mimetype == "text/html"
    assert response.get_data() == clicks_page()
    assert response.headers["Cache-Control"] == "no-store"
    assert flask_seen == [] and len(state._cache) == cached_before


@pytest.mark.parametrize("code", ["!bad", "a" * 33, "abcd/efgh", "%zz"])
def test_a_malformed_code_gets_what_the_flask_view_answers(app, code):
    lean, behind = lean_and_flask(app, f"/c/{code}")

    assert lean == behind


def test_a_lookup_that_fails_is_answered_by_flask_and_the_click_counted_once(app, client, session, world, monkeypatch):
    state = app.extensions["clicks"]
    now_s = [4_000_000.0]
    monkeypatch.setattr(state, "clock", lambda: now_s[0])
    load, failures = state.load, []

    def load_failing_once(session_, code):
        if not failures:
            failures.append(code)
            raise RuntimeError("database briefly gone")
        return load(session_, code)

    monkeypatch.setattr(state, "load", load_failing_once)
    clicks.flush(app)

    response = follow(client, world.link["code"])
    clicks.flush(app)

    assert failures == [world.link["code"]]
    assert response.status_code == 302 and "lp_click=" in response.headers["Location"]
    assert stats(session, world.link["id"]) == (1, 1)


def test_behind_a_trusted_proxy_the_forwarded_address_is_the_visitor(db_url, session, world):
    proxied = make_app(db_url, TRUSTED_PROXY_HOPS=1)
    try:
        visitor = proxied.test_client()
        for forwarded_for in ("198.51.100.21", "198.51.100.22", "198.51.100.21"):
            response = visitor.get(
                f"/c/{world.link['code']}",
                headers={"User-Agent": BROWSER, "X-Forwarded-For": forwarded_for},
                environ_base={"REMOTE_ADDR": "10.0.0.1"},
            )
            assert response.status_code == 302
        clicks.flush(proxied)

        assert stats(session, world.link["id"]) == (3, 2)
    finally:
        with proxied.app_context():
            from app.extensions import db

            db.engine.dispose()


# --- watching ---------------------------------------------------------------------------


def test_a_lean_404_writes_the_access_line_with_its_request_id_and_a_click_none(client, world, caplog):
    with caplog.at_level(logging.INFO, logger="app.access"):
        follow(client, world.link["code"])
        client.get("/c/nosuchlinkcode", headers={"X-Request-Id": REQUEST_ID})

    lines = [record for record in caplog.records if record.name == "app.access"]
    assert [(r.getMessage().rsplit(" ", 1)[0], r.request_id, r.status) for r in lines] == [
        ("GET /c/nosuchlinkcode 404", REQUEST_ID, 404)
    ]


def test_a_click_answers_a_fresh_request_id_unless_the_callers_is_sane(client, world):
    fresh = [follow(client, world.link["code"]).headers["X-Request-Id"] for _ in range(2)]
    insane = client.get(f"/c/{world.link['code']}", headers={"X-Request-Id": "has space"})

    assert fresh[0] != fresh[1] and all(len(value) == 32 and int(value, 16) >= 0 for value in fresh)
    assert insane.headers["X-Request-Id"] != "has space" and len(insane.headers["X-Request-Id"]) == 32


def test_the_location_is_the_landing_url_with_the_token_as_the_view_builds_it(app, client, world):
    from app.clicks.views import with_click_token

    location = follow(client, world.link["code"]).headers["Location"]

    assert location == with_click_token(world.link["landing_url"], token_of(location))
    assert urlsplit(location).fragment == "top"
